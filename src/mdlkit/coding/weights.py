"""The weight file (``.mdlw``): a model's architecture, then its pruned, quantized tensors.

Every parameter value is quantized to a global grid ``q · Δ`` (q an integer, Δ the step, chosen
by code length on the grid Δ = 2^(e/4) (:func:`~mdlkit.pruning.cheapest_step`) or by a loss
tolerance (:func:`~mdlkit.pruning.choose_step`)). Entries whose q is 0 are pruned. The tensors
of q's are coded by the sparse tensor coder (:mod:`mdlkit.coding.tensor_coder`: per tensor its
counts under uniform distributions, mask flags under Bernoulli models, nonzero values under an
adaptive model) in one constriction range-coder stream. A file decodes into a working model by
itself, and a damaged one is caught.

File layout, format 3, on the :mod:`~mdlkit.coding.container` ("varint": unsigned LEB128), with
the part of :attr:`EncodedModel.length` each field counts in:

1. ``b"MDLW"`` and the version byte 3 — file overhead;
2. the architecture (below) — ``architecture``;
3. N, the number of nonzero parameters (varint) — ``header``;
4. only if N > 0, the step Δ: a varint v, where v ≥ 1 means Δ = 2^(e/4) rounded to float32
   (:func:`~mdlkit.pruning.grid_step`) with v = 1 + zigzag(e) (zigzag(e) = 2e for e ≥ 0,
   −2e − 1 for e < 0; one byte for e in [−63, 63]), and v = 0 is followed by Δ as f32 LE, for
   a step on no such grid (a loss tolerance's) — ``header``;
5. CRC32 (u32 LE) of the architecture bytes and then of the decoded float32 weights — file
   overhead;
6. only if N > 0: the payload, to the end of the file — ``payload``: the range-coder stream of
   every tensor in turn, its counts first (:mod:`mdlkit.coding.tensors`; from nothing, when
   they are implied, to about 40 bits for a large matrix), as big-endian u32 words cut to the
   shortest byte string that the decoder, padding it with zero bytes to whole words, decodes
   into the same tensors (checked by decoding it when the file is written).

So N = 0 ends the description (the header is that one byte), and a model on the step grid
with fewer than 128 nonzero parameters has a header of two bytes.

The architecture (:mod:`mdlkit.coding.architecture`) is the model kind and EVERY keyword argument
of its builder, defaults filled in, each coded under its type hint: ``mlp`` with sizes [64, 32,
10] and activation ``"relu"`` takes 6 bytes, ``00 03 40 20 0a 01``, where a compact JSON spec
takes 64 (and a length byte); with every parameter pruned that model's whole description is 7
bytes (56 bits), its file 16 bytes. A spec decodes into its canonical form
(:func:`~mdlkit.coding.architecture.canonical_spec`).

Description length versus file size: :attr:`EncodedModel.length` is what a receiver needs to
rebuild the model; the magic bytes, version byte and CRC32 only identify the file and check its
integrity, so they are :attr:`EncodedModel.overhead_bits`, and ``length.total + overhead_bits
== 8 · file_bytes`` exactly.

Decoding trusts nothing in the file. The architecture must name a known model with arguments of
the types its builder declares, be exactly the canonical bytes the encoder writes for the spec
it decodes to, and describe at most :data:`~mdlkit.coding.architecture.MAX_PARAMETERS`
parameters; its shapes come from building the model on PyTorch's ``meta`` device (no memory, no
random numbers), and the real model is built only once the weights have passed the CRC32. N
must fit those shapes, N and the step must be written as the encoder writes them (no overlong
varint, no f32 for a grid step), every count is decoded within what the shapes allow, and the
payload must be, byte for byte, a form the encoder writes for the tensors it decodes to (its
shortest form; or constriction's whole words, which it writes should the shortest ever fail its
check), so bytes appended, cut or changed are caught even where the range decoder would not
read them. So a damaged file raises a one-line :class:`~mdlkit.errors.MdlkitError`, having
allocated no more than an intact file of the same shapes would, or (damage that leaves every
decoded weight as it was, and so passes the CRC32) decodes into the very same model. As the
CRC32 covers the architecture, an argument damaged into another valid one with the same shapes
(relu → gelu) is caught too. A file of an older format (never released) is refused with a
one-line error naming its version. A file of a user's network names its factory
``module:name`` (:mod:`mdlkit.models.factory`): it decodes only with that factory handed over
(``factories=``), into the factory's own class, and never makes mdlkit import anything.

The decoded model is what the data part of a two-part code must use;
:func:`~mdlkit.pruning.quantize_model` makes the identical model on the encoder side.

>>> from mdlkit.models import ModelSpec
>>> spec = ModelSpec("mlp", {"sizes": [64, 32, 10]})
>>> model = spec.build()
>>> encoded = encode_model(model, spec, step=0.125)
>>> encoded.length.total + encoded.overhead_bits == 8 * encoded.file_bytes
True
>>> encoded.length.parts["header"]  # N (> 127: two bytes) and the step 2^(−12/4): 1 + 23
24.0
>>> encoded.data[13]
24
>>> decode_spec(encoded.data)
ModelSpec(kind='mlp', kwargs={'sizes': [64, 32, 10], 'activation': 'relu'})
>>> decoded = decode_model(encoded.data)
>>> decode_model(encoded.data[:-4])
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: weight file ... (the file is damaged; write it again from its source)
>>> with torch.no_grad():
...     for p in model.parameters():
...         _ = p.zero_()
>>> pruned = encode_model(model, spec, step=0.125)
>>> pruned.data[5:11].hex(" "), pruned.length.parts, pruned.file_bytes
('00 03 40 20 0a 01', {'architecture': 48.0, 'header': 8.0, 'payload': 0.0}, 16)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.architecture import (
    canonical,
    checked_shapes,
    read_architecture,
    shapes,
    write_architecture,
)
from mdlkit.coding.arguments import SpecError
from mdlkit.coding.container import FileFormat, Reader, Writer, crc32
from mdlkit.coding.tensors import CorruptPayload, decode_tensors, encode_tensors
from mdlkit.errors import MdlkitError
from mdlkit.models.factory import Factories, allowed_factories
from mdlkit.models.spec import ModelSpec, is_factory_reference
from mdlkit.pruning.quantize import dequantize, grid_indices, grid_step, step_exponent

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAGIC",
    "OVERHEAD_BYTES",
    "EncodedModel",
    "decode_model",
    "decode_spec",
    "encode_model",
    "read_model",
]

MAGIC = b"MDLW"
FORMAT_VERSION = 3
FORMAT = FileFormat("weight file", MAGIC, FORMAT_VERSION)

OVERHEAD_BYTES = len(MAGIC) + 1 + 4
"""What a format-3 file holds beyond its description length: magic, version byte, CRC32."""

# |θ / Δ| must stay below this so that q fits int64 with room (see tensor_coder._MAX_BUCKETS).
_MAX_INDEX = 2.0**62
# The step exponents e whose grid step 2^(e/4) is a positive, finite float32 (2^−149 to
# 2^127.75); a file's e outside them is damage.
_MIN_EXPONENT, _MAX_EXPONENT = -596, 511


@dataclass(frozen=True)
class EncodedModel:
    """An encoded model file and its accounting.

    ``length`` is the model's description length, with the exact parts ``architecture`` (the
    spec), ``header`` (the nonzero count and the step) and ``payload`` (the range-coded per-tensor
    counts, masks and values, in whole bytes); ``overhead_bits`` is what the file adds (magic,
    version byte, CRC32), so ``length.total + overhead_bits == 8 * file_bytes``. ``ideal`` splits
    the payload's ideal length into ``counts``, ``mask`` and ``values``.
    """

    data: bytes
    length: CodeLength
    ideal: CodeLength
    step: float
    nonzero: int
    total: int
    overhead_bits: float = 8.0 * OVERHEAD_BYTES

    @property
    def file_bytes(self) -> int:
        """The file's size in bytes (description length plus overhead)."""
        return len(self.data)

    def write(self, path: str | Path) -> Path:
        """Write to a NEW file (an existing file is never overwritten)."""
        path = Path(path)
        with path.open("xb") as f:
            f.write(self.data)
        return path


