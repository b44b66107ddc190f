"""The two-part mode of the file compressor: a pruned, quantized transformer sent with the data.

The seed paper's setting (Barth & von Petersenn, 2025): train a byte-level transformer on the
file with DRR or R-L1 (or PMMP, or plainly), prune it (random gradient → TAMADE → random
gradient, then fine-tune with the mask frozen), choose the quantization step by a loss tolerance,
write the weight file (``.mdlw``), DECODE it, and range-code the file with the decoded model.
The description length is the weight file plus the coded data, both real bytes.

**Chunks.** The data is cut into chunks of ``chunk`` bytes (chunk i is
``data[i·C : (i+1)·C]``, the last one shorter) coded independently, each into its own
range-coder payload, so a decoder can work on all chunks at once: it decodes byte j of every
chunk in one batched forward pass, then byte j + 1, and so on.

**What predicts byte j of a chunk.** The first byte of every chunk is coded with the uniform
distribution (8 bits; there is no start token in a byte vocabulary, and a chunk of thousands of
bytes makes those 8 bits negligible). Byte j ≥ 1 is predicted by the model from a window of at
most ``context`` = T bytes of the same chunk ending at byte j − 1. Windows start every
``stride`` = S bytes: window w holds bytes w·S … w·S + T − 1 and predicts bytes
w·S + T − S + 1 … w·S + T from its last S positions (window 0 predicts bytes 1 … T from all of
its positions). So byte j sees between T − S + 1 and T bytes of context once the chunk is T bytes
in. S = T codes every byte exactly as the training windows score it (the tiling of
:func:`mdlkit.data.sequence_windows`); S = 1 is the sliding window (always the previous
min(j, T) bytes). The S bytes a window predicts are decoded one at a time with cached keys and
values (:func:`_forward_cached`): the first T − S positions of a window are run in one batched
pass ("prefill"), then one position per decoded byte, so the cost per byte is about
(T − S)/S + 1 positions of the model, not T.

**Bit-identical probabilities.** The encoder runs the decoder's loop (:func:`_predictions`):
the same groups of chunks (at most ``batch`` per forward pass, a short last chunk padded with
zeros whose predictions are never used), the same shapes at every step, float32 weights decoded
from the weight file, eval mode, ``torch.no_grad``, ONE torch thread (set inside the loops and
restored afterwards; the settings record it). Logits become probabilities as every head makes
them (:meth:`mdlkit.heads.CategoricalHead.distribution`: float32 logits → float64 → softmax),
and the range coder quantizes those float64 rows with constriction's ``Categorical``
(``perfect=False``) on both sides. What remains machine-dependent is the float32 arithmetic of
torch's CPU kernels: decode with the torch build (and CPU family) that encoded.

>>> settings = TwoPartSettings(
...     spec={"kind": "byte_transformer", "kwargs": {"context": 8, "d_model": 8, "n_layers": 1,
...           "n_heads": 2}}, context=8, chunk=64, stride=4)
>>> TwoPartSettings.from_dict(settings.to_dict()) == settings
True
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.bits import LN2
from mdlkit.coding.architecture import shapes
from mdlkit.coding.distributions import Categorical
from mdlkit.coding.model_size import paper_model_bits
from mdlkit.coding.streams import Decoder, Encoder
from mdlkit.coding.weights import decode_model, encode_model
from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, evaluate
from mdlkit.models.sequence import Block, ByteTransformer
from mdlkit.models.spec import ModelSpec
from mdlkit.regularizers.registry import METHODS
from mdlkit.stopping import LossSaturation
from mdlkit.training import (
    PipelineConfig,
    PruneConfig,
    TrainConfig,
    byte_model_setup,
    byte_regularizer,
    codec_bits_per_nonzero,
    description_length_alpha,
    precision_wrapper,
    shortest_model,
)
from mdlkit.training.distributed import DataParallel

__all__ = [
    "SETTINGS_VERSION",
    "TwoPartCode",
    "TwoPartPlan",
    "TwoPartSettings",
    "decode_two_part",
    "encode_two_part",
    "fit_two_part",
    "plan_two_part",
]

SETTINGS_VERSION = 1
VOCAB = 256
_HEAD = CategoricalHead()
_UNIFORM_ROW = np.full(VOCAB, 1.0 / VOCAB)

ProbabilityHook = Callable[[int, int, np.ndarray], None]
"""``hook(group, j, probs)``: the (chunks of the group, 256) float64 rows that code byte j of
every chunk of group ``group`` (rows of chunks shorter than j + 1 are computed but unused)."""


# Settings and result ----------------------------------------------------------------------------


def _int_field(d: dict[str, Any], name: str, low: int, high: int | None = None) -> int:
    value = d.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MdlkitError(f"two-part settings: {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise MdlkitError(f"two-part settings: {name} must be {bound}, got {value}")
    return value


@dataclass(frozen=True)
class TwoPartSettings:
    """Everything the decoder needs besides the weight file and the payloads (JSON-able).

    Attributes:
        spec: ``ModelSpec.to_dict()`` of the model (a ``byte_transformer``); the weight file
            carries it too, and the two must agree.
        context: T, the longest window of bytes the model sees (≤ the model's context).
        chunk: bytes per independently coded chunk.
        stride: S in [1, T], bytes between window starts (see the module docstring).
        batch: chunks per forward pass (chunk groups are coded one after another).
        dtype: the model's float type; only ``"float32"``.
        threads: torch threads of the coding loops; only 1.
        first: how the first byte of a chunk is coded; only ``"uniform"`` (8 bits).
        version: of this settings layout.
    """

    spec: dict[str, Any]
    context: int
    chunk: int
    stride: int
    batch: int = 128
    dtype: str = "float32"
    threads: int = 1
    first: str = "uniform"
    version: int = SETTINGS_VERSION

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`MdlkitError` unless a decoder can work with these settings."""
        d = asdict(self)
        _int_field(d, "version", SETTINGS_VERSION, SETTINGS_VERSION)
        context = _int_field(d, "context", 1)
        _int_field(d, "chunk", 1)
        _int_field(d, "stride", 1, context)
        _int_field(d, "batch", 1)
        _int_field(d, "threads", 1, 1)
        if self.dtype != "float32":
            raise MdlkitError(f"two-part settings: dtype must be 'float32', got {self.dtype!r}")
        if self.first != "uniform":
            raise MdlkitError(f"two-part settings: first must be 'uniform', got {self.first!r}")
        spec = self.model_spec()
        if spec.kind != "byte_transformer":
            raise MdlkitError(
                f"two-part settings: the model must be a byte_transformer, got {spec.kind!r}"
            )
        model_context = spec.kwargs.get("context", 64)
        if not isinstance(model_context, int) or context > model_context:
            raise MdlkitError(
                f"two-part settings: context {context} exceeds the model's ({model_context!r})"
            )
        if spec.kwargs.get("vocab_size", VOCAB) != VOCAB:
            raise MdlkitError("two-part settings: the model must predict 256 byte values")

    def model_spec(self) -> ModelSpec:
        if (
            not isinstance(self.spec, dict)
            or not isinstance(self.spec.get("kind"), str)
            or not isinstance(self.spec.get("kwargs", {}), dict)
        ):
            raise MdlkitError("two-part settings: spec must be {'kind': str, 'kwargs': dict}")
        return ModelSpec.from_dict(self.spec)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TwoPartSettings:
        """Settings from :meth:`to_dict`'s form; anything missing, unknown or out of range is a
        :class:`MdlkitError`."""
        if not isinstance(d, dict):
            raise MdlkitError(f"two-part settings must be a JSON object, got {type(d).__name__}")
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - names)
        if unknown:
            raise MdlkitError(f"two-part settings: unknown fields {', '.join(unknown)}")
        missing = sorted(n for n in ("spec", "context", "chunk", "stride") if n not in d)
        if missing:
            raise MdlkitError(f"two-part settings: missing fields {', '.join(missing)}")
        try:
            return cls(**d)
        except MdlkitError:
            raise
        except Exception as error:  # a wrong type deep inside: the same bad input to the user
            raise MdlkitError(f"two-part settings are invalid: {error}") from None


