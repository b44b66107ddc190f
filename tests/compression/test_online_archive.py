"""Independent blocks with an index at the end (format 3): the same archive for any number of
worker processes, parallel decoding, streaming through pipes, and every kind of damage —
flips, truncations, inserted and appended bytes, a forged index — refused in one line."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdlkit.compression import compress, compress_stream, decompress, decompress_stream
from mdlkit.compression.archive import (
    CODED,
    INDEX,
    STORED,
    coded_body,
    parse_coded,
    read_header,
    read_records,
    write_record,
)
from mdlkit.compression.archive_index import Entry, Index, list_archive, write_index
from mdlkit.compression.online_archive import parse_size
from mdlkit.errors import MdlkitError

TEXT = (Path(__file__).parents[2] / "docs" / "architecture.md").read_bytes()
NOISE = random.Random(1).randbytes(300)
# 3 blocks of 256 bytes: text, random (a stored block), text.
SMALL = TEXT[:256] + NOISE[:256] + TEXT[256:400]
# 60 fixed-length records of 10 bytes (the record models code them), and markup (the markup
# model codes it).
RECORDS = b"".join(i.to_bytes(4, "little") + b"%02d" % (i % 7) + b"item" for i in range(60))
MARKUP = b"".join(b"<li><a href='#%d'>%d</a></li>" % (i, i) for i in range(20))


def _small_archive() -> bytes:
    return compress(SMALL, block_bytes=256)


def _records(archive: bytes) -> list:  # type: ignore[type-arg]
    src = io.BytesIO(archive)
    return list(read_records(src, read_header(src).version))


def test_blocks_are_independent_and_indexed() -> None:
    archive = _small_archive()
    records = _records(archive)
    assert [r.tag for r in records] == [CODED, STORED, CODED, INDEX]
    assert int.from_bytes(archive[-4:], "little") == records[-1].size  # the footer
    index = Index.from_body(records[-1].body)
    assert [(e.length, e.crc) for e in index.entries] == [
        (len(b), zlib.crc32(b)) for b in (SMALL[:256], SMALL[256:512], SMALL[512:])
    ]
    assert (index.length, index.crc) == (len(SMALL), zlib.crc32(SMALL))
    # Each block alone is the archive of that block alone: no state crosses a boundary.
    third = _records(compress(SMALL[512:], block_bytes=256))[0]
    assert third.body == records[2].body


@pytest.mark.parametrize("level", [1, 2, 3])
def test_the_archive_is_the_same_for_any_number_of_workers(level: int) -> None:
    data = (TEXT * 2)[:3000] + NOISE
    archives = [compress(data, level=level, block_bytes=512, threads=n) for n in (1, 2, 3)]
    assert archives[0] == archives[1] == archives[2]
    assert decompress(archives[0], threads=2) == data == decompress(archives[0], threads=1)


def test_workers_are_spawned_while_another_thread_runs_and_code_the_same() -> None:
    from mdlkit.compression.blocks import start_method

    data = (TEXT * 2)[:1500]
    expected = compress(data, block_bytes=512, verify=False)
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)  # as a progress bar's thread would
    busy.start()
    try:
        assert start_method() == "spawn"
        assert compress(data, block_bytes=512, threads=2, verify=False) == expected
    finally:
        stop.set()
        busy.join()
    assert start_method() == ("fork" if sys.platform.startswith("linux") else "spawn")


def test_a_worker_that_dies_is_a_one_line_error_and_ends_the_others() -> None:
    from mdlkit.compression.blocks import Workers

    with pytest.raises(MdlkitError, match="worker process died") as info, Workers(2) as workers:
        list(workers.map(os._exit, [(1,), (1,), (1,)]))  # as the out-of-memory killer would
    assert "\n" not in str(info.value)
    _no_workers_left()


def test_encoder_and_decoder_probabilities_agree_across_blocks() -> None:
    used_by_encoder: list[int] = []
    used_by_decoder: list[int] = []
    out = io.BytesIO()
    compress_stream(io.BytesIO(SMALL), out, block_bytes=256, probabilities=used_by_encoder)
    back = io.BytesIO()
    decompress_stream(io.BytesIO(out.getvalue()), back, probabilities=used_by_decoder)
    assert back.getvalue() == SMALL
    # The stored block's bits are never predicted: a fresh model needs no learning from them.
    assert len(used_by_encoder) == 8 * len(SMALL)
    assert used_by_decoder == used_by_encoder[: 8 * 256] + used_by_encoder[16 * 256 :]


def test_a_pipe_that_returns_short_reads_gives_the_same_archive() -> None:
    class Trickle(io.RawIOBase):  # a pipe delivering at most 100 bytes per read
        def __init__(self, data: bytes) -> None:
            self.src = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self.src.read(min(100, n if n >= 0 else 100))

    out = io.BytesIO()
    compress_stream(Trickle(SMALL), out, block_bytes=256)  # type: ignore[arg-type]
    assert out.getvalue() == _small_archive()


@pytest.mark.parametrize(("text", "size"), [("256", 256), ("4K", 4096), ("1MiB", 1 << 20)])
def test_block_sizes_are_read_in_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "12X", "-1K", "255", "129M", "1.5M"])
def test_impossible_block_sizes_are_one_line_errors(text: str) -> None:
    with pytest.raises(MdlkitError) as info:
        parse_size(text)
    assert "\n" not in str(info.value)


def _refused(archive: bytes, threads_tried: tuple[int, ...] = (1, 2)) -> None:
    for threads in threads_tried:
        with pytest.raises(MdlkitError) as info:
            decompress(archive, threads=threads)
        assert "\n" not in str(info.value)
        _no_workers_left()


def _no_workers_left(seconds: float = 10.0) -> None:
    """Workers are ended on an error; the executor may reap the last one a moment later."""
    deadline = time.monotonic() + seconds
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)  # active_children() also reaps the ones that have ended
    assert multiprocessing.active_children() == []


def test_every_byte_flip_is_refused() -> None:
    archive = _small_archive()
    for i in range(len(archive)):
        damaged = bytearray(archive)
        damaged[i] ^= 1 << (i % 8)
        with pytest.raises(MdlkitError):
            decompress(bytes(damaged))


def test_every_truncation_and_appended_byte_is_refused() -> None:
    archive = _small_archive()
    for n in range(len(archive)):
        with pytest.raises(MdlkitError):
            decompress(archive[:n])
    for extra in (b"\x00", b"\x00\x00\x00\x00", archive[-4:], archive[-40:]):
        _refused(archive + extra)


def test_inserted_and_deleted_bytes_are_refused() -> None:
    archive = _small_archive()
    rng = random.Random(0)
    for i in range(0, len(archive), 4):
        _refused(archive[:i] + bytes([rng.randrange(256)]) + archive[i:], (1,))
        _refused(archive[:i] + archive[i + 1 :], (1,))


def _rebuilt(records: list[tuple[int, bytes]], index: Index | None = None) -> bytes:
    """An archive with SMALL's header and these records; every CRC valid, the index true to
    them unless one is given."""
    archive = _small_archive()
    src = io.BytesIO(archive)
    read_header(src)
    out = io.BytesIO(archive[: src.tell()])
    out.seek(0, io.SEEK_END)
    entries = []
    for tag, body in records:
        size = write_record(out, tag, body)
        if tag == CODED:
            coded = parse_coded(body, 256)
            entries.append(Entry(tag, size, coded.length, coded.crc or 0))
        else:
            entries.append(Entry(tag, size, len(body), zlib.crc32(body)))
    write_index(out, index or Index(tuple(entries), len(SMALL), zlib.crc32(SMALL)))
    return out.getvalue()


def test_forged_indexes_and_records_with_valid_checksums_are_refused() -> None:
    records = [(r.tag, r.body) for r in _records(_small_archive())[:-1]]
    assert decompress(_rebuilt(records)) == SMALL  # the rebuilding itself is faithful
    true = Index.from_body(_records(_small_archive())[-1].body)
    e = true.entries
    forged_indexes = {
        "length": Index(e, true.length + 1, true.crc),
        "crc": Index(e, true.length, true.crc ^ 1),
        "entry": Index(
            (e[0], e[1], Entry(e[2].tag, e[2].size, e[2].length, e[2].crc ^ 1)),
            true.length,
            true.crc,
        ),
        "missing": Index(e[:2], true.length - e[2].length, true.crc),
        "swapped": Index((e[1], e[0], e[2]), true.length, true.crc),
    }
    for name, index in forged_indexes.items():
        with pytest.raises(MdlkitError, match=r"index|does not decode") as info:
            decompress(_rebuilt(records, index))
        assert "\n" not in str(info.value), name
    c = parse_coded(records[0][1], 256)
    forged_records = {
        "swapped": [records[1], records[0], records[2]],
        "dropped": records[:2],
        "crc": [
            (CODED, coded_body(c.length, c.payload, c.table_bits, (c.crc or 0) ^ 1)),
            *records[1:],
        ],
        "index-twice": [*records, (INDEX, b"")],
    }
    for forged in forged_records.values():  # "crc" fails in a worker process with -T 2
        _refused(_rebuilt(forged, true))


def test_the_listing_reads_the_index_and_refuses_its_damage() -> None:
    archive = _small_archive()
    info = list_archive(io.BytesIO(archive))
    assert (info.original_bytes, info.crc, info.blocks) == (len(SMALL), zlib.crc32(SMALL), 3)
    assert info.index_only and info.archive_bytes == len(archive)
    index_start = len(archive) - 4 - _records(archive)[-1].size
    header_end = len(archive) - sum(r.size for r in _records(archive)) - 4
    for i in [*range(header_end), *range(index_start, len(archive))]:
        damaged = bytearray(archive)
        damaged[i] ^= 0x10
        with pytest.raises(MdlkitError):
            list_archive(io.BytesIO(bytes(damaged)))
    for n in range(len(archive)):
        with pytest.raises(MdlkitError):
            list_archive(io.BytesIO(archive[:n]))
    for changed in (
        archive + b"\x00",
        archive + archive[index_start:],
        archive[:30] + archive[31:],
    ):
        with pytest.raises(MdlkitError):
            list_archive(io.BytesIO(changed))


def test_archives_of_format_2_are_listed_by_walking_their_records() -> None:
    old = (Path(__file__).parent / "data" / "cm1_v2_level2.mdlz").read_bytes()
    info = list_archive(io.BytesIO(old))
    assert not info.index_only and info.header.version == 2 and info.blocks == 1
    original = decompress(old)
    assert (info.archive_bytes, info.original_bytes) == (len(old), len(original))
    assert info.crc == zlib.crc32(original)


def _damaged(archive: bytes, stride: int) -> Iterator[bytes]:
    """Every truncation; a flipped bit, a byte set to its complement and an inserted byte at
    every ``stride``-th position; bytes appended (a copy of the footer, of the whole archive)."""
    rng = random.Random(len(archive))
    yield from (archive[:n] for n in range(len(archive)))
    for i in range(0, len(archive), stride):
        for mask in (1 << (i % 8), 0xFF):
            yield archive[:i] + bytes([archive[i] ^ mask]) + archive[i + 1 :]
        yield archive[:i] + bytes([rng.randrange(256)]) + archive[i:]
    yield from (archive + extra for extra in (b"\0", archive[-4:], archive))


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize(
    ("data", "block_bytes", "stride"),
    [
        (b"", 256, 1),
        (TEXT[:200], 1 << 16, 1),
        (SMALL, 256, 5),
        (RECORDS, 1 << 16, 3),
        (MARKUP, 1 << 16, 7),
    ],
    ids=["empty", "one-block", "three-blocks", "records", "markup"],
)
def test_any_damage_to_a_format_5_archive_is_refused_in_one_line(
    data: bytes, block_bytes: int, stride: int, level: int
) -> None:
    """Format 5 at every level, empty, one block, several, a block of fixed-length records
    (record models on) and one of markup (markup model on): the compiled decoder fed damaged
    bytes ends, and the damage is refused (never other output, never a second line)."""
    archive = compress(data, level=level, block_bytes=block_bytes)
    assert read_header(io.BytesIO(archive)).version == 5
    for damaged in _damaged(archive, stride):
        with pytest.raises(MdlkitError) as info:
            decompress(damaged)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_damage_is_refused_when_two_workers_decode(level: int) -> None:
    archive = compress(SMALL, level=level, block_bytes=256, threads=2)
    assert archive == compress(SMALL, level=level, block_bytes=256)  # -T 2 writes the same
    damages = list(_damaged(archive, 1))
    for damaged in random.Random(level).sample(damages, 12):
        _refused(damaged, (2,))