# --- encoding --------------------------------------------------------------------------------


def _crc(architecture: bytes, tensors: list[torch.Tensor]) -> int:
    """CRC32 of the architecture bytes, then of the float32 bytes of ``tensors`` in order: what
    the decoder must reproduce."""
    return crc32([architecture, *(t.contiguous().numpy().tobytes() for t in tensors)])


def _zigzag(e: int) -> int:
    return 2 * e if e >= 0 else -2 * e - 1


def _write_header(w: Writer, nonzero: int, step: float) -> None:
    """N, and (if N > 0) the step: 1 + zigzag(e) for a grid step 2^(e/4), else 0 and the f32."""
    w.varint(nonzero)
    if nonzero:
        e = step_exponent(step)
        if e is None:
            w.varint(0)
            w.f32(step)
        else:
            w.varint(1 + _zigzag(e))


def encode_model(model: nn.Module, spec: ModelSpec, step: float) -> EncodedModel:
    """Encode ``model``'s parameters quantized at ``step`` (format 3); the model is not changed.

    ``step`` is rounded to float32 first (the header stores it so, or as its exponent e when it
    is :func:`~mdlkit.pruning.grid_step` (e)). Sizes: ``length`` is the description length
    with the exact parts ``architecture``, ``header`` and ``payload`` in bits, ``overhead_bits``
    the rest of the file; ``ideal`` is the payload's ideal length, split into ``counts``,
    ``mask`` and ``values`` (see :mod:`mdlkit.coding.tensors`). The payload is checked to
    decode into the very tensors coded before the file is returned.
    """
    step = float(np.float32(step))
    if not 0 < step < float("inf"):
        raise MdlkitError(f"quantization step must be > 0 and finite, got {step}")
    # The encoder refuses what the decoder would refuse, so that no file it writes is unreadable.
    try:
        architecture = write_architecture(canonical(spec))
        reader = Reader(FORMAT, architecture, 0, FORMAT_VERSION)
        spec_shapes = checked_shapes(read_architecture(reader, spec.factories))
        reader.end()
    except SpecError as error:
        raise MdlkitError(f"cannot write a weight file: the model spec {error}") from None
    if spec_shapes != shapes(model):
        raise MdlkitError(
            f"cannot write a weight file: the model's parameters do not have the shapes its spec "
            f"{spec.kind} builds"
        )
    grids, dequantized = [], []
    for name, p in model.named_parameters():
        if not bool(torch.all(p.detach().to(torch.float64).abs() / step < _MAX_INDEX)):
            raise MdlkitError(
                f"cannot write a weight file: parameter {name} has values that are not finite "
                f"or are 2**62 or more steps of {step:g} from zero"
            )
        q = grid_indices(p, step)
        grids.append(q.numpy())
        dequantized.append(dequantize(q, step))
    nonzero = sum(int(np.count_nonzero(q)) for q in grids)
    if nonzero:
        payload = encode_tensors(grids)
        data, ideal = payload.data, payload.ideal
    else:  # every parameter pruned: the file ends with its checksum
        data, ideal = b"", {"counts": 0.0, "mask": 0.0, "values": 0.0}
    w = FORMAT.writer()
    prefix = len(w)
    w.raw(architecture)
    _write_header(w, nonzero, step)
    header = len(w) - prefix - len(architecture)
    w.u32(_crc(architecture, dequantized))
    overhead = len(w) - len(architecture) - header
    return EncodedModel(
        data=w.getvalue() + data,
        length=CodeLength(
            {
                "architecture": 8.0 * len(architecture),
                "header": 8.0 * header,
                "payload": 8.0 * len(data),
            },
            name="weight codec",
        ),
        ideal=CodeLength(ideal, name="weight codec (ideal)"),
        step=step,
        nonzero=nonzero,
        total=sum(p.numel() for p in model.parameters()),
        overhead_bits=8.0 * overhead,
    )