@dataclass(frozen=True)
class TwoPartCode:
    """A file as a two-part code: settings, the weight file, one payload per chunk.

    Sizes: ``model_bits`` = 8 · len(model) (the weight file), ``data_bits`` = 8 · Σ len(chunk)
    (32 per range-coder word), ``total_bits`` their sum — the settings' few bytes are the
    archive's. ``ideal_bits`` is Σ −log2 p of the data under the decoded model (float64),
    ``paper_bits`` the DRR paper's convention: 32 bits per nonzero parameter (no index cost)
    plus the coded data. ``test_bits_per_byte`` is the decoded model's mean −log2 p on the
    held-out tail windows of training (None when no model was trained); ``report`` holds the
    training figures (method, α, epochs, step, seconds).
    """

    settings: TwoPartSettings
    model: bytes
    chunks: list[bytes]
    ideal_bits: float
    length: int
    n_params: int
    nonzero: int
    step: float
    test_bits_per_byte: float | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def model_bits(self) -> int:
        return 8 * len(self.model)

    @property
    def data_bits(self) -> int:
        return 8 * sum(len(c) for c in self.chunks)

    @property
    def total_bits(self) -> int:
        return self.model_bits + self.data_bits

    @property
    def paper_bits(self) -> int:
        return paper_model_bits(self.nonzero) + self.data_bits

    def summary(self) -> dict[str, Any]:
        """Plain values for a results file."""
        n = max(self.length, 1)
        return {
            "length": self.length,
            "n_params": self.n_params,
            "nonzero": self.nonzero,
            "step": self.step,
            "model_bytes": len(self.model),
            "model_bits": self.model_bits,
            "data_bits": self.data_bits,
            "data_ideal_bits": self.ideal_bits,
            "total_bits": self.total_bits,
            "paper_bits": self.paper_bits,
            "bits_per_byte": self.total_bits / n,
            "data_bits_per_byte": self.data_bits / n,
            "test_bits_per_byte": self.test_bits_per_byte,
            "chunks": len(self.chunks),
            "settings": self.settings.to_dict(),
            **self.report,
        }


