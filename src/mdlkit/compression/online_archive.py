"""The online mode's records: written as independent blocks with an index (version 4; version 3
still read, its blocks range coded), read back in parallel, and the chained blocks of versions
1 and 2 still read.

An archive's independent blocks go to :class:`~mdlkit.compression.blocks.Workers` as they are read
and come back in order, so both directions stream with memory bounded by a few blocks per
worker; every block is checked against its own CRC-32 as it is decoded, the index against the
records once they have all been read, and the whole against the index's length and CRC-32.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import BinaryIO

from mdlkit.compression.archive import (
    CODED,
    END,
    INDEX,
    STORED,
    Header,
    damaged,
    parse_coded,
    parse_end,
    read_records,
    write_record,
)
from mdlkit.compression.archive_index import Entry, Index, entry_of, write_index
from mdlkit.errors import MdlkitError

__all__ = ["MIN_BLOCK_BYTES", "check_block_bytes", "decode_blocks", "decode_chained",
           "encode_blocks", "parse_size"]  # fmt: skip

MIN_BLOCK_BYTES = 1 << 8
MAX_BLOCK_BYTES = 1 << 27  # the largest block size a header may declare


def check_block_bytes(block_bytes: int) -> int:
    """``block_bytes`` if it is a usable block size, else a one-line error."""
    if not MIN_BLOCK_BYTES <= block_bytes <= MAX_BLOCK_BYTES:
        raise MdlkitError(f"a block size of {block_bytes:,} bytes is out of range; give "
                          f"{MIN_BLOCK_BYTES} bytes to {MAX_BLOCK_BYTES >> 20} MiB")  # fmt: skip
    return block_bytes


def parse_size(text: str) -> int:
    """Bytes from a size such as ``65536``, ``256K``, ``256KiB`` or ``8M`` (binary units, as xz
    reads them); a one-line error for anything else.

    >>> parse_size("256K"), parse_size("8MiB"), parse_size("4096")
    (262144, 8388608, 4096)
    """
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    stripped = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = stripped.rstrip("KMG"), stripped[len(stripped.rstrip("KMG")) :]
    if not number.isdigit() or unit not in units:
        raise MdlkitError(f"cannot read the size {text!r}; give bytes, or a number with K or M "
                          "(e.g. 256K, 8M)")  # fmt: skip
    return check_block_bytes(int(number) * units[unit])


def _read_blocks(src: BinaryIO, size: int) -> Iterator[bytes]:
    while True:
        block = src.read(size)
        if not block:
            return
        while len(block) < size:  # a pipe may return short reads before its end
            more = src.read(size - len(block))
            if not more:
                break
            block += more
        yield block


class _Original:
    """The running length, CRC-32 and (for a summary) callback of the original bytes."""

    def __init__(self, add: Callable[[bytes], None]) -> None:
        self.length, self.crc, self._add = 0, 0, add

    def add(self, data: bytes) -> None:
        self.length += len(data)
        self.crc = zlib.crc32(data, self.crc)
        self._add(data)


def encode_blocks(
    first: bytes,
    src: BinaryIO,
    dst: BinaryIO,
    *,
    segments: int,
    block_bytes: int,
    threads: int,
    add: Callable[[bytes], None],
    predictor: str = "cm1",
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
) -> tuple[int, float]:
    """Code ``first`` and the rest of ``src`` as independent blocks of ``block_bytes`` (the
    first one already read), write their records and the index to ``dst``; ``add`` sees every
    block of the original; ``predictor`` names the model's arithmetic. Returns (bytes written,
    ideal bits)."""
    from mdlkit.compression.blocks import Workers, encode_block

    if probabilities is not None and threads != 1:
        raise ValueError("probabilities are recorded with one thread only")
    original, pending, written, ideal, done = _Original(add), deque[tuple[int, int]](), 0, 0.0, 0
    entries: list[Entry] = []

    def in_block(n: int) -> None:
        if progress is not None:
            progress(original.length - pending[0][0] + n)

    def tasks() -> Iterator[tuple[object, ...]]:
        for block in _chain(first, _read_blocks(src, block_bytes)):
            original.add(block)
            pending.append((len(block), zlib.crc32(block)))
            if threads == 1:  # in this process: progress within a block, probabilities
                yield block, segments, predictor, probabilities, in_block if progress else None
            else:
                yield block, segments, predictor

    with Workers(threads) as workers:
        for tag, body, bits in workers.map(encode_block, tasks()):
            size = write_record(dst, tag, body)
            entries.append(Entry(tag, size, *pending.popleft()))
            written, ideal, done = written + size, ideal + bits, done + entries[-1].length
            if progress is not None:
                progress(done)
    written += write_index(dst, Index(tuple(entries), original.length, original.crc))
    return written, ideal


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def decode_blocks(
    header: Header,
    src: BinaryIO,
    dst: BinaryIO,
    *,
    threads: int,
    add: Callable[[bytes], None],
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
) -> None:
    """Decode the independent blocks of a version-3 or 4 online archive from ``src`` to ``dst``
    (``add`` sees every decoded block); checks each block, the index and the whole."""
    from mdlkit.compression.blocks import Workers, decode_block

    if probabilities is not None and threads != 1:
        raise ValueError("probabilities are recorded with one thread only")
    segments, block_bytes = header.settings["segments"], header.settings["block_bytes"]
    predictor = header.settings["predictor"]
    original, seen, found = _Original(add), list[Entry](), list[Index]()

    def in_block(n: int) -> None:
        if progress is not None:
            progress(original.length + n)

    def tasks() -> Iterator[tuple[object, ...]]:
        for record in read_records(src, header.version):
            if record.tag == INDEX:
                found.append(Index.from_body(record.body))
                return
            if record.tag not in (CODED, STORED):
                raise damaged("a record does not belong in an online archive")
            seen.append(entry_of(record, header.version))
            if threads == 1:
                yield (record.tag, record.body, segments, block_bytes, header.version,
                       predictor, probabilities, in_block if progress else None)  # fmt: skip
            else:
                yield record.tag, record.body, segments, block_bytes, header.version, predictor

    with Workers(threads) as workers:
        for block in workers.map(decode_block, tasks()):
            dst.write(block)
            original.add(block)
            if progress is not None:
                progress(original.length)
    index = found[0]
    index.check(header)
    if index.entries != tuple(seen):
        raise damaged("its index does not match its records")
    _check_whole((index.length, index.crc), original)


def decode_chained(
    header: Header,
    src: BinaryIO,
    dst: BinaryIO,
    *,
    add: Callable[[bytes], None],
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
) -> None:
    """Decode a version-1 or 2 online archive: one model carried across its blocks."""
    from mdlkit.compression.context_mixing import TABLE_BITS
    from mdlkit.compression.online import CodedBlock, OnlineCoder

    segments, block_bytes = header.settings["segments"], header.settings["block_bytes"]
    # Archives of format 1 record no table size: they were coded with the largest tables.
    table_bits = header.settings.get("table_bits", TABLE_BITS)
    original, end = _Original(add), (0, 0)

    def in_block(n: int) -> None:
        if progress is not None:
            progress(original.length + n)

    coder = OnlineCoder(segments, in_block if progress else None, table_bits)
    for record in read_records(src, header.version):
        if record.tag == END:
            end = parse_end(record.body)  # read_records then checks that nothing follows
            continue
        if record.tag == STORED and 0 < len(record.body) <= block_bytes:
            block = coder.decode_words(CodedBlock(len(record.body), True, record.body, 0.0),
                                       probabilities)  # fmt: skip
        elif record.tag == CODED:
            coded = parse_coded(record.body, block_bytes, header.version)
            block = coder.decode_words(CodedBlock(coded.length, False, coded.payload, 0.0),
                                       probabilities)  # fmt: skip
        else:
            raise damaged("a record does not belong in an online archive")
        dst.write(block)
        original.add(block)
        if progress is not None:
            progress(original.length)
    _check_whole(end, original)


def _check_whole(expected: tuple[int, int], original: _Original) -> None:
    if expected != (original.length, original.crc):
        raise MdlkitError(
            "mdlkit archive does not decode to its original (length or checksum differs); "
            "it is damaged, or this machine computes differently from the one that made it"
        )