# --- decoding --------------------------------------------------------------------------------


def _read_spec(
    reader: Reader, factories: Factories | None
) -> tuple[ModelSpec, bytes, list[tuple[int, ...]]]:
    """The file's model spec, its architecture bytes and its parameters' shapes; a damaged
    architecture is an error, and so is a factory the caller did not allow."""
    start = reader.position
    try:
        spec = read_architecture(reader, allowed_factories(factories))
        if is_factory_reference(spec.kind) and spec.factory is None:
            raise MdlkitError(
                f"weight file names the model factory {spec.kind}, which the caller did not "
                f"allow: pass read_model(..., factories={{{spec.kind!r}: <the callable>}}) "
                f"(mdlkit predict, export, llc: --allow-factory {spec.kind}); mdlkit never "
                "imports a module a file names"
            )
        return spec, reader.data[start : reader.position], checked_shapes(spec)
    except SpecError as error:
        raise FORMAT.damaged(f"is corrupt: its architecture {error}") from None


def _decode_payload(
    payload: bytes, tensor_shapes: list[tuple[int, ...]], nonzero: int
) -> list[np.ndarray]:
    """The payload's tensors (:func:`~mdlkit.coding.tensors.decode_tensors`), any damage it
    finds a one-line error."""
    try:
        return decode_tensors(payload, tensor_shapes, nonzero)
    except CorruptPayload as error:
        raise FORMAT.damaged(f"is corrupt: {error}") from None
    except MemoryError:  # the bounds above make this unreachable; if not, it is a bug to see
        raise
    except Exception as error:  # last line of defence; the checks above should leave nothing
        raise FORMAT.damaged(
            f"is corrupt: its payload does not decode (unexpected {type(error).__name__})"
        ) from error


