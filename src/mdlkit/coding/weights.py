"""The weight file (``.mdlw``): a model's architecture, then its pruned, quantized tensors.

Every parameter value is quantized to a global grid ``q · Δ`` (q an integer, Δ the step, chosen
by code length on the grid Δ = 2^(e/4) (:func:`~mdlkit.pruning.cheapest_step`) or by a loss
tolerance (:func:`~mdlkit.pruning.choose_step`)). Entries whose q is 0 are pruned. The tensors
of q's are coded by the sparse tensor coder (:mod:`mdlkit.coding.tensors`: per tensor its
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

The architecture is the model kind as a varint index into :data:`MODEL_KINDS` (a table written
out below, not derived from the registry), then EVERY keyword argument of its builder in the
order of the builder's signature, defaults filled in, each coded under its type hint:

- ``int``: a varint (a file holds no negative integer under an ``int`` hint: the encoder refuses
  one, and no builder builds with one);
- ``bool``: a varint 0 or 1; ``None``: nothing;
- ``str``: a varint i ≥ 1 for the i-th word of :data:`WORDS` (``"relu"`` is 1), or 0 and then
  a varint length and the UTF-8 bytes;
- ``Literal[a, b, …]``: the varint index of the choice;
- a union such as ``int | None``: the varint index of the first member the value has the type
  of, then the value under that member;
- ``list[T]``, ``Sequence[T]``, ``tuple[T, ...]``: a varint length, then the items under T;
  ``tuple[A, B]``: the items under A and B;
- ``float``, ``Any`` and hints this module does not know: a varint tag, then nothing (tag 0
  None, 1 False, 2 True), a varint (3: an int ≥ 0; 4: an int v < 0 as −1 − v), 4 bytes (5: a
  float that float32 holds exactly), 8 bytes (6: any other finite float), a string (7, as under
  ``str``) or a varint length and the items (8: a list).

So ``mlp`` with sizes [64, 32, 10] and activation ``"relu"`` takes 6 bytes, ``00 03 40 20 0a
01``, where format 2's compact JSON took 64 (and a length byte); with every parameter pruned
that model's whole description is 7 bytes (56 bits), its file 16 bytes. A spec decodes into its
CANONICAL form (:func:`canonical_spec`: every argument, defaults filled in, sequences as lists),
which is the spec encoded whenever that gave every argument, sequences as lists. The two tables,
each builder's parameters and their hints (a ``Literal``'s choices too) are part of format 3:
the tables are append-only, and changing a builder's signature needs a new format version (the
tests pin all of them; a default may change, files hold every argument).

Description length versus file size: :attr:`EncodedModel.length` is what a receiver needs to
rebuild the model; the magic bytes, version byte and CRC32 only identify the file and check its
integrity, so they are :attr:`EncodedModel.overhead_bits`, and ``length.total + overhead_bits
== 8 · file_bytes`` exactly.

Decoding trusts nothing in the file. The architecture must name a known model with arguments of
the types its builder declares, be exactly the canonical bytes the encoder writes for the spec
it decodes to, and describe at most :data:`MAX_PARAMETERS` parameters; its shapes come from
building the model on PyTorch's ``meta`` device (no memory, no random numbers), and the real
model is built only once the weights have passed the CRC32. N must fit those shapes, N and the
step must be written as the encoder writes them (no overlong varint, no f32 for a grid step),
every count is decoded within what the shapes allow, and the payload must be, byte for byte, a
form the encoder writes for the tensors it decodes to (its shortest form; or constriction's
whole words, which it writes should the shortest ever fail its check), so bytes appended, cut
or changed are caught even where the range decoder would not read them. So a damaged file
raises a one-line :class:`~mdlkit.errors.MdlkitError`, having allocated no more than an intact
file of the same shapes would, or (damage that leaves every decoded weight as it was, and so
passes the CRC32) decodes into the very same model. As the CRC32 covers the architecture, an
argument damaged into another valid one with the same shapes (relu → gelu) is caught too.

Format 2 (still read, no longer written): ``b"MDLW"``, version byte 2, a section (varint length
+ compact JSON) with the spec, Δ (f32), a varint tensor count, four varints per tensor (nonzero
k, live rows, live columns, value buckets), the CRC32 of the decoded weights (not of the spec),
the payload as little-endian u32 words; the whole file counted as model.

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

import inspect
import json
import math
import struct
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
from mdlkit.coding.container import FileFormat, Reader, Writer, crc32
from mdlkit.coding.tensors import (
    CorruptPayload,
    TensorCounts,
    TensorDecoder,
    decode_tensors,
    encode_tensors,
)
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec
from mdlkit.pruning.quantize import dequantize, grid_indices, grid_step, step_exponent

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_PARAMETERS",
    "MODEL_KINDS",
    "OVERHEAD_BYTES",
    "WORDS",
    "EncodedModel",
    "canonical_spec",
    "decode_model",
    "decode_spec",
    "encode_model",
    "read_model",
]

MAGIC = b"MDLW"
FORMAT_VERSION = 3
FORMAT = FileFormat("weight file", MAGIC, FORMAT_VERSION, readable=(2, 3))

OVERHEAD_BYTES = len(MAGIC) + 1 + 4
"""What a format-3 file holds beyond its description length: magic, version byte, CRC32."""

MODEL_KINDS: tuple[str, ...] = (
    "mlp",
    "lenet-300-100",
    "lenet5-caffe",
    "small-cnn",
    "student",
    "teacher",
    "byte_transformer",
    "byte_rnn",
)
"""The model kinds a format-3 file names, by index. APPEND ONLY: an index, once written, means
its kind forever (a new kind of :data:`~mdlkit.models.spec.MODEL_BUILDERS` goes at the end)."""

WORDS: tuple[str, ...] = ("relu", "tanh", "gelu", "learned", "sinusoidal", "lstm", "gru")
"""Strings a format-3 file codes as one byte (the index + 1) wherever a builder takes a ``str``.
APPEND ONLY; any other string is written out."""

MAX_PARAMETERS = 2**25
"""The most parameters a weight file holds (33.5 M, 78 × LeNet-5-Caffe). Decoding takes 8 (all
zero) to 26 (dense) bytes a parameter, so no file, damaged or not, makes it allocate more than
about 0.3 to 0.9 GB; the encoder refuses larger models, so it never writes a file the decoder
refuses."""

# The longest spec JSON a format-2 file holds: real specs take under 200 bytes, and the bound
# keeps a damaged spec from asking for thousands of layers that would take seconds to build.
_MAX_SPEC_BYTES = 4096
# The same bounds for a format-3 architecture: real ones take under 20 bytes and 10 list items.
_MAX_ARCHITECTURE_BYTES = 1024
_MAX_ITEMS = 1024
_MAX_DEPTH = 16
# |θ / Δ| must stay below this so that q fits int64 with room (see tensors._MAX_BUCKETS).
_MAX_INDEX = 2.0**62
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
# The step exponents e whose grid step 2^(e/4) is a positive, finite float32 (2^−149 to
# 2^127.75); a file's e outside them is damage.
_MIN_EXPONENT, _MAX_EXPONENT = -596, 511
# The tags of a value coded without a type hint (module docstring).
_NONE, _FALSE, _TRUE, _INT, _NEGATIVE, _FLOAT32, _FLOAT64, _STR, _LIST = range(9)


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


class _BadSpec(ValueError):
    """A model spec that no weight file may hold; the message completes "its model spec …"."""


# --- type hints ----------------------------------------------------------------------------


def _fits(value: Any, hint: Any) -> bool:
    """Whether the JSON-like ``value`` has the type ``hint`` that a model builder declares.

    Knows None, bool, int, float, str, unions, Literal and sequences (a list); a hint it does
    not know accepts any value, the builder still checks it.
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


