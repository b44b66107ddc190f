"""The weight file (``.mdlw``): a pruned model's tensors as mask + quantized values, range coded.

Every parameter value is quantized to a global grid ``q · Δ`` (q an integer, Δ the step, chosen
by a loss tolerance as TAMADE chooses its threshold: :func:`~mdlkit.pruning.choose_step`).
Entries whose q is 0 are pruned. The tensors of q's are coded by the sparse tensor coder
(:mod:`mdlkit.coding.tensors`: mask flags under Bernoulli models, nonzero values under an
adaptive model) in one constriction range-coder stream. The header carries the model spec
(compact JSON), Δ (float32), per-tensor counts and a CRC32 of the decoded weights, so a file
decodes into a working model by itself and a damaged one is caught.

File layout (format 2, on the :mod:`~mdlkit.coding.container`): ``b"MDLW"``, version byte,
section (varint length + compact JSON) with the spec, Δ (f32 LE), varint tensor count, four
varints per tensor (k, live rows, live columns, value buckets), CRC32 (u32 LE) of the decoded
float32 weights, then the payload words (u32 LE) to the end of the file. The header's size in
bits plus 32 per payload word is exactly the file size.

Decoding trusts nothing in the file. The spec must be the compact JSON the encoder writes, name a
known model with arguments of the types its builder declares, and describe at most
:data:`MAX_PARAMETERS` parameters; its shapes come from building the model on PyTorch's ``meta``
device (no memory, no random numbers), and the real model is built only once the weights have
passed the CRC32. The counts are checked against those shapes and the payload's size before any
tensor is decoded, and the payload must end where its last tensor does. So a damaged file raises
a one-line :class:`~mdlkit.errors.MdlkitError`, having allocated no more than an intact file of
the same shapes would, unless the damage lies in bits the range decoder never reads (low bits of
the last payload word, or a single word appended): then it decodes into the very same model.
What no format-2 file can reveal: the CRC32 covers the weights, not the spec, so a spec damaged
into another valid spec with the same parameter shapes (``"relu"`` → ``"gelu"``, one byte)
decodes into that other model.

The decoded model is what the data part of a two-part code must use;
:func:`~mdlkit.pruning.quantize_model` makes the identical model on the encoder side.

>>> from mdlkit.models import ModelSpec
>>> spec = ModelSpec("mlp", {"sizes": [3, 2]})
>>> model = spec.build()
>>> encoded = encode_model(model, spec, step=0.125)
>>> encoded.length.total == 8 * len(encoded.data)
True
>>> decoded = decode_model(encoded.data)
>>> decode_model(encoded.data[:-4])
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: weight file ... (the file is damaged; write it again from its source)
"""

from __future__ import annotations

import inspect
import json
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.container import FileFormat, Reader, crc32
from mdlkit.coding.tensors import CorruptPayload, TensorCounts, TensorDecoder, TensorEncoder
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec
from mdlkit.pruning.quantize import dequantize, grid_indices

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_PARAMETERS",
    "EncodedModel",
    "decode_model",
    "encode_model",
    "read_model",
]

MAGIC = b"MDLW"
FORMAT_VERSION = 2
FORMAT = FileFormat("weight file", MAGIC, FORMAT_VERSION)

MAX_PARAMETERS = 2**25
"""The most parameters a weight file holds (33.5 M, 78 × LeNet-5-Caffe). Decoding takes 8 (all
zero) to 26 (dense) bytes a parameter, so no file, damaged or not, makes it allocate more than
about 0.3 to 0.9 GB; the encoder refuses larger models, so it never writes a file the decoder
refuses."""

# The longest spec JSON a file holds: real specs take under 200 bytes, and the bound keeps a
# damaged spec from asking for thousands of layers that would take seconds to build.
_MAX_SPEC_BYTES = 4096
# |θ / Δ| must stay below this so that q fits int64 with room (see tensors._MAX_BUCKETS).
_MAX_INDEX = 2.0**62


@dataclass(frozen=True)
class EncodedModel:
    """An encoded model file and its accounting.

    ``length`` has the exact parts ``header`` and ``payload`` (together the file size in bits);
    ``ideal`` splits the payload's ideal length into ``mask`` and ``values``.
    """

    data: bytes
    length: CodeLength
    ideal: CodeLength
    step: float
    nonzero: int
    total: int

    def write(self, path: str | Path) -> Path:
        """Write to a NEW file (an existing file is never overwritten)."""
        path = Path(path)
        with path.open("xb") as f:
            f.write(self.data)
        return path


class _BadSpec(ValueError):
    """A model spec that no weight file may hold; the message completes "its model spec …"."""


def _spec_json(spec: ModelSpec) -> bytes:
    """The header's spec section: compact JSON, the only form a file may hold."""
    return json.dumps(spec.to_dict(), separators=(",", ":")).encode()