# The shared prediction loop ---------------------------------------------------------------------


def _blocks(model: ByteTransformer) -> list[Block]:
    blocks = list(model.blocks)
    assert all(isinstance(b, Block) for b in blocks)
    return blocks  # type: ignore[return-value]


def _new_cache(model: ByteTransformer, batch: int, context: int) -> list[torch.Tensor]:
    """Keys and values of every block: a (2, batch, heads, context, d_head) tensor each."""
    heads = _blocks(model)[0].attn.n_heads
    d_model = model.embed.embedding_dim
    return [torch.zeros(2, batch, heads, context, d_model // heads) for _ in model.blocks]


def _forward_cached(
    model: ByteTransformer, x: torch.Tensor, position: int, cache: list[torch.Tensor]
) -> torch.Tensor:
    """Logits (B, 256) of the LAST of the tokens ``x`` (B, t), which sit at window positions
    ``position`` … ``position + t − 1``; keys and values of earlier positions are read from
    ``cache`` and those of ``x`` written into it.

    Either a prefill from the window's start (``position == 0``, causal attention among the t
    tokens) or one new token (t == 1, attending to every cached position ≤ its own). Same
    modules and the same attention kernel as :meth:`ByteTransformer.forward`; it agrees with it
    up to float rounding (the shapes differ).
    """
    batch, time = x.shape
    end = position + time
    if model.positions is not None:
        where = model.positions.weight[position:end]
    else:
        assert model.sinusoids is not None
        where = model.sinusoids[position:end]
    h = model.embed(x) + where
    d_model = h.shape[-1]
    for block, kv in zip(_blocks(model), cache, strict=True):
        n_heads = block.attn.n_heads
        q, k, v = (
            t.view(batch, time, n_heads, d_model // n_heads).transpose(1, 2)
            for t in block.attn.qkv(block.ln1(h)).split(d_model, dim=2)
        )
        kv[0, :, :, position:end] = k
        kv[1, :, :, position:end] = v
        if position == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, kv[0, :, :, :end], kv[1, :, :, :end])
        h = h + block.attn.out(y.transpose(1, 2).reshape(batch, time, d_model))
        h = h + block.mlp(block.ln2(h))
    return model.head(model.norm(h[:, -1]))


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """float32 logits (B, 256) → float64 probabilities, as every categorical head makes them."""
    return _HEAD.distribution(logits).probs


def _predictions(
    model: ByteTransformer, settings: TwoPartSettings, n_chunks: int, chunk_length: int
) -> Generator[np.ndarray, np.ndarray, None]:
    """The coding distributions of one group of ``n_chunks`` chunks, byte by byte.

    Yields the (n_chunks, 256) float64 rows for byte j = 0, 1, … ``chunk_length − 1`` of every
    chunk and must be sent the n_chunks bytes at position j (0 for a chunk that has ended)
    before it computes position j + 1. Encoder and decoder both drive exactly this generator.
    """
    context, stride = settings.context, settings.stride
    tokens = torch.zeros(n_chunks, chunk_length, dtype=torch.int64)
    cache = _new_cache(model, n_chunks, context)
    symbols = yield np.tile(_UNIFORM_ROW, (n_chunks, 1))  # byte 0: uniform
    tokens[:, 0] = torch.from_numpy(np.asarray(symbols, dtype=np.int64))
    j = 1  # the next byte to predict; window w predicts bytes up to w·S + T
    window_start = 0
    while j < chunk_length:
        # Window positions before ``first`` are context only; from it on, each position's
        # logits predict the byte after it.
        first = 0 if window_start == 0 else context - stride
        if first:
            _forward_cached(model, tokens[:, window_start : window_start + first], 0, cache)
        for position in range(first, context):
            if j >= chunk_length:
                break
            token = tokens[:, window_start + position : window_start + position + 1]
            logits = _forward_cached(model, token, position, cache)
            symbols = yield _probabilities(logits)
            tokens[:, j] = torch.from_numpy(np.asarray(symbols, dtype=np.int64))
            j += 1
        window_start += stride


def _groups(length: int, settings: TwoPartSettings) -> list[list[tuple[int, int]]]:
    """Chunk (start, stop) ranges of ``length`` bytes, in groups of at most ``batch``."""
    starts = range(0, length, settings.chunk)
    ranges = [(s, min(s + settings.chunk, length)) for s in starts]
    return [ranges[g : g + settings.batch] for g in range(0, len(ranges), settings.batch)]


class _GroupEncoder:
    """The range coders of one group of chunks. Rows are buffered per chunk and coded a block
    at a time: the same bits as one call per byte (constriction's queue is sequential), with
    far fewer calls."""

    def __init__(self, table: np.ndarray, lengths: list[int], block: int) -> None:
        self.table, self.lengths, self.block = table, lengths, block
        self.encoders = [Encoder() for _ in lengths]
        self.rows: list[np.ndarray] = []  # (chunks, 256) per position since the last flush
        self.coded = 0  # positions coded so far

    def add(self, probs: np.ndarray) -> None:
        self.rows.append(probs)
        if len(self.rows) >= self.block:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows = np.stack(self.rows, axis=1)  # (chunks, positions, 256)
        first, stop = self.coded, self.coded + len(self.rows)
        for c, (encoder, length) in enumerate(zip(self.encoders, self.lengths, strict=True)):
            end = min(stop, length)  # a short chunk's padding is never coded
            if end > first:
                encoder.encode(self.table[c, first:end], Categorical(rows[c, : end - first]))
        self.rows, self.coded = [], stop

    def finish(self) -> tuple[list[bytes], float]:
        self.flush()
        streams = [encoder.finish() for encoder in self.encoders]
        payloads = [stream.words.astype("<u4").tobytes() for stream in streams]
        return payloads, sum(stream.ideal_bits for stream in streams)


@torch.no_grad()
def _encode_chunks(
    model: ByteTransformer,
    settings: TwoPartSettings,
    data: bytes,
    probabilities: ProbabilityHook | None = None,
) -> tuple[list[bytes], float]:
    """Range-code ``data`` chunk by chunk with ``model``; the payloads and Σ −log2 p."""
    tokens = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    payloads: list[bytes] = []
    ideal = 0.0
    was_training = model.training
    model.eval()
    try:
        with torch_threads(1):
            for g, group in enumerate(_groups(len(data), settings)):
                lengths = [stop - start for start, stop in group]
                longest = max(lengths)
                # (chunk, position) byte values, zero past a short chunk's end: what the
                # decoder feeds back for a chunk that has ended
                table = np.zeros((len(group), longest), dtype=np.int64)
                for c, (start, stop) in enumerate(group):
                    table[c, : stop - start] = tokens[start:stop]
                writer = _GroupEncoder(table, lengths, block=256)
                loop = _predictions(model, settings, len(group), longest)
                probs = next(loop)
                for j in range(longest):
                    if probabilities is not None:
                        probabilities(g, j, probs)
                    writer.add(probs)
                    if j + 1 < longest:
                        probs = loop.send(table[:, j])
                loop.close()
                group_payloads, group_ideal = writer.finish()
                payloads += group_payloads
                ideal += group_ideal
    finally:
        model.train(was_training)
    return payloads, ideal


def _load_model(settings: TwoPartSettings, model: bytes) -> ByteTransformer:
    decoded = decode_model(model)
    if not isinstance(decoded, ByteTransformer) or shapes(decoded) != shapes(settings.model_spec()):
        raise MdlkitError("two-part code: the weight file holds another model than its settings")
    return decoded


def decode_two_part(
    settings: TwoPartSettings,
    model: bytes,
    chunks: list[bytes],
    length: int,
    *,
    probabilities: ProbabilityHook | None = None,
) -> bytes:
    """The ``length`` original bytes from the weight file and the chunk payloads.

    ``probabilities`` (debugging) sees every row used, as in :func:`encode_two_part`. Damage
    that the weight file's checksum or the payloads' shapes reveal raises :class:`MdlkitError`;
    a payload damaged inside can decode into other bytes, which only a checksum of the original
    (the archive's) catches.
    """
    if not isinstance(settings, TwoPartSettings):
        raise MdlkitError("decode_two_part needs TwoPartSettings (use TwoPartSettings.from_dict)")
    settings.check()
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise MdlkitError(f"two-part code: the length must be an integer >= 0, got {length!r}")
    groups = _groups(length, settings)
    n_chunks = sum(len(g) for g in groups)
    if len(chunks) != n_chunks:
        raise MdlkitError(
            f"two-part code: {length} bytes in chunks of {settings.chunk} need {n_chunks} "
            f"payloads, got {len(chunks)}"
        )
    words: list[np.ndarray] = []
    for i, payload in enumerate(chunks):
        if not isinstance(payload, bytes | bytearray | memoryview) or len(payload) % 4:
            raise MdlkitError(f"two-part code: payload {i} is not whole 32-bit words")
        words.append(np.frombuffer(bytes(payload), dtype="<u4").astype(np.uint32))
    net = _load_model(settings, model)
    out = np.zeros(length, dtype=np.uint8)
    net.eval()
    index = 0
    with torch.no_grad(), torch_threads(1):
        for g, group in enumerate(groups):
            longest = max(stop - start for start, stop in group)
            decoders = [Decoder(words[index + c]) for c in range(len(group))]
            loop = _predictions(net, settings, len(group), longest)
            probs = next(loop)
            for j in range(longest):
                if probabilities is not None:
                    probabilities(g, j, probs)
                symbols = np.zeros(len(group), dtype=np.int64)
                for c, (start, stop) in enumerate(group):
                    if j < stop - start:
                        try:
                            symbol = decoders[c].decode(Categorical(probs[c : c + 1]))
                        except MdlkitError:
                            raise
                        except Exception:  # constriction on a garbled payload
                            raise MdlkitError(
                                f"two-part code: payload {index + c} does not decode"
                            ) from None
                        symbols[c] = symbol[0]
                        out[start + j] = symbol[0]
                if j + 1 < longest:
                    probs = loop.send(symbols)
            loop.close()
            index += len(group)
    return out.tobytes()


# Encoding a trained model -----------------------------------------------------------------------


def default_chunk(length: int) -> int:
    """Bytes per chunk: a power of two giving a file about 128 chunks (so one forward pass
    serves many bytes), at least 4 KiB and at most 64 KiB. A chunk costs a uniform first byte
    and a cold start of about ``context`` bytes: some 30 bits, negligible at this size."""
    target = max(1, -(-length // 128))
    return int(min(65536, max(4096, 2 ** math.ceil(math.log2(target)))))


def encode_two_part(
    model: nn.Module,
    spec: ModelSpec,
    step: float,
    data: bytes,
    *,
    stride: int | None = None,
    context: int | None = None,
    chunk: int | None = None,
    batch: int = 128,
    probabilities: ProbabilityHook | None = None,
) -> TwoPartCode:
    """Write ``model`` quantized at ``step`` into a weight file, decode it, and code ``data``
    with the DECODED model (see the module docstring). ``context`` defaults to the model's,
    ``stride`` to half of it, ``chunk`` to :func:`default_chunk`."""
    data = bytes(data)
    if spec.kind != "byte_transformer":
        raise MdlkitError(f"the two-part mode codes with a byte_transformer, got {spec.kind!r}")
    context = int(spec.kwargs.get("context", 64)) if context is None else context
    settings = TwoPartSettings(
        spec=spec.to_dict(),
        context=context,
        chunk=default_chunk(len(data)) if chunk is None else chunk,
        stride=max(1, context // 2) if stride is None else stride,
        batch=batch,
    )
    encoded = encode_model(model, spec, step)
    decoded = _load_model(settings, encoded.data)
    payloads, ideal = _encode_chunks(decoded, settings, data, probabilities)
    return TwoPartCode(
        settings=settings,
        model=encoded.data,
        chunks=payloads,
        ideal_bits=ideal,
        length=len(data),
        n_params=encoded.total,
        nonzero=encoded.nonzero,
        step=encoded.step,
    )


# Choosing and training the model ----------------------------------------------------------------


@dataclass(frozen=True)
class _Level:
    d_model: int
    n_layers: int
    context: int
    tokens: int  # training budget: bytes seen in the regularized phase (epochs × train bytes)
    max_epochs: int


# Sized on this project's 2-core machine (one training thread): level 1 trains on 100 KB in
# under a minute.
_LEVELS = {
    1: _Level(d_model=64, n_layers=2, context=64, tokens=1_500_000, max_epochs=16),
    2: _Level(d_model=96, n_layers=2, context=128, tokens=4_000_000, max_epochs=24),
    3: _Level(d_model=128, n_layers=3, context=128, tokens=12_000_000, max_epochs=40),
}
_MIN_TRAIN = 2048  # below this many bytes no model is trained (an all-zero model: uniform)


@dataclass(frozen=True)
class TwoPartPlan:
    """How the model of a two-part code is made: its size, training, pruning and coding.

    ``alpha`` is the regularization strength per byte (``None``: :func:`default_alpha` for the
    method, the number of training bytes and ``bits_per_nonzero`` = c, the weight codec's bits
    per nonzero weight; ``None`` there measures c on the initialised model, as ``fit`` does).
    c = 12 is the default because on this transformer the measured c (7.8 bits at init) gives
    longer archives: 39,493 vs 38,805 bytes on the 100 KB tinyshakespeare prefix at level 1,
    since DRR's penalty 1 − e^(−β|θ|) is far below 1 for weights of a transformer's scale (an
    archive pays ~9.8 bits per nonzero weight, and the surrogate needs more). ``prune_delta`` is
    TAMADE's relative loss tolerance. The step is the one of the shortest two-part code
    (``quant_mode="codelength"``) or the largest within ``quant_delta`` of the validation loss
    (``"tolerance"``); ``grid_epochs`` > 0 fine-tunes on its grid afterwards (off by default:
    after the code-length step it lengthened the same archive by 238 bytes). ``threads`` is the
    torch thread count of training (one: reproducible, and fastest on a busy 2-core machine);
    coding always uses one. ``train=False`` sends an all-zero model (every byte at 8 bits), for
    inputs too small to learn from.
    """

    d_model: int
    n_layers: int
    n_heads: int
    context: int
    epochs: int
    finetune_epochs: int
    stride: int
    chunk: int
    batch_size: int = 8
    lr: float = 4e-3
    alpha: float | None = None
    beta: float = 5.0
    warmup_epochs: int = 1
    val_fraction: float = 0.05
    test_fraction: float = 0.02
    bits_per_nonzero: float | None = 12.0
    prune_delta: float = 0.01
    quant_mode: Literal["codelength", "tolerance"] = "codelength"
    quant_delta: float = 0.005
    grid_epochs: int = 0
    threads: int = 1
    train: bool = True

    def spec(self) -> ModelSpec:
        return ModelSpec(
            "byte_transformer",
            {
                "context": self.context,
                "d_model": self.d_model,
                "n_layers": self.n_layers,
                "n_heads": self.n_heads,
            },
        )


def plan_two_part(length: int, level: int = 2) -> TwoPartPlan:
    """The plan for ``length`` bytes at ``level`` (1 fast … 3 slower and better).

    The level sets width, depth, context and a training budget in bytes seen (so a small file
    gets more epochs, up to a cap); a small file gets a narrower model (d_model halved until the
    parameters are at most twice the file's bytes: pruning removes most of them) and a shorter
    context; below 2 KiB no model is trained.

    >>> plan_two_part(100_000, level=1).d_model, plan_two_part(3_000, level=1).d_model
    (64, 16)
    >>> plan_two_part(100_000, level=1).epochs
    16
    """
    if level not in _LEVELS:
        raise MdlkitError(f"level must be one of {sorted(_LEVELS)}, got {level!r}")
    if length < 0:
        raise MdlkitError(f"length must be >= 0, got {length}")
    lv = _LEVELS[level]
    chunk = default_chunk(length)
    if length < _MIN_TRAIN:
        return TwoPartPlan(16, 1, 1, 16, 1, 1, stride=16, chunk=chunk, train=False)
    d_model, context = lv.d_model, lv.context
    # ~12·d² parameters per layer plus 2·256·d for the embedding and the output layer
    while d_model > 16 and lv.n_layers * 12 * d_model**2 + 512 * d_model > 2 * length:
        d_model //= 2
    # the validation range must hold a few windows
    while context > 16 and 0.05 * length < 4 * (context + 1):
        context //= 2
    epochs = max(1, min(lv.max_epochs, round(lv.tokens / (0.93 * length))))
    return TwoPartPlan(
        d_model=d_model,
        n_layers=lv.n_layers,
        n_heads=max(1, min(4, d_model // 16)),
        context=context,
        epochs=epochs,
        finetune_epochs=max(1, epochs // 5),
        stride=context // 2,
        chunk=chunk,
    )


def default_alpha(
    method: str, n_train: int, beta: float = 5.0, bits_per_nonzero: float = 12.0
) -> float:
    """α per byte from the description length (:func:`mdlkit.training.description_length_alpha`):
    a nonzero weight costs c = ``bits_per_nonzero`` bits in the weight file, so penalising it by
    c · ln 2 nats over ``n_train`` bytes balances model and data bits. DRR's penalty per weight
    is at most 1 and PMMP's is γ ≤ 1; R-L1 charges |θ| (≈ 0.05 for a typical weight here), so it
    gets β times DRR's α (the two agree near θ = 0)."""
    base = description_length_alpha(max(n_train, 1), bits_per_nonzero)
    return {"none": 0.0, "drr": base, "pmmp": base, "l1": beta * base}[method]


def _zero_model(spec: ModelSpec) -> nn.Module:
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model


def _pipeline(plan: TwoPartPlan, method: str, seed: int) -> PipelineConfig:
    """The phases of :func:`mdlkit.training.shortest_model` for ``plan``: no pruning for
    ``"none"``; fine-tuning (pruned, then on the grid) at half the learning rate."""

    def phase(epochs: int, lr: float, seed: int, keep_best: bool = True) -> TrainConfig:
        return TrainConfig(
            max_epochs=epochs, batch_size=plan.batch_size, lr=lr, seed=seed,
            stopping=LossSaturation(), keep_best=keep_best,
        )  # fmt: skip

    return PipelineConfig(
        train=phase(plan.epochs, plan.lr, seed),
        finetune=phase(plan.finetune_epochs, plan.lr / 2, seed + 1) if method != "none" else None,
        prune=PruneConfig(delta=plan.prune_delta, seed=seed),
        quant_mode=plan.quant_mode,
        quant_tolerance=plan.quant_delta,
        grid=phase(plan.grid_epochs, plan.lr / 2, seed + 2, keep_best=False)
        if plan.grid_epochs > 0
        else None,
    )


def _train(
    data: bytes,
    plan: TwoPartPlan,
    method: str,
    seed: int,
    progress: bool,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    parallel: DataParallel | None = None,
) -> tuple[nn.Module, float, Any, dict[str, Any]]:
    """The one pipeline (:func:`mdlkit.training.shortest_model`) on a byte transformer: the
    model before quantization, the step of the shortest code, the splits and the figures."""
    spec = plan.spec()
    where = torch.device(device) if device is not None else None
    wrap = precision_wrapper(precision, where or (parallel.device if parallel else None))
    model, splits = byte_model_setup(
        data, spec, seed=seed, context=plan.context, val_fraction=plan.val_fraction,
        test_fraction=plan.test_fraction,
    )  # fmt: skip
    n_train = round(len(data) * (1 - plan.val_fraction - plan.test_fraction))
    bits_per_nonzero = plan.bits_per_nonzero
    if plan.alpha is None and bits_per_nonzero is None:
        # c measured on the initialised model, before training draws a random number
        bits_per_nonzero = codec_bits_per_nonzero(model, spec)
    alpha = (
        plan.alpha
        if plan.alpha is not None
        else default_alpha(method, n_train, plan.beta, bits_per_nonzero or 12.0)
    )
    warmup_epochs = min(plan.warmup_epochs, plan.epochs - 1)
    steps_per_epoch = -(-len(splits.train) // plan.batch_size)
    regularizer = byte_regularizer(
        model, method, alpha, beta=plan.beta, warmup_steps=warmup_epochs * steps_per_epoch
    )
    result = shortest_model(
        model, spec, splits, CategoricalHead(), regularizer, _pipeline(plan, method, seed),
        progress=progress, device=where, parallel=parallel, wrap_model=wrap,
    )  # fmt: skip
    first = result.phases["regularized" if regularizer is not None else "plain"]
    report: dict[str, Any] = {
        "alpha": alpha,
        "codec_bits_per_nonzero": bits_per_nonzero,
        "epochs": len(first.history),
        "regularized_val_bits_per_byte": first.history[first.best_epoch].val_loss / LN2,
        "step_bits": result.step_bits,
    }
    if result.pruning is not None:
        report.update(
            nonzero_regularized=result.pruning.nonzero_before,
            nonzero_pruned=result.pruning.nonzero_after,
            tamade_threshold=result.pruning.tamade.threshold,
            finetune_epochs=len(result.phases["finetuned"].history),
        )
    if "grid" in result.phases:
        report["grid_epochs"] = len(result.phases["grid"].history)
    return model, result.step, splits, report


def fit_two_part(
    data: bytes,
    *,
    level: int = 2,
    method: str = "drr",
    seed: int = 0,
    progress: bool = False,
    plan: TwoPartPlan | None = None,
    probabilities: ProbabilityHook | None = None,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    parallel: DataParallel | None = None,
) -> TwoPartCode:
    """Train, prune, quantize and encode a transformer for ``data``, then code ``data`` with the
    decoded model (see the module docstring).

    Args:
        data: the file's bytes (any length, also 0).
        level: 1 fast … 3 slower and better (:func:`plan_two_part`).
        method: ``"drr"``, ``"l1"`` (R-L1), ``"pmmp"`` or ``"none"`` (no penalty and no pruning,
            only quantization).
        seed: seeds the initial weights and the batch order.
        progress: progress bars for the training phases.
        plan: overrides the level's plan.
        probabilities: a debugging hook that sees every probability row used (see
            :data:`ProbabilityHook`).
        device, precision, parallel: where and how the transformer trains (see
            :func:`mdlkit.training.train_byte_model`); coding runs on the CPU in float32 always.
            In a data-parallel run pruning is rank 0's (broadcast); the step choice and the
            encoding are deterministic and run on every rank, and the caller's rank 0 writes.

    The result's ``report`` holds the plan, α, epochs, nonzero counts after each phase and the
    seconds of training and of encoding.
    """
    if method not in METHODS:
        raise MdlkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    data = bytes(data)
    plan = plan if plan is not None else plan_two_part(len(data), level)
    started = time.perf_counter()
    report: dict[str, Any] = {"method": method, "level": level, "plan": asdict(plan)}
    splits = None
    if plan.train:
        with torch_threads(plan.threads):
            model, step, splits, figures = _train(
                data, plan, method, seed, progress, device, precision, parallel
            )
        report.update(figures)
    else:
        model, step = _zero_model(plan.spec()), 1.0
        report["method"] = "none (too little data: an all-zero model, uniform bytes)"
    report["train_seconds"] = time.perf_counter() - started
    coding_started = time.perf_counter()
    code = encode_two_part(
        model,
        plan.spec(),
        step,
        data,
        stride=plan.stride,
        context=plan.context,
        chunk=plan.chunk,
        probabilities=probabilities,
    )
    report["encode_seconds"] = time.perf_counter() - coding_started
    test_bits = None
    if splits is not None:
        with torch_threads(plan.threads):
            decoded = decode_model(code.model)
            test_bits = evaluate(decoded, splits.test, CategoricalHead()).loss / LN2
    return dataclasses.replace(code, test_bits_per_byte=test_bits, report=report)
