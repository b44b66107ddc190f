"""The container of mdlkit's binary files: magic bytes, a format version, then typed fields.

Every file starts with its 4-byte magic and one version byte; what follows is a sequence of

- ``u8``: one byte; ``u32`` and ``f32``: 4 bytes, little-endian;
- ``varint``: an unsigned LEB128 integer (7 bits a byte, high bit = more follows), so a value
  v costs ⌈max(1, bit_length(v)) / 7⌉ bytes;
- ``section``: a varint length n, then n bytes (a JSON config, a payload, …);
- ``rest``: everything up to the end of the file (a payload with no length prefix).

A format fixes which fields come in which order; a :class:`FileFormat` names its kind, magic and
version, makes a :class:`Writer` and checks a file's prefix when it makes a :class:`Reader`. The
reader turns any damage (bad magic, unknown version, a field running past the end, trailing
bytes) into a one-line :class:`~mdlkit.errors.MdlkitError` naming the file kind and the problem.
:func:`crc32` is the checksum formats use for what a file decodes to.

>>> fmt = FileFormat("example file", b"EXMP", 1)
>>> w = fmt.writer()
>>> w.varint(300); w.section(b"{}"); w.f32(0.5)
>>> data = w.getvalue()
>>> data.hex(" ")
'45 58 4d 50 01 ac 02 02 7b 7d 00 00 00 3f'
>>> r = fmt.reader(data)
>>> r.varint("count"), r.section("config"), r.f32("step")
(300, b'{}', 0.5)
>>> r.end()
>>> fmt.reader(data[:-1]).varint("count")
300
>>> fmt.reader(data[:7]).section("config")
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: example file is truncated: its config runs past the end of the file (...)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from mdlkit.errors import MdlkitError

__all__ = ["FileFormat", "Reader", "Writer", "crc32"]

_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")
# 10 LEB128 bytes hold 70 bits: enough for any 64-bit count; a longer run of continuation bytes
# can only be damage, and stopping there keeps a corrupt file from building a huge integer.
_MAX_VARINT_BYTES = 10
_DAMAGED = "the file is damaged; write it again from its source"


def crc32(chunks: Iterable[bytes]) -> int:
    """The CRC-32 (zlib's polynomial) of the concatenated ``chunks``, as an unsigned int.

    >>> crc32([b"123", b"456789"]) == 0xCBF43926
    True
    """
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return crc


@dataclass(frozen=True)
class FileFormat:
    """One kind of mdlkit file: a name for messages, 4 magic bytes and the version written.

    ``readable`` lists the versions a reader accepts (by default only ``version``).
    """

    kind: str
    magic: bytes
    version: int
    readable: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.magic) != 4 or not 0 <= self.version <= 255:
            raise ValueError("a file format needs 4 magic bytes and a version in 0..255")

    def writer(self) -> Writer:
        """A writer that has already written the magic bytes and the version byte."""
        return Writer(self.magic + bytes([self.version]))

    def reader(self, data: bytes) -> Reader:
        """A reader positioned after the checked magic bytes and version byte."""
        prefix = len(self.magic) + 1
        if len(data) < prefix and self.magic.startswith(data[: len(self.magic)]):
            raise self.damaged("is truncated: it ends inside its magic bytes and version")
        if data[: len(self.magic)] != self.magic:
            raise MdlkitError(
                f"not an mdlkit {self.kind}: bad magic bytes (check the path: expected a file "
                f"starting with {self.magic!r})"
            )
        version, readable = data[len(self.magic)], self.readable or (self.version,)
        if version not in readable:
            raise MdlkitError(
                f"{self.kind} format {version} is not supported (this mdlkit reads "
                f"{', '.join(map(str, readable))}); use the mdlkit version that wrote it"
            )
        return Reader(self, bytes(data), prefix, version)

    def damaged(self, problem: str) -> MdlkitError:
        """The error for a damaged file: ``"<kind> <problem> (<what to do>)"``."""
        return MdlkitError(f"{self.kind} {problem} ({_DAMAGED})")


class Writer:
    """Appends fields to a growing file; ``len(writer)`` is its size in bytes so far."""

    def __init__(self, prefix: bytes = b"") -> None:
        self._out = bytearray(prefix)

    def __len__(self) -> int:
        return len(self._out)

    def u8(self, value: int) -> None:
        self._out.append(value)

    def u32(self, value: int) -> None:
        self._out += _U32.pack(value)

    def f32(self, value: float) -> None:
        self._out += _F32.pack(value)

    def varint(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"a varint holds a non-negative integer, got {value}")
        while True:
            byte, value = value & 0x7F, value >> 7
            self._out.append(byte | (0x80 if value else 0))
            if not value:
                return

    def raw(self, data: bytes) -> None:
        """Bytes with no length prefix (the reader must know their length, or read ``rest``)."""
        self._out += data

    def section(self, data: bytes) -> None:
        """A varint length, then ``data``."""
        self.varint(len(data))
        self._out += data

    def getvalue(self) -> bytes:
        return bytes(self._out)


class Reader:
    """A cursor over a file's bytes; every read names its field for the error message."""

    def __init__(self, fmt: FileFormat, data: bytes, position: int, version: int) -> None:
        self.format, self.version = fmt, version
        self._data, self._pos = data, position

    @property
    def position(self) -> int:
        return self._pos

    @property
    def data(self) -> bytes:
        """The whole file (``data[start : position]`` is what was read since ``start``)."""
        return self._data

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise self.format.damaged(f"is truncated: its {what} runs past the end of the file")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self._take(1, what)[0]

    def u32(self, what: str) -> int:
        return int(_U32.unpack(self._take(4, what))[0])

    def f32(self, what: str) -> float:
        return float(_F32.unpack(self._take(4, what))[0])

    def varint(self, what: str) -> int:
        value = 0
        for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
            byte = self._take(1, what)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise self.format.damaged(f"is corrupt: its {what} is not a valid varint")

    def raw(self, n: int, what: str) -> bytes:
        return self._take(n, what)

    def section(self, what: str) -> bytes:
        return self._take(self.varint(f"{what} length"), what)

    def rest(self, what: str, *, multiple_of: int = 1) -> bytes:
        """Everything to the end of the file, whose length must be a multiple of ``multiple_of``."""
        if self.remaining % multiple_of:
            raise self.format.damaged(
                f"is truncated: its {what} is not a whole number of {multiple_of}-byte words"
            )
        return self._take(self.remaining, what)

    def end(self) -> None:
        """Check that nothing follows the last field."""
        if self.remaining:
            raise self.format.damaged(
                f"is corrupt: {self.remaining} unexpected bytes follow its last field"
            )
