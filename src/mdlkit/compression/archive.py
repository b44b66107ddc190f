"""The archive file (``.mdlz``): everything a decoder needs, the payload, then an index.

Layout of versions 3 to 5 (5 written now), on the :mod:`~mdlkit.coding.container`'s field types::

    "MDLZ"  version (u8)  header (section)  CRC-32 of all bytes so far (u32)
    record*               each: tag (u8)  body (section)  CRC-32 of tag + body (u32)
    index record          tag 5, body: varint count, then per record: tag (u8), its bytes on
                          disk (varint), the original bytes it decodes to (varint) and their
                          CRC-32 (u32); then the original's length (varint) and CRC-32 (u32)
    footer                the index record's bytes on disk (u32)

The header names the mode (``online`` or ``two-part``), the level, the predictor and its
settings (segments per block, block size, table size), the library versions and, where floating
point enters (the two-part mode's network), the torch version, thread count, dtype and CPU
capability the probabilities were computed with. Since version 2 the header starts with a
layout byte: 1 = the online mode's fields in binary (level u8, predictor section, segments
varint, block bytes varint, table bits u8, mdlkit version section), 0 = compact JSON (the
two-part mode). Version 1 (still read) had the JSON alone and no table size.

Records are coded blocks (tag 1), stored blocks (tag 2: the bytes themselves), a weight file
(tag 3) and its data chunks (tag 4). In version 3 every online block is independent (a fresh
model, tables sized to the block) and its coded record says all it needs: varint length, table
bits (u8), the block's CRC-32 (u32), since version 5 its record length (varint, 0 = none) and
flags (u8; 1 = markup model on; see :mod:`~mdlkit.compression.structure`), the code
(versions 4 and 5: the bytes of :mod:`~mdlkit.compression.binary_coder`; version 3:
constriction's range-coder words, 32-bit little endian, still read); so blocks decode in
parallel, and
the index at the end (found from the footer, :mod:`~mdlkit.compression.archive_index`) lets a
listing read the header and the index only. Versions 1 and 2 (still read) carried the model
from one block to the next, had no table bits or CRC in a coded record, and ended with an end
record (tag 0: varint length of the original + its CRC-32) instead of the index and footer.

Every record carries its own CRC, so damage is found before the damaged part is decoded, and
the index's CRCs of the original catch anything else: a damaged, truncated or foreign archive
is a one-line :class:`~mdlkit.errors.MdlkitError`, never wrong output. Archives are written and
read as streams, one record at a time (the index goes last, so nothing is ever rewritten and a
pipe can carry an archive both ways).
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mdlkit.coding.container import FileFormat, Reader, Writer
from mdlkit.errors import MdlkitError

__all__ = [
    "BINARY_CODER",
    "FORMAT",
    "MARKUP_FLAG",
    "Coded",
    "Header",
    "Record",
    "coded_body",
    "damaged",
    "end_body",
    "parse_coded",
    "parse_end",
    "read_header",
    "read_record",
    "read_records",
    "write_header",
    "write_record",
]

FORMAT = FileFormat("mdlkit archive", b"MDLZ", 5, readable=(1, 2, 3, 4, 5))
INDEPENDENT_BLOCKS = 3  # the first version whose online blocks are independent, with an index
BINARY_CODER = 4  # the first version whose blocks are coded by binary_coder, not range coded
RECORDS = 5  # the first version whose coded blocks say their record length and model flags
MARKUP_FLAG = 1  # a coded block's flags: its markup model is on
JSON_LAYOUT, ONLINE_LAYOUT = 0, 1  # the header layouts of versions 2 and later
_ONLINE_SETTINGS = ("predictor", "segments", "block_bytes", "table_bits")
END, CODED, STORED, MODEL, CHUNK, INDEX = 0, 1, 2, 3, 4, 5
_TAGS = {END: "end", CODED: "coded block", STORED: "stored block", MODEL: "model", CHUNK: "chunk",
         INDEX: "index"}  # fmt: skip
# The largest body a record may declare: a damaged length must not make the reader allocate it.
MAX_BODY = 1 << 30
_MAX_HEADER = 1 << 16
_DAMAGED = "the archive is damaged or incomplete; make it again from the original"


def damaged(problem: str) -> MdlkitError:
    """The one-line error for a damaged archive: what is wrong, and what to do."""
    return MdlkitError(f"{FORMAT.kind} is damaged: {problem} ({_DAMAGED})")


@dataclass(frozen=True)
class Header:
    """What the decoder needs besides the records: mode, level and the settings of the coder."""

    mode: str
    level: int
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    version: int = field(default=FORMAT.version, compare=False)  # of the archive it was read from

    def to_json(self) -> bytes:
        body = {"mode": self.mode, "level": self.level, "settings": self.settings,
                "environment": self.environment}  # fmt: skip
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        """The header as versions 2 and 3 write it: binary for the online mode, else JSON."""
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
            return cls.from_json(data if version == 1 else data[1:], version)
        if not data or data[0] != ONLINE_LAYOUT:
            raise damaged("its header has an unknown layout")
        r = Reader(FORMAT, data, 1, version)
        level = r.u8("header's level")
        predictor = r.section("header's predictor")
        settings = {"predictor": predictor.decode("ascii", "replace"),
                    "segments": r.varint("header's segments"),
                    "block_bytes": r.varint("header's block size"),
                    "table_bits": r.u8("header's table size")}  # fmt: skip
        made_by = r.section("header's mdlkit version").decode("ascii", "replace")
        r.end()
        return cls("online", level, settings, {"mdlkit": made_by}, version)

    @classmethod
    def from_json(cls, data: bytes, version: int = FORMAT.version) -> Header:
        try:
            body = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise damaged("its header is not valid JSON") from None
        if not isinstance(body, dict):
            raise damaged("its header is not a JSON object")
        mode, level = body.get("mode"), body.get("level")
        settings, environment = body.get("settings"), body.get("environment")
        if (
            not isinstance(mode, str)
            or not isinstance(level, int)
            or not isinstance(settings, dict)
            or not isinstance(environment, dict)
        ):
            raise damaged("its header lacks the mode, level or settings")
        return cls(mode, level, settings, environment, version)


@dataclass(frozen=True)
class Record:
    """One record: its tag, body and size on disk (tag, length, body and CRC)."""

    tag: int
    body: bytes
    size: int = 0

    @property
    def kind(self) -> str:
        return _TAGS[self.tag]


def write_header(out: BinaryIO, header: Header, version: int = FORMAT.version) -> int:
    """Write magic, version and header; the number of bytes written. ``version`` 2 to 4 (the
    same header, for tests of old archives) or 5 (the current one)."""
    if version not in (2, 3, 4, 5):
        raise ValueError(f"headers of version {version} are not written")
    w = Writer(FORMAT.magic + bytes([version]))
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


def coded_body(
    length: int,
    payload: bytes,
    table_bits: int | None = None,
    crc: int = 0,
    record: int | None = None,
    flags: int = 0,
) -> bytes:
    """A coded block record's body: the block's length, then (versions 3 and later:
    ``table_bits`` given) its table bits and CRC-32, then (version 5: ``record`` given) its
    record length and ``flags``, then its code."""
    w = Writer()
    w.varint(length)
    if table_bits is not None:
        w.u8(table_bits)
        w.u32(crc)
    if record is not None:
        w.varint(record)
        w.u8(flags)
    w.raw(payload)
    return w.getvalue()


@dataclass(frozen=True)
class Coded:
    """A coded block record's fields (table bits and CRC: versions 3 and later, else None;
    record length and flags: version 5, else 0)."""

    length: int
    payload: bytes
    table_bits: int | None = None
    crc: int | None = None
    record: int = 0
    flags: int = 0


def parse_coded(body: bytes, block_bytes: int, version: int = FORMAT.version) -> Coded:
    """The fields of a coded block record, checked against the header's block size."""
    src = io.BytesIO(body)
    s = _Stream(src)
    length, _ = s.varint("coded block")
    table_bits = crc = None
    record = flags = 0
    if version >= INDEPENDENT_BLOCKS:
        table_bits = s.take(1, "coded block")[0]
        crc = s.u32("coded block")
    if version >= RECORDS:
        record, _ = s.varint("coded block")
        flags = s.take(1, "coded block")[0]
    payload = src.read()
    words = version < BINARY_CODER  # a range coder's payload is whole 32-bit words
    if not 0 < length <= block_bytes or (words and len(payload) % 4) or len(payload) >= length:
        raise damaged("a coded block's length does not fit its payload")
    return Coded(length, payload, table_bits, crc, record, flags)


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
        raise damaged("its end record is too long")
    return length, crc