def _signature(builder: Callable[..., nn.Module]) -> tuple[inspect.Signature, bool]:
    """The builder's signature, and whether its annotations resolved to types."""
    try:
        return inspect.signature(builder, eval_str=True), True
    except NameError:  # annotations that do not resolve at run time: let the builder judge
        return inspect.signature(builder), False


def _argument_types(builder: Callable[..., nn.Module]) -> tuple[set[str] | None, dict[str, Any]]:
    """The keyword names ``builder`` takes (None: any, it has ``**kwargs``) and their types."""
    signature, resolved = _signature(builder)
    hints = {
        name: p.annotation
        for name, p in signature.parameters.items()
        if resolved and p.annotation is not p.empty
    }
    parameters = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None, hints
    return {p.name for p in parameters if p.kind is not p.VAR_POSITIONAL}, hints


_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _parameters(kind: str) -> list[tuple[str, Any, Any]]:
    """(name, type hint or Any, default or ``inspect.Parameter.empty``) of each keyword argument
    of ``kind``'s builder, in signature order: what a format-3 architecture codes."""
    signature, resolved = _signature(MODEL_BUILDERS[kind])
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        raise _BadSpec(f"names {kind}, whose builder takes **kwargs, which no file can describe")
    return [
        (p.name, p.annotation if resolved and p.annotation is not p.empty else Any, p.default)
        for p in signature.parameters.values()
        if p.kind in _KEYWORD
    ]


