"""The chunk codec of the two-part mode: a file range-coded, chunk by chunk, with a byte model.

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
values (:meth:`~mdlkit.models.sequence.ByteTransformer.forward_cached`): the first T − S
positions of a window are run in one batched pass ("prefill"), then one position per decoded
byte, so the cost per byte is about (T − S)/S + 1 positions of the model, not T.

**Bit-identical probabilities.** The encoder runs the decoder's loop (:func:`_predictions`):
the same groups of chunks (at most ``batch`` per forward pass, a short last chunk padded with
zeros whose predictions are never used), the same shapes at every step, float32 weights decoded
from the weight file, eval mode, ``torch.no_grad``, ONE torch thread (set inside the loops and
restored afterwards; the settings record it). Logits become probabilities as every head makes
them (:meth:`mdlkit.heads.CategoricalHead.distribution`: float32 logits → float64 → softmax),
and the range coder quantizes those float64 rows with constriction's ``Categorical``
(``perfect=False``) on both sides. What remains machine-dependent is the float32 arithmetic of
torch's CPU kernels: decode with the torch build (and CPU family) that encoded.

>>> default_chunk(1_000_000)
8192
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import numpy as np
import torch
from torch import nn

from mdlkit.coding.architecture import shapes
from mdlkit.coding.distributions import Categorical
from mdlkit.coding.streams import Decoder, Encoder
from mdlkit.coding.weights import decode_model, encode_model
from mdlkit.compression.two_part_code import VOCAB, TwoPartCode, TwoPartSettings
from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead
from mdlkit.models.sequence import ByteTransformer
from mdlkit.models.spec import ModelSpec

__all__ = ["ProbabilityHook", "decode_two_part", "default_chunk", "encode_two_part"]

_HEAD = CategoricalHead()
_UNIFORM_ROW = np.full(VOCAB, 1.0 / VOCAB)

ProbabilityHook = Callable[[int, int, np.ndarray], None]
"""``hook(group, j, probs)``: the (chunks of the group, 256) float64 rows that code byte j of
every chunk of group ``group`` (rows of chunks shorter than j + 1 are computed but unused)."""


# The shared prediction loop ---------------------------------------------------------------------


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
    cache = model.new_cache(n_chunks, context)
    symbols = yield np.tile(_UNIFORM_ROW, (n_chunks, 1))  # byte 0: uniform
    tokens[:, 0] = torch.from_numpy(np.asarray(symbols, dtype=np.int64))
    j = 1  # the next byte to predict; window w predicts bytes up to w·S + T
    window_start = 0
    while j < chunk_length:
        # Window positions before ``first`` are context only; from it on, each position's
        # logits predict the byte after it.
        first = 0 if window_start == 0 else context - stride
        if first:
            model.forward_cached(tokens[:, window_start : window_start + first], 0, cache)
        for position in range(first, context):
            if j >= chunk_length:
                break
            token = tokens[:, window_start + position : window_start + position + 1]
            logits = model.forward_cached(token, position, cache)
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
