"""The index at the end of an archive (versions 3 and 4), and listings that read only it.

The index is the archive's last record (tag 5), followed by a 4-byte footer holding its size
on disk, so a reader that can seek finds it from the end of the file. It names every record
before it: tag, bytes on disk, the original bytes it decodes to on its own and their CRC-32 —
online blocks are independent, so a block's entry is all a parallel decoder or a listing needs
(a two-part model and its chunks decode together: they name 0 bytes). Then the original's
length and CRC-32. An entry costs 7 to 15 bytes; an empty input's index is 12 bytes with its
footer.

:func:`list_archive` reads the header and, when the archive is a seekable file of version 3 or
later, the index alone (``mdlz -l`` on a 1 GB archive reads a few hundred bytes): it checks
their CRCs and that the records' sizes add up to the index's position, but not the blocks themselves
(``mdlz -t`` decodes them). From a pipe, or for versions 1 and 2, it walks every record in
order (their CRCs checked), still without decoding.

>>> from mdlkit.compression.archive import STORED
>>> index = Index((Entry(STORED, 11, 3, zlib.crc32(b"abc")),), 3, zlib.crc32(b"abc"))
>>> Index.from_body(index.to_body()) == index, len(index.to_body())
(True, 13)
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO, cast

from mdlkit.coding.container import Writer
from mdlkit.compression.archive import (
    CHUNK,
    CODED,
    END,
    FORMAT,
    INDEPENDENT_BLOCKS,
    INDEX,
    MAX_BODY,
    MODEL,
    STORED,
    Header,
    Record,
    damaged,
    parse_coded,
    parse_end,
    read_header,
    read_record,
    read_records,
    write_record,
)

__all__ = ["Entry", "Index", "Listing", "entry_of", "list_archive", "write_index"]

_FOOTER = 4
_BLOCK_TAGS = {"online": (CODED, STORED), "two-part": (MODEL, CHUNK, STORED)}


@dataclass(frozen=True)
class Entry:
    """One record as the index names it."""

    tag: int
    size: int  # bytes on disk: tag, length, body, CRC
    length: int  # original bytes it decodes to on its own (0: a two-part model or chunk)
    crc: int  # their CRC-32


@dataclass(frozen=True)
class Index:
    """Every record's entry, then the original's length and CRC-32."""

    entries: tuple[Entry, ...]
    length: int
    crc: int

    def to_body(self) -> bytes:
        w = Writer()
        w.varint(len(self.entries))
        for e in self.entries:
            w.u8(e.tag)
            w.varint(e.size)
            w.varint(e.length)
            w.u32(e.crc)
        w.varint(self.length)
        w.u32(self.crc)
        return w.getvalue()

    @classmethod
    def from_body(cls, body: bytes) -> Index:
        r = FORMAT.reader(FORMAT.magic + bytes([FORMAT.version]) + body)
        count = r.varint("index's count")
        if count > len(body) // 7:  # an entry takes at least 7 bytes
            raise damaged("its index has an impossible count")
        entries = tuple(
            Entry(
                r.u8("index entry"),
                r.varint("index entry"),
                r.varint("index entry"),
                r.u32("index entry"),
            )
            for _ in range(count)
        )
        length, crc = r.varint("index's length"), r.u32("index's CRC")
        r.end()
        return cls(entries, length, crc)

    def check(self, header: Header) -> None:
        """Refuse an index no writer makes for this header: a record that does not belong to
        its mode, an online block longer than the header's block size, or lengths that do not
        add up."""
        block_bytes = header.settings.get("block_bytes", MAX_BODY)
        for e in self.entries:
            if e.tag not in _BLOCK_TAGS.get(header.mode, ()):
                raise damaged("its index names a record that does not belong there")
            if header.mode == "online" and not 0 < e.length <= block_bytes:
                raise damaged("its index gives a block an impossible length")
        if header.mode == "online" and sum(e.length for e in self.entries) != self.length:
            raise damaged("its index's lengths do not add up")


def entry_of(record: Record, version: int = FORMAT.version) -> Entry:
    """The index entry of a record, from the record alone (nothing is decoded: a version-3
    coded block carries its length and CRC)."""
    if record.tag == CODED:
        coded = parse_coded(record.body, MAX_BODY, version)
        return Entry(CODED, record.size, coded.length, coded.crc or 0)
    if record.tag == STORED:
        return Entry(STORED, record.size, len(record.body), zlib.crc32(record.body))
    return Entry(record.tag, record.size, 0, 0)


def write_index(out: BinaryIO, index: Index) -> int:
    """Write the index record and the footer after it; the number of bytes written."""
    size = write_record(out, INDEX, index.to_body())
    out.write(size.to_bytes(_FOOTER, "little"))
    return size + _FOOTER


@dataclass(frozen=True)
class Listing:
    """An archive's sizes and settings, read without decoding (``mdlz -l``)."""

    header: Header
    archive_bytes: int
    original_bytes: int
    crc: int
    bytes_by_record: dict[str, int]  # bytes on disk by kind of record
    blocks: int  # records holding data (coded and stored blocks, a model and its chunks)
    index_only: bool  # True: only the header and the index were read

    @property
    def ratio(self) -> float:
        """Original bytes per archive byte (0 for an empty original)."""
        return self.original_bytes / self.archive_bytes if self.original_bytes else 0.0