def _as_lists(value: Any) -> Any:
    """``value`` with every tuple a list (the form a decoded spec has)."""
    if isinstance(value, list | tuple):
        return [_as_lists(item) for item in value]
    return value


def canonical_spec(spec: ModelSpec) -> ModelSpec:
    """The form of ``spec`` that a weight file holds and decodes to: every keyword argument of
    its builder in signature order, defaults filled in, tuples as lists.

    >>> canonical_spec(ModelSpec("small-cnn", {"n_classes": 3}))
    ModelSpec(kind='small-cnn', kwargs={'image_size': 28, 'n_classes': 3, 'channels': 8})
    """
    try:
        return _canonical(spec)
    except _BadSpec as error:
        raise MdlkitError(f"the model spec {error}") from None


def _canonical(spec: ModelSpec) -> ModelSpec:
    parameters = _parameters(spec.kind)
    names = {name for name, _, _ in parameters}
    for name in spec.kwargs:
        if name not in names:
            raise _BadSpec(f"gives {spec.kind} an unknown argument {json.dumps(name)[:40]}")
    kwargs = {}
    for name, hint, default in parameters:
        if name in spec.kwargs:
            value = _as_lists(spec.kwargs[name])
        elif default is not inspect.Parameter.empty:
            value = _as_lists(default)
        else:
            raise _BadSpec(f"does not give {spec.kind} its argument {name}")
        if not _fits(value, hint):
            raise _BadSpec(f"gives {spec.kind}'s argument {name} a value of the wrong type")
        kwargs[name] = value
    return ModelSpec(spec.kind, kwargs)


# --- format 3: the architecture ------------------------------------------------------------


def _write_str(w: Writer, value: str) -> None:
    if value in WORDS:
        w.varint(WORDS.index(value) + 1)
    else:
        w.varint(0)
        w.section(value.encode())