class _Stream:
    """Reads the container's field types from a binary stream, every shortfall an error."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src

    def take(self, n: int, what: str) -> bytes:
        data = self.src.read(n)
        if len(data) != n:
            raise damaged(f"it ends inside its {what}")
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
                raise damaged(f"its {what} has an impossible length")

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
        raise damaged("its header has an impossible length")
    body = s.take(n, "header")
    if s.u32("header checksum") != zlib.crc32(prefix + raw_n + body):
        raise damaged("its header fails its checksum")
    return Header.from_bytes(body, prefix[4])


def _read_one(s: _Stream, allowed: tuple[int, ...]) -> Record:
    tag = s.take(1, "record tag")[0]
    if tag not in allowed:
        raise damaged(f"record tag {tag} is unknown here")
    n, raw_n = s.varint(f"{_TAGS[tag]} record")
    if n > MAX_BODY:
        raise damaged(f"its {_TAGS[tag]} record has an impossible length")
    body = s.take(n, f"{_TAGS[tag]} record")
    if s.u32(f"{_TAGS[tag]} checksum") != zlib.crc32(bytes([tag]) + body):
        raise damaged(f"a {_TAGS[tag]} record fails its checksum")
    return Record(tag, body, 1 + len(raw_n) + n + 4)


def read_records(
    src: BinaryIO, version: int = FORMAT.version, on_record: Callable[[Record], None] | None = None
) -> Iterator[Record]:
    """The records after the header, each checked against its CRC, up to and including the
    last one (version 3: the index, then its footer is checked; earlier: the end record); then
    makes sure nothing follows."""
    s = _Stream(src)
    last = INDEX if version >= INDEPENDENT_BLOCKS else END
    allowed = (last, CODED, STORED, MODEL, CHUNK)
    while True:
        record = _read_one(s, allowed)
        if record.tag == INDEX and s.u32("footer") != record.size:
            raise damaged("its footer does not give its index's size")
        # Checked before the last record is handed out: a caller may stop reading there.
        if record.tag == last and src.read(1):
            raise damaged(f"bytes follow its {_TAGS[last]}")
        if on_record is not None:
            on_record(record)
        yield record
        if record.tag == last:
            return


def read_record(data: bytes, expected: int) -> Record:
    """The record that is all of ``data``, of tag ``expected`` (CRC checked)."""
    src = io.BytesIO(data)
    record = _read_one(_Stream(src), (expected,))
    if src.read(1):
        raise damaged(f"its {_TAGS[expected]} is not where its footer says")
    return record
