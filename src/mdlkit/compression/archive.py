"""The archive file (``.mdlz``): everything a decoder needs, then the payload, then checksums.

Layout, on the :mod:`~mdlkit.coding.container`'s field types::

    "MDLZ"  version (u8)  header (section)  CRC-32 of all bytes so far (u32)
    record*               each: tag (u8)  body (section)  CRC-32 of tag + body (u32)
    end record            tag 0, body = varint length of the original + its CRC-32 (u32)

The header names the mode (``online`` or ``two-part``), the level, the predictor and its
settings (segments per block, block size, table size), the library versions and, where floating
point enters (the two-part mode's network), the torch version, thread count, dtype and CPU
capability the probabilities were computed with. Version 2 (written now) starts the header with
a layout byte: 1 = the online mode's fields in binary (level u8, predictor section, segments
varint, block bytes varint, table bits u8, mdlkit version section: an empty input's archive is
39 bytes), 0 = compact JSON (the two-part mode). Version 1 (still read) had the JSON alone and
no table size: its online archives were coded with the largest tables. Records are coded blocks
(tag 1: varint length + range coder words), stored blocks (tag 2: the bytes themselves), a
weight file (tag 3) and its data chunks (tag 4). Every record carries its own CRC, so damage is
found before the damaged part is decoded, and the end record's CRC of the original catches
anything else: a damaged, truncated or foreign archive is a one-line
:class:`~mdlkit.errors.MdlkitError`, never wrong output.

Archives are written and read as streams, one record at a time: memory stays bounded by the
model's tables plus a couple of blocks (:data:`~mdlkit.compression.online.BLOCK_BYTES`) for any
input size in the online mode.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from mdlkit.coding.container import FileFormat, Reader, Writer
from mdlkit.errors import MdlkitError

__all__ = [
    "FORMAT",
    "Header",
    "Listing",
    "Record",
    "coded_body",
    "end_body",
    "list_archive",
    "parse_coded",
    "parse_end",
    "read_header",
    "read_records",
    "write_header",
    "write_record",
]

FORMAT = FileFormat("mdlkit archive", b"MDLZ", 2, readable=(1, 2))
JSON_LAYOUT, ONLINE_LAYOUT = 0, 1  # version 2's header layouts
_ONLINE_SETTINGS = ("predictor", "segments", "block_bytes", "table_bits")
END, CODED, STORED, MODEL, CHUNK = 0, 1, 2, 3, 4
_TAGS = {END: "end", CODED: "coded block", STORED: "stored block", MODEL: "model", CHUNK: "chunk"}
# The largest body a record may declare: a damaged length must not make the reader allocate it.
MAX_BODY = 1 << 30
_MAX_HEADER = 1 << 16
_DAMAGED = "the archive is damaged or incomplete; make it again from the original"


def _damaged(problem: str) -> MdlkitError:
    return MdlkitError(f"{FORMAT.kind} is damaged: {problem} ({_DAMAGED})")


@dataclass(frozen=True)
class Header:
    """What the decoder needs besides the records: mode, level and the settings of the coder."""

    mode: str
    level: int
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {"mode": self.mode, "level": self.level, "settings": self.settings,
                "environment": self.environment}  # fmt: skip
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        """The header as version 2 writes it: binary for the online mode, else JSON."""
        w = Writer()
        if (
            self.mode == "online"
            and sorted(self.settings) == sorted(_ONLINE_SETTINGS)
            and list(self.environment) == ["mdlkit"]
        ):
            w.u8(ONLINE_LAYOUT)
            w.u8(self.level)
            w.section(str(self.settings["predictor"]).encode())
            w.varint(self.settings["segments"])
            w.varint(self.settings["block_bytes"])
            w.u8(self.settings["table_bits"])
            w.section(str(self.environment["mdlkit"]).encode())
        else:
            w.u8(JSON_LAYOUT)
            w.raw(self.to_json())
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, version: int) -> Header:
        """The header of a version-``version`` archive from its bytes."""
        if version == 1 or (data and data[0] == JSON_LAYOUT):
            return cls.from_json(data if version == 1 else data[1:])
        if not data or data[0] != ONLINE_LAYOUT:
            raise _damaged("its header has an unknown layout")
        r = Reader(FORMAT, data, 1, version)
        level = r.u8("header's level")
        predictor = r.section("header's predictor")
        settings = {"predictor": predictor.decode("ascii", "replace"),
                    "segments": r.varint("header's segments"),
                    "block_bytes": r.varint("header's block size"),
                    "table_bits": r.u8("header's table size")}  # fmt: skip
        made_by = r.section("header's mdlkit version").decode("ascii", "replace")
        r.end()
        return cls("online", level, settings, {"mdlkit": made_by})

    @classmethod
    def from_json(cls, data: bytes) -> Header:
        try:
            body = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _damaged("its header is not valid JSON") from None
        if not isinstance(body, dict):
            raise _damaged("its header is not a JSON object")
        mode, level = body.get("mode"), body.get("level")
        settings, environment = body.get("settings"), body.get("environment")
        if (
            not isinstance(mode, str)
            or not isinstance(level, int)
            or not isinstance(settings, dict)
            or not isinstance(environment, dict)
        ):
            raise _damaged("its header lacks the mode, level or settings")
        return cls(mode, level, settings, environment)


@dataclass(frozen=True)
class Record:
    """One record: its tag and body (the end record's body is parsed into length and CRC)."""

    tag: int
    body: bytes


def write_header(out: BinaryIO, header: Header) -> int:
    """Write magic, version and header; the number of bytes written."""
    w = FORMAT.writer()
    w.section(header.to_bytes())
    data = w.getvalue()
    w2 = Writer(data)
    w2.u32(zlib.crc32(data))
    out.write(w2.getvalue())
    return len(w2)


def write_record(out: BinaryIO, tag: int, body: bytes) -> int:
    """Write one record; the number of bytes written."""
    w = Writer()
    w.u8(tag)
    w.section(body)
    data = w.getvalue()
    w2 = Writer(data)
    w2.u32(zlib.crc32(bytes([tag]) + body))
    out.write(w2.getvalue())
    return len(w2)


def coded_body(length: int, payload: bytes) -> bytes:
    """A coded block record's body: the block's length, then its range-coder words."""
    w = Writer()
    w.varint(length)
    w.raw(payload)
    return w.getvalue()


def parse_coded(body: bytes, block_bytes: int) -> tuple[int, bytes]:
    """(length, payload) of a coded block record, checked against the header's block size."""
    src = io.BytesIO(body)
    length, _ = _Stream(src).varint("coded block")
    payload = src.read()
    if not 0 < length <= block_bytes or len(payload) % 4 or len(payload) >= length:
        raise _damaged("a coded block's length does not fit its payload")
    return length, payload


def end_body(length: int, crc: int) -> bytes:
    """The end record's body: the original's length and CRC-32."""
    w = Writer()
    w.varint(length)
    w.u32(crc)
    return w.getvalue()


def parse_end(body: bytes) -> tuple[int, int]:
    """(length, CRC-32) of the original from an end record's body."""
    src = io.BytesIO(body)
    s = _Stream(src)
    length, _ = s.varint("end record")
    crc = s.u32("end record")
    if src.read(1):
        raise _damaged("its end record is too long")
    return length, crc


class _Stream:
    """Reads the container's field types from a binary stream, every shortfall an error."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src

    def take(self, n: int, what: str) -> bytes:
        data = self.src.read(n)
        if len(data) != n:
            raise _damaged(f"it ends inside its {what}")
        return data

    def varint(self, what: str) -> tuple[int, bytes]:
        value, shift, raw = 0, 0, bytearray()
        while True:
            byte = self.take(1, what)[0]
            raw.append(byte)
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, bytes(raw)
            shift += 7
            if len(raw) >= 10:
                raise _damaged(f"its {what} has an impossible length")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "little")


def read_header(src: BinaryIO) -> Header:
    """Read and check magic, version and header from the start of an archive."""
    s = _Stream(src)
    prefix = src.read(5)
    if len(prefix) < 5 or prefix[:4] != FORMAT.magic:
        raise MdlkitError(
            f"not an {FORMAT.kind} (it does not start with {FORMAT.magic.decode()}); "
            "give a file made by `mdlkit compress`"
        )
    if prefix[4] not in FORMAT.readable:
        raise MdlkitError(
            f"{FORMAT.kind} version {prefix[4]} is not supported (this mdlkit reads versions "
            f"{', '.join(map(str, FORMAT.readable))}); decompress it with the mdlkit that made it"
        )
    n, raw_n = s.varint("header")
    if n > _MAX_HEADER:
        raise _damaged("its header has an impossible length")
    body = s.take(n, "header")
    if s.u32("header checksum") != zlib.crc32(prefix + raw_n + body):
        raise _damaged("its header fails its checksum")
    return Header.from_bytes(body, prefix[4])


def read_records(
    src: BinaryIO, on_record: Callable[[Record], None] | None = None
) -> Iterator[Record]:
    """The records after the header, each checked against its CRC; stops after the end record
    and makes sure nothing follows it."""
    s = _Stream(src)
    while True:
        tag = s.take(1, "record tag")[0]
        if tag not in _TAGS:
            raise _damaged(f"record tag {tag} is unknown")
        n, _ = s.varint(f"{_TAGS[tag]} record")
        if n > MAX_BODY:
            raise _damaged(f"its {_TAGS[tag]} record has an impossible length")
        body = s.take(n, f"{_TAGS[tag]} record")
        if s.u32(f"{_TAGS[tag]} checksum") != zlib.crc32(bytes([tag]) + body):
            raise _damaged(f"a {_TAGS[tag]} record fails its checksum")
        record = Record(tag, body)
        if on_record is not None:
            on_record(record)
        yield record
        if tag == END:
            if src.read(1):
                raise _damaged("bytes follow its end record")
            return


@dataclass(frozen=True)
class Listing:
    """An archive's sizes and settings, read without decoding (``mdlz -l``): every record's
    CRC is checked, no byte of the original is computed."""

    header: Header
    archive_bytes: int
    original_bytes: int
    crc: int
    bytes_by_record: dict[str, int]

    @property
    def ratio(self) -> float:
        """Original bytes per archive byte (0 for an empty original)."""
        return self.original_bytes / self.archive_bytes if self.original_bytes else 0.0


def list_archive(src: BinaryIO) -> Listing:
    """Walk ``src``'s records (checksums checked) and return their sizes, the original's length
    and CRC-32 from the end record; a damaged archive is a one-line :class:`MdlkitError`."""
    counting = _Counting(src)
    counted = cast(BinaryIO, counting)  # reads like the stream it wraps
    header = read_header(counted)
    sizes: dict[str, int] = {}
    length, crc = 0, 0
    for record in read_records(counted):
        sizes[_TAGS[record.tag]] = sizes.get(_TAGS[record.tag], 0) + len(record.body)
        if record.tag == END:
            length, crc = parse_end(record.body)
    return Listing(header, counting.count, length, crc, sizes)


class _Counting:
    """A reader that counts the bytes read through it."""

    def __init__(self, src: BinaryIO) -> None:
        self.src, self.count = src, 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        self.count += len(data)
        return data