def list_archive(src: BinaryIO) -> Listing:
    """The listing of the archive in ``src``: from the header and the index alone when ``src``
    is a seekable file of version 3 or later, else by walking every record (CRCs checked); a damaged
    archive is a one-line :class:`~mdlkit.errors.MdlkitError`."""
    start = src.tell() if _seekable(src) else None
    counting = _Counting(src)
    header = read_header(cast(BinaryIO, counting))  # reads like the stream it wraps
    if header.version >= INDEPENDENT_BLOCKS and start is not None:
        return _from_index(src, header, start, start + counting.count)
    sizes: dict[str, int] = {}
    entries: list[Entry] = []
    length, crc = 0, 0
    for record in read_records(cast(BinaryIO, counting), header.version):
        sizes[record.kind] = sizes.get(record.kind, 0) + record.size
        if record.tag == END:
            length, crc = parse_end(record.body)
        elif record.tag == INDEX:
            index = _checked(Index.from_body(record.body), header, tuple(entries))
            length, crc = index.length, index.crc
        else:
            entries.append(entry_of(record, header.version))
    return Listing(header, counting.count, length, crc, sizes, len(entries), False)


def _checked(index: Index, header: Header, seen: tuple[Entry, ...]) -> Index:
    index.check(header)
    if index.entries != seen:
        raise damaged("its index does not match its records")
    return index


def _seekable(src: BinaryIO) -> bool:
    try:
        return src.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _from_index(src: BinaryIO, header: Header, start: int, header_end: int) -> Listing:
    size = src.seek(0, io.SEEK_END)
    if size < header_end + _FOOTER:
        raise damaged("it ends before its index")
    src.seek(size - _FOOTER)
    index_bytes = int.from_bytes(src.read(_FOOTER), "little")
    if not 0 < index_bytes <= min(size - header_end - _FOOTER, MAX_BODY):
        raise damaged("its footer gives an impossible index size")
    src.seek(size - _FOOTER - index_bytes)
    record = read_record(src.read(index_bytes), INDEX)
    index = Index.from_body(record.body)
    index.check(header)
    if header_end + sum(e.size for e in index.entries) != size - _FOOTER - index_bytes:
        raise damaged("its index does not match the size of its records")
    sizes: dict[str, int] = {}
    for e in index.entries:
        kind = Record(e.tag, b"").kind
        sizes[kind] = sizes.get(kind, 0) + e.size
    sizes["index"] = index_bytes
    return Listing(header, size - start, index.length, index.crc, sizes, len(index.entries), True)


class _Counting:
    """A reader that counts the bytes read through it."""

    def __init__(self, src: BinaryIO) -> None:
        self.src, self.count = src, 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        self.count += len(data)
        return data