def _read_step(reader: Reader) -> float:
    """The step: a grid exponent, or 0 and an f32 that is on no grid."""
    v = reader.varint("quantization step")
    if v == 0:
        step = reader.f32("quantization step")
        if not 0 < step < float("inf"):
            raise FORMAT.damaged(f"is corrupt: its quantization step is {step}")
        if step_exponent(step) is not None:
            raise FORMAT.damaged("is corrupt: its quantization step is not written as mdlkit does")
        return step
    e = (v - 1) // 2 if v % 2 else -(v // 2)  # v − 1 = zigzag(e)
    if not _MIN_EXPONENT <= e <= _MAX_EXPONENT or step_exponent(grid_step(e)) != e:
        raise FORMAT.damaged(f"is corrupt: its quantization step exponent {e} is out of range")
    return grid_step(e)


def _read_weights(
    reader: Reader, tensor_shapes: list[tuple[int, ...]]
) -> tuple[list[torch.Tensor], int]:
    """The decoded float32 tensors of the file and the CRC32 it stores."""
    start = reader.position
    n = reader.varint("nonzero count")
    total = sum(math.prod(shape) for shape in tensor_shapes)
    if n > total:
        raise FORMAT.damaged(
            f"is corrupt: its header counts {n:,} nonzero parameters, its model has {total:,}"
        )
    step = _read_step(reader) if n else 1.0
    written = Writer()
    _write_header(written, n, step)
    if reader.data[start : reader.position] != written.getvalue():
        raise FORMAT.damaged("is corrupt: its header is not written as mdlkit writes it")
    crc = reader.u32("checksum")
    if n == 0:  # every parameter pruned: nothing follows the checksum
        if reader.remaining:
            raise FORMAT.damaged(
                f"is corrupt: {reader.remaining} bytes follow the checksum of an all-zero model"
            )
        return [torch.zeros(shape, dtype=torch.float32) for shape in tensor_shapes], crc
    grids = _decode_payload(reader.rest("payload"), tensor_shapes, n)
    return [dequantize(torch.from_numpy(grid), step) for grid in grids], crc


def decode_model(data: bytes, factories: Factories | None = None) -> nn.Module:
    """Rebuild the model from an encoded file's bytes; checks the CRC32.

    A file of a user's factory decodes only with that factory in ``factories`` (``{reference:
    callable}`` or callables under their ``module:name``; see :mod:`mdlkit.models.factory`),
    into the factory's own class; without it, a one-line error names the factory.

    Any damage raises a one-line :class:`MdlkitError`; a payload that decodes into weights other
    than those encoded, or an architecture other than the one written, fails the checksum. The
    model is built (drawing from torch's random number generator, as ``spec.build()`` does)
    only for a file that passes every check.
    """
    reader = FORMAT.reader(data)
    spec, architecture, tensor_shapes = _read_spec(reader, factories)
    tensors, crc = _read_weights(reader, tensor_shapes)
    if _crc(architecture, tensors) != crc:
        raise FORMAT.damaged("failed its checksum: the decoded model differs from the one written")
    model = spec.build()
    with torch.no_grad():
        for p, tensor in zip(model.parameters(), tensors, strict=True):
            p.copy_(tensor)
    return model


def decode_spec(data: bytes, factories: Factories | None = None) -> ModelSpec:
    """The model spec a weight file holds, checked as :func:`decode_model` checks it (its
    weights are not decoded): the :func:`~mdlkit.coding.architecture.canonical_spec` of the
    spec encoded."""
    return _read_spec(FORMAT.reader(data), factories)[0]


def read_model(path: str | Path, factories: Factories | None = None) -> nn.Module:
    """Decode a weight file from disk (``factories``: as :func:`decode_model`)."""
    path = Path(path)
    if not path.is_file():
        raise MdlkitError(f"weight file not found: {path}")
    return decode_model(path.read_bytes(), factories)
