"""A model builder's keyword arguments as varints, each coded under its type hint.

Format 3 of the weight file (:mod:`mdlkit.coding.architecture`) writes every argument of a
builder this way ("varint": unsigned LEB128, :mod:`~mdlkit.coding.container`):

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

The reader trusts nothing: an index past its choices, a string that is not UTF-8, more than
1024 list items in all or lists nested deeper than 16 are a :class:`SpecError`.

>>> from mdlkit.coding.container import FileFormat, Writer
>>> w = Writer()
>>> write_value(w, [64, 32, 10], list[int]); write_value(w, "relu", str)
>>> w.getvalue().hex(" ")
'03 40 20 0a 01'
>>> reader = FileFormat("example file", b"EXMP", 1).reader(b"EXMP\\x01" + w.getvalue())
>>> values = ValueReader(reader)
>>> values.value(list[int]), values.value(str)
([64, 32, 10], 'relu')
"""

from __future__ import annotations

import math
import struct
import types
import typing
from collections.abc import Sequence
from typing import Any

import numpy as np

from mdlkit.coding.container import Reader, Writer

__all__ = ["WORDS", "SpecError", "ValueReader", "fits", "write_value"]

WORDS: tuple[str, ...] = ("relu", "tanh", "gelu", "learned", "sinusoidal", "lstm", "gru")
"""Strings a format-3 file codes as one byte (the index + 1) wherever a builder takes a ``str``.
APPEND ONLY; any other string is written out."""

# Bounds for a damaged architecture: real ones take under 10 list items.
_MAX_ITEMS = 1024
_MAX_DEPTH = 16
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
# The tags of a value coded without a type hint (module docstring).
_NONE, _FALSE, _TRUE, _INT, _NEGATIVE, _FLOAT32, _FLOAT64, _STR, _LIST = range(9)


class SpecError(ValueError):
    """A model spec that no weight file may hold; the message completes "its model spec …"."""


def fits(value: Any, hint: Any) -> bool:
    """Whether the JSON-like ``value`` has the type ``hint`` that a model builder declares.

    Knows None, bool, int, float, str, unions, Literal and sequences (a list); a hint it does
    not know accepts any value, the builder still checks it.

    >>> fits([1, 2], list[int]), fits([1, 2.5], list[int]), fits(None, int | None)
    (True, False, True)
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
        return any(fits(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(type(value) is type(arg) and value == arg for arg in args)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(fits, value, args))
        return all(fits(item, args[0]) for item in value) if args else True
    return True


# --- writing ---------------------------------------------------------------------------------


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
            raise SpecError(f"has a float argument that is not finite ({value})")
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
        raise SpecError(f"has an argument no weight file can describe ({type(value).__name__})")


def write_value(w: Writer, value: Any, hint: Any) -> None:
    """``value`` (which has the type ``hint``: :func:`fits`) under ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return
    if hint is bool:
        w.varint(int(value))
    elif hint is int:
        if value < 0:
            raise SpecError(
                f"has a negative integer argument ({value}), which format 3 cannot hold"
            )
        w.varint(value)
    elif hint is str:
        _write_str(w, value)
    elif origin is typing.Literal:
        w.varint(next(i for i, arg in enumerate(args) if type(value) is type(arg) and value == arg))
    elif origin in (typing.Union, types.UnionType):
        i = next(i for i, arg in enumerate(args) if fits(value, arg))
        w.varint(i)
        write_value(w, value, args[i])
    elif origin in (list, tuple, Sequence) and args:
        if origin is tuple and args[-1] is not Ellipsis:
            for item, arg in zip(value, args, strict=True):
                write_value(w, item, arg)
        else:
            w.varint(len(value))
            for item in value:
                write_value(w, item, args[0])
    else:  # float, Any, a bare list, a hint not known here
        _write_any(w, value)


# --- reading ---------------------------------------------------------------------------------


class ValueReader:
    """Reads the values of an architecture, with a budget of list items in all (and, in
    :meth:`any`, a bound on their nesting)."""

    def __init__(self, reader: Reader) -> None:
        self.reader, self.items_left = reader, _MAX_ITEMS

    def charge(self, n: int) -> None:
        """Charge a list of ``n`` items, before they are read: a damaged length allocates
        nothing (every other value takes a byte, or is an argument of the builder)."""
        self.items_left -= n
        if self.items_left < 0:
            raise SpecError(f"has more than {_MAX_ITEMS} list items in all")

    def _index(self, n: int, what: str) -> int:
        i = self.reader.varint("architecture")
        if i >= n:
            raise SpecError(f"has {what} index {i} where there are {n}")
        return i

    def string(self) -> str:
        i = self.reader.varint("architecture")
        if i > len(WORDS):
            raise SpecError(f"names word {i} where there are {len(WORDS)}")
        if i:
            return WORDS[i - 1]
        try:
            return self.reader.section("architecture").decode()
        except UnicodeDecodeError:
            raise SpecError("has a string that is not UTF-8") from None

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
            raise SpecError(f"nests lists more than {_MAX_DEPTH} deep")
        n = self.reader.varint("architecture")
        self.charge(n)
        return [self.any(depth + 1) for _ in range(n)]

    def value(self, hint: Any) -> Any:
        """The next value, coded under ``hint`` (:func:`write_value`)."""
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
            self.charge(n)
            return [self.value(args[0]) for _ in range(n)]
        return self.any()