def _fits(value: Any, hint: Any) -> bool:
    """Whether the JSON ``value`` has the type ``hint`` that a model builder declares.

    Knows None, bool, int, float, str, unions, Literal and sequences (a JSON list); a hint it
    does not know accepts any value, the builder still checks it.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(type(value) is type(arg) and value == arg for arg in args)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(_fits, value, args))
        return all(_fits(item, args[0]) for item in value) if args else True
    return True


def _argument_types(builder: Callable[..., nn.Module]) -> tuple[set[str] | None, dict[str, Any]]:
    """The keyword names ``builder`` takes (None: any, it has ``**kwargs``) and their types."""
    try:
        signature = inspect.signature(builder, eval_str=True)
    except NameError:  # annotations that do not resolve at run time: let the builder judge
        signature = inspect.signature(builder)
        hints: dict[str, Any] = {}
    else:
        hints = {
            name: p.annotation
            for name, p in signature.parameters.items()
            if p.annotation is not p.empty
        }
    parameters = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None, hints
    return {p.name for p in parameters if p.kind is not p.VAR_POSITIONAL}, hints


def _check_spec_dict(d: Any) -> ModelSpec:
    """The spec that the parsed JSON ``d`` describes; raises :class:`_BadSpec` unless ``d`` is
    ``{"kind": <known model>, "kwargs": {<argument>: <value of its declared type>, …}}``."""
    if not isinstance(d, dict) or set(d) != {"kind", "kwargs"}:
        raise _BadSpec("is not a JSON object with exactly the keys kind and kwargs")
    kind, kwargs = d["kind"], d["kwargs"]
    if not isinstance(kind, str) or kind not in MODEL_BUILDERS:
        raise _BadSpec(f"names no known model (kind {json.dumps(kind)[:40]})")
    if not isinstance(kwargs, dict):
        raise _BadSpec(f"gives {kind} arguments that are not a JSON object")
    names, hints = _argument_types(MODEL_BUILDERS[kind])
    for name, value in kwargs.items():
        if names is not None and name not in names:
            raise _BadSpec(f"gives {kind} an unknown argument {json.dumps(name)[:40]}")
        if not _fits(value, hints.get(name, Any)):
            raise _BadSpec(f"gives {kind}'s argument {name} a value of the wrong type")
    return ModelSpec(kind, kwargs)


def _check_spec(spec_json: bytes) -> tuple[ModelSpec, list[tuple[int, ...]]]:
    """The spec in ``spec_json`` and its parameters' shapes, or :class:`_BadSpec`.

    Checks, in order: the size, the JSON, the fields and their types, that the JSON is exactly
    what :func:`encode_model` writes for that spec, that the model builds (on the ``meta``
    device: no memory for the weights, no random numbers drawn), and the parameter count.
    """
    if len(spec_json) > _MAX_SPEC_BYTES:
        raise _BadSpec(
            f"takes {len(spec_json)} bytes, more than any spec (at most {_MAX_SPEC_BYTES})"
        )
    try:
        d = json.loads(spec_json)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON (ValueErrors), absurd nesting
        raise _BadSpec("is not JSON") from None
    spec = _check_spec_dict(d)
    if _spec_json(spec) != spec_json:
        raise _BadSpec("is not in the compact form mdlkit writes")
    try:
        with torch.device("meta"):
            shapes = [tuple(p.shape) for p in spec.build().parameters()]
    except (ArithmeticError, LookupError, RuntimeError, TypeError, ValueError):
        # The builders' own checks (MdlkitError is a ValueError) and torch's refusals of sizes.
        raise _BadSpec("names no buildable model") from None
    n_parameters = sum(math.prod(shape) for shape in shapes)
    if n_parameters > MAX_PARAMETERS:
        raise _BadSpec(
            f"asks for {n_parameters:,} parameters, more than a weight file holds "
            f"(at most {MAX_PARAMETERS:,})"
        )
    return spec, shapes


def _crc(tensors: list[torch.Tensor]) -> int:
    """CRC32 of the float32 bytes of ``tensors`` in order: what the decoder must reproduce."""
    return crc32(t.contiguous().numpy().tobytes() for t in tensors)


def encode_model(model: nn.Module, spec: ModelSpec, step: float) -> EncodedModel:
    """Encode ``model``'s parameters quantized at ``step``; the model itself is not changed.

    ``step`` is rounded to float32 first (the header stores it so). Sizes: ``length`` has the
    exact parts ``header`` and ``payload`` in bits; ``ideal`` is the payload's ideal length,
    split into ``mask`` and ``values`` (see :mod:`mdlkit.coding.tensors`).
    """
    step = float(np.float32(step))
    if not 0 < step < float("inf"):
        raise MdlkitError(f"quantization step must be > 0 and finite, got {step}")
    # The encoder refuses what the decoder would refuse, so that no file it writes is unreadable.
    spec_json = _spec_json(spec)
    try:
        _, shapes = _check_spec(spec_json)
    except _BadSpec as error:
        raise MdlkitError(f"cannot write a weight file: the model spec {error}") from None
    if shapes != [tuple(p.shape) for p in model.parameters()]:
        raise MdlkitError(
            f"cannot write a weight file: the model's parameters do not have the shapes its spec "
            f"{spec.kind} builds"
        )
    encoder = TensorEncoder()
    table, dequantized = [], []
    for name, p in model.named_parameters():
        if not bool(torch.all(p.detach().to(torch.float64).abs() / step < _MAX_INDEX)):
            raise MdlkitError(
                f"cannot write a weight file: parameter {name} has values that are not finite "
                f"or are 2**62 or more steps of {step:g} from zero"
            )
        q = grid_indices(p, step)
        table.append(encoder.encode(q.numpy()))
        dequantized.append(dequantize(q, step))
    words = encoder.finish()
    header = FORMAT.writer()
    header.section(spec_json)
    header.f32(step)
    header.varint(len(table))
    for counts in table:
        for value in counts:
            header.varint(value)
    header.u32(_crc(dequantized))
    return EncodedModel(
        data=header.getvalue() + words.tobytes(),
        length=CodeLength(
            {"header": 8.0 * len(header), "payload": 32.0 * len(words)},
            name="weight codec",
        ),
        ideal=CodeLength(encoder.ideal, name="weight codec (ideal)"),
        step=step,
        nonzero=sum(counts.nonzero for counts in table),
        total=sum(p.numel() for p in model.parameters()),
    )


def _read_spec(reader: Reader) -> tuple[ModelSpec, list[tuple[int, ...]]]:
    """The header's model spec and its parameters' shapes; a damaged spec is an error."""
    try:
        return _check_spec(reader.section("model spec"))
    except _BadSpec as error:
        raise FORMAT.damaged(f"is corrupt: its model spec {error}") from None


def _decode_payload(
    words: np.ndarray, shapes: list[tuple[int, ...]], table: list[TensorCounts]
) -> list[np.ndarray]:
    """The tensors of grid indices the payload codes, checked against their counts and shapes."""
    try:
        decoder = TensorDecoder(words)
        grids = [decoder.decode(shape, counts) for shape, counts in zip(shapes, table, strict=True)]
        decoder.finish()
    except CorruptPayload as error:
        raise FORMAT.damaged(f"is corrupt: {error}") from None
    except MemoryError:  # the bounds above make this unreachable; if not, it is a bug to see
        raise
    except Exception as error:  # last line of defence; the checks above should leave nothing
        raise FORMAT.damaged(
            f"is corrupt: its payload does not decode (unexpected {type(error).__name__})"
        ) from error
    return grids


def decode_model(data: bytes) -> nn.Module:
    """Rebuild the model from an encoded file's bytes; checks the format and the CRC32.

    Any damage raises a one-line :class:`MdlkitError`; a payload that decodes into weights other
    than those encoded fails the checksum. The model is built (drawing from torch's random
    number generator, as ``spec.build()`` does) only for a file that passes every check.
    """
    reader = FORMAT.reader(data)
    spec, shapes = _read_spec(reader)
    step = reader.f32("quantization step")
    if not 0 < step < float("inf"):
        raise FORMAT.damaged(f"is corrupt: its quantization step is {step}")
    n_tensors = reader.varint("tensor count")
    if n_tensors != len(shapes):
        raise FORMAT.damaged(
            f"is corrupt: its header lists {n_tensors} tensors, its model has {len(shapes)}"
        )
    table = [TensorCounts(*(reader.varint("tensor counts") for _ in range(4))) for _ in shapes]
    crc = reader.u32("checksum")
    words = np.frombuffer(reader.rest("payload", multiple_of=4), dtype="<u4").astype(np.uint32)
    grids = _decode_payload(words, shapes, table)
    dequantized = [dequantize(torch.from_numpy(grid), step) for grid in grids]
    if _crc(dequantized) != crc:
        raise FORMAT.damaged("failed its checksum: the decoded weights differ from those written")
    model = spec.build()
    with torch.no_grad():
        for p, tensor in zip(model.parameters(), dequantized, strict=True):
            p.copy_(tensor)
    return model


def read_model(path: str | Path) -> nn.Module:
    """Decode a weight file from disk."""
    path = Path(path)
    if not path.is_file():
        raise MdlkitError(f"weight file not found: {path}")
    return decode_model(path.read_bytes())