def _write_any(w: Writer, value: Any) -> None:
    """A value under no known type hint: a tag, then the value (module docstring)."""
    if value is None or isinstance(value, bool):
        w.varint({None: _NONE, False: _FALSE, True: _TRUE}[value])
    elif isinstance(value, int):
        w.varint(_INT if value >= 0 else _NEGATIVE)
        w.varint(value if value >= 0 else -1 - value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _BadSpec(f"has a float argument that is not finite ({value})")
        exact = float(np.float32(value)) == value
        w.varint(_FLOAT32 if exact else _FLOAT64)
        w.raw((_F32 if exact else _F64).pack(value))
    elif isinstance(value, str):
        w.varint(_STR)
        _write_str(w, value)
    elif isinstance(value, list):
        w.varint(_LIST)
        w.varint(len(value))
        for item in value:
            _write_any(w, item)
    else:
        raise _BadSpec(f"has an argument no weight file can describe ({type(value).__name__})")


def _write_value(w: Writer, value: Any, hint: Any) -> None:
    """``value`` (which has the type ``hint``: :func:`_fits`) under ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return
    if hint is bool:
        w.varint(int(value))
    elif hint is int:
        if value < 0:
            raise _BadSpec(f"has a negative integer argument ({value}), which format 3 cannot hold")
        w.varint(value)
    elif hint is str:
        _write_str(w, value)
    elif origin is typing.Literal:
        w.varint(next(i for i, arg in enumerate(args) if type(value) is type(arg) and value == arg))
    elif origin in (typing.Union, types.UnionType):
        i = next(i for i, arg in enumerate(args) if _fits(value, arg))
        w.varint(i)
        _write_value(w, value, args[i])
    elif origin in (list, tuple, Sequence) and args:
        if origin is tuple and args[-1] is not Ellipsis:
            for item, arg in zip(value, args, strict=True):
                _write_value(w, item, arg)
        else:
            w.varint(len(value))
            for item in value:
                _write_value(w, item, args[0])
    else:  # float, Any, a bare list, a hint not known here
        _write_any(w, value)


def _architecture(spec: ModelSpec) -> bytes:
    """The architecture bytes of the CANONICAL ``spec`` (:func:`_canonical` gives it)."""
    if spec.kind not in MODEL_KINDS:
        raise _BadSpec(f"names {spec.kind}, which is not in weights.MODEL_KINDS (add it there)")
    w = Writer()
    w.varint(MODEL_KINDS.index(spec.kind))
    for name, hint, _ in _parameters(spec.kind):
        _write_value(w, spec.kwargs[name], hint)
    return w.getvalue()


class _ValueReader:
    """Reads the values of an architecture, with a budget of list items in all (and, in
    :meth:`any`, a bound on their nesting)."""

    def __init__(self, reader: Reader) -> None:
        self.reader, self.items_left = reader, _MAX_ITEMS

    def _count(self, n: int) -> None:
        """Charge a list of ``n`` items, before they are read: a damaged length allocates
        nothing (every other value takes a byte, or is an argument of the builder)."""
        self.items_left -= n
        if self.items_left < 0:
            raise _BadSpec(f"has more than {_MAX_ITEMS} list items in all")

    def _index(self, n: int, what: str) -> int:
        i = self.reader.varint("architecture")
        if i >= n:
            raise _BadSpec(f"has {what} index {i} where there are {n}")
        return i

    def string(self) -> str:
        i = self.reader.varint("architecture")
        if i > len(WORDS):
            raise _BadSpec(f"names word {i} where there are {len(WORDS)}")
        if i:
            return WORDS[i - 1]
        try:
            return self.reader.section("architecture").decode()
        except UnicodeDecodeError:
            raise _BadSpec("has a string that is not UTF-8") from None

    def any(self, depth: int = 0) -> Any:
        tag = self._index(_LIST + 1, "tag")
        if tag in (_NONE, _FALSE, _TRUE):
            return {_NONE: None, _FALSE: False, _TRUE: True}[tag]
        if tag in (_INT, _NEGATIVE):
            v = self.reader.varint("architecture")
            return v if tag == _INT else -1 - v
        if tag in (_FLOAT32, _FLOAT64):
            f = _F32 if tag == _FLOAT32 else _F64
            return float(f.unpack(self.reader.raw(f.size, "architecture"))[0])
        if tag == _STR:
            return self.string()
        if depth >= _MAX_DEPTH:
            raise _BadSpec(f"nests lists more than {_MAX_DEPTH} deep")
        n = self.reader.varint("architecture")
        self._count(n)
        return [self.any(depth + 1) for _ in range(n)]

    def value(self, hint: Any) -> Any:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is type(None):
            return None
        if hint is bool:
            return bool(self._index(2, "boolean"))
        if hint is int:
            return self.reader.varint("architecture")
        if hint is str:
            return self.string()
        if origin is typing.Literal:
            return args[self._index(len(args), "choice")]
        if origin in (typing.Union, types.UnionType):
            return self.value(args[self._index(len(args), "union member")])
        if origin in (list, tuple, Sequence) and args:
            if origin is tuple and args[-1] is not Ellipsis:
                return [self.value(arg) for arg in args]
            n = self.reader.varint("architecture")
            self._count(n)
            return [self.value(args[0]) for _ in range(n)]
        return self.any()


def _read_architecture(reader: Reader) -> ModelSpec:
    """The spec of a format-3 architecture at the reader's position; :class:`_BadSpec` unless
    it is exactly the canonical form the encoder writes."""
    start = reader.position
    i = reader.varint("architecture")
    if i >= len(MODEL_KINDS):
        raise _BadSpec(f"names no known model (kind {i})")
    kind = MODEL_KINDS[i]
    if kind not in MODEL_BUILDERS:
        raise _BadSpec(f"names {kind}, a model this mdlkit does not build")
    values = _ValueReader(reader)
    kwargs = {}
    for name, hint, _ in _parameters(kind):
        kwargs[name] = values.value(hint)
        if not _fits(kwargs[name], hint):
            raise _BadSpec(f"gives {kind}'s argument {name} a value of the wrong type")
        if reader.position - start > _MAX_ARCHITECTURE_BYTES:
            raise _BadSpec(f"takes more than {_MAX_ARCHITECTURE_BYTES} bytes")
    spec = ModelSpec(kind, kwargs)
    if _architecture(spec) != reader.data[start : reader.position]:
        raise _BadSpec("is not in the canonical form mdlkit writes")
    return spec


# --- checks shared by both formats ---------------------------------------------------------


def _shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """The parameters' shapes of ``spec``'s model, built on the ``meta`` device (no memory for
    the weights, no random numbers drawn); :class:`_BadSpec` if it does not build or is too big.
    """
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
    return shapes


# --- format 2: the spec as compact JSON ------------------------------------------------------


def _spec_json(spec: ModelSpec) -> bytes:
    """A format-2 spec section: compact JSON, the only form such a file may hold."""
    return json.dumps(spec.to_dict(), separators=(",", ":")).encode()


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


def _check_spec_json(spec_json: bytes) -> ModelSpec:
    """The spec in a format-2 ``spec_json``, or :class:`_BadSpec`: checks the size, the JSON,
    the fields and their types, and that the JSON is exactly what format 2 wrote."""
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
    return spec


# --- encoding --------------------------------------------------------------------------------


def _crc(architecture: bytes, tensors: list[torch.Tensor]) -> int:
    """CRC32 of the architecture bytes (none in format 2), then of the float32 bytes of
    ``tensors`` in order: what the decoder must reproduce."""
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
        architecture = _architecture(_canonical(spec))
        reader = Reader(FORMAT, architecture, 0, FORMAT_VERSION)
        shapes = _shapes(_read_architecture(reader))
        reader.end()
    except _BadSpec as error:
        raise MdlkitError(f"cannot write a weight file: the model spec {error}") from None
    if shapes != [tuple(p.shape) for p in model.parameters()]:
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


def _read_spec(reader: Reader) -> tuple[ModelSpec, bytes, list[tuple[int, ...]]]:
    """The file's model spec, its architecture bytes (empty in format 2) and its parameters'
    shapes; a damaged spec is an error."""
    start = reader.position
    try:
        if reader.version == 2:
            spec = _check_spec_json(reader.section("model spec"))
            architecture = b""
        else:
            spec = _read_architecture(reader)
            architecture = reader.data[start : reader.position]
        return spec, architecture, _shapes(spec)
    except _BadSpec as error:
        what = "model spec" if reader.version == 2 else "architecture"
        raise FORMAT.damaged(f"is corrupt: its {what} {error}") from None


def _decoding(read: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
    """``read()``'s tensors, any payload damage it finds a one-line error."""
    try:
        return read()
    except CorruptPayload as error:
        raise FORMAT.damaged(f"is corrupt: {error}") from None
    except MemoryError:  # the bounds above make this unreachable; if not, it is a bug to see
        raise
    except Exception as error:  # last line of defence; the checks above should leave nothing
        raise FORMAT.damaged(
            f"is corrupt: its payload does not decode (unexpected {type(error).__name__})"
        ) from error


def _read_counts(reader: Reader, shapes: list[tuple[int, ...]]) -> list[TensorCounts]:
    return [TensorCounts(*(reader.varint("tensor counts") for _ in range(4))) for _ in shapes]


def _read_f32_step(reader: Reader) -> float:
    step = reader.f32("quantization step")
    if not 0 < step < float("inf"):
        raise FORMAT.damaged(f"is corrupt: its quantization step is {step}")
    return step


def _read_step(reader: Reader) -> float:
    """Format 3's step: a grid exponent, or 0 and an f32 that is on no grid."""
    v = reader.varint("quantization step")
    if v == 0:
        step = _read_f32_step(reader)
        if step_exponent(step) is not None:
            raise FORMAT.damaged("is corrupt: its quantization step is not written as mdlkit does")
        return step
    e = (v - 1) // 2 if v % 2 else -(v // 2)  # v − 1 = zigzag(e)
    if not _MIN_EXPONENT <= e <= _MAX_EXPONENT or step_exponent(grid_step(e)) != e:
        raise FORMAT.damaged(f"is corrupt: its quantization step exponent {e} is out of range")
    return grid_step(e)


def _read_weights(reader: Reader, shapes: list[tuple[int, ...]]) -> tuple[list[torch.Tensor], int]:
    """The decoded float32 tensors of a format-3 file and the CRC32 it stores."""
    start = reader.position
    n = reader.varint("nonzero count")
    total = sum(math.prod(shape) for shape in shapes)
    if n > total:
        raise FORMAT.damaged(
            f"is corrupt: its header counts {n:,} nonzero parameters, its model has {total:,}"
        )
    step = _read_step(reader) if n else 1.0
    canonical = Writer()
    _write_header(canonical, n, step)
    if reader.data[start : reader.position] != canonical.getvalue():
        raise FORMAT.damaged("is corrupt: its header is not written as mdlkit writes it")
    crc = reader.u32("checksum")
    if n == 0:  # every parameter pruned: nothing follows the checksum
        if reader.remaining:
            raise FORMAT.damaged(
                f"is corrupt: {reader.remaining} bytes follow the checksum of an all-zero model"
            )
        return [torch.zeros(shape, dtype=torch.float32) for shape in shapes], crc
    payload = reader.rest("payload")
    grids = _decoding(lambda: decode_tensors(payload, shapes, n))
    return [dequantize(torch.from_numpy(grid), step) for grid in grids], crc


def _read_weights_format_2(
    reader: Reader, shapes: list[tuple[int, ...]]
) -> tuple[list[torch.Tensor], int]:
    step = _read_f32_step(reader)
    n_tensors = reader.varint("tensor count")
    if n_tensors != len(shapes):
        raise FORMAT.damaged(
            f"is corrupt: its header lists {n_tensors} tensors, its model has {len(shapes)}"
        )
    table = _read_counts(reader, shapes)
    crc = reader.u32("checksum")
    words = np.frombuffer(reader.rest("payload", multiple_of=4), dtype="<u4").astype(np.uint32)

    def read() -> list[np.ndarray]:
        decoder = TensorDecoder(words)
        grids = [decoder.decode(shape, counts) for shape, counts in zip(shapes, table, strict=True)]
        decoder.finish()
        return grids

    grids = _decoding(read)
    return [dequantize(torch.from_numpy(grid), step) for grid in grids], crc


def decode_model(data: bytes) -> nn.Module:
    """Rebuild the model from an encoded file's bytes (format 3 or 2); checks the CRC32.

    Any damage raises a one-line :class:`MdlkitError`; a payload that decodes into weights other
    than those encoded, or an architecture other than the one written, fails the checksum. The
    model is built (drawing from torch's random number generator, as ``spec.build()`` does)
    only for a file that passes every check.
    """
    reader = FORMAT.reader(data)
    spec, architecture, shapes = _read_spec(reader)
    read = _read_weights_format_2 if reader.version == 2 else _read_weights
    tensors, crc = read(reader, shapes)
    if _crc(architecture, tensors) != crc:
        raise FORMAT.damaged("failed its checksum: the decoded model differs from the one written")
    model = spec.build()
    with torch.no_grad():
        for p, tensor in zip(model.parameters(), tensors, strict=True):
            p.copy_(tensor)
    return model


def decode_spec(data: bytes) -> ModelSpec:
    """The model spec a weight file holds, checked as :func:`decode_model` checks it (its
    weights are not decoded). Format 3 gives the :func:`canonical_spec` of the spec encoded."""
    return _read_spec(FORMAT.reader(data))[0]


def read_model(path: str | Path) -> nn.Module:
    """Decode a weight file from disk."""
    path = Path(path)
    if not path.is_file():
        raise MdlkitError(f"weight file not found: {path}")
    return decode_model(path.read_bytes())
