"""Compress and decompress files: the online mode (nothing stored) and the two-part mode.

``online`` (default): the input is cut into independent blocks (8 MiB unless chosen); for each,
the context-mixing predictor starts from its fixed initial state and learns from what it has
coded; the decoder repeats the same computation (integer arithmetic, so any machine decodes any
archive). Tables are sized to each block. Blocks are coded and decoded by N worker processes
(``threads``), the archive identical for any N (:mod:`mdlkit.compression.online_archive`).
Levels: 1 codes 16 segments of each block in lockstep (a little faster both ways, slightly
larger), 2 codes each block sequentially, 3 does too with predictor cm5 (23 more context models,
among them the column, the quote the text is in, the byte classes, the last 12 bytes, what
followed the current word last time and the phrase since the last punctuation; each context's
last byte and its run, 11 mixers against 4, five more APMs: 3.7–5.6 % smaller on text at about a
fifth of the speed; archives of its earlier predictors, cm2 to cm4, still decode).
Decoding runs the same compiled steps as encoding (:mod:`mdlkit.compression.online`), so it is
as fast.

``two-part`` (the seed paper's setting): a byte transformer trained on the file with DRR,
pruned and quantized; the weight file is stored in the archive and the data is coded with the
decoded model in independent chunks (:mod:`mdlkit.compression.two_part`). Floating point enters
there, so the archive records the torch version, thread count and CPU capability, and a
decoder in a different environment refuses rather than risk different probabilities.

Both directions stream: input is read block by block, records are written as they are made,
the index last (:mod:`mdlkit.compression.archive_index`).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from mdlkit import __version__
from mdlkit.compression.archive import (
    CHUNK,
    END,
    INDEPENDENT_BLOCKS,
    INDEX,
    MODEL,
    STORED,
    Header,
    damaged,
    parse_end,
    read_header,
    read_records,
    write_header,
    write_record,
)
from mdlkit.compression.archive_index import Entry, Index, entry_of, write_index
from mdlkit.errors import MdlkitError

if TYPE_CHECKING:  # each mode's coder is imported when that mode runs (numba, torch)
    from mdlkit.training.distributed import DataParallel

__all__ = [
    "LEVELS",
    "MODES",
    "Summary",
    "compress",
    "compress_stream",
    "decompress",
    "decompress_stream",
]

MODES = ("online", "two-part")
LEVELS = {"online": (1, 2, 3), "two-part": (1, 2, 3)}
DEFAULT_LEVEL = {"online": 2, "two-part": 1}
# Each online level's predictor: the name of its context-mixing arithmetic, recorded in the
# archive (any change to the arithmetic needs a new name), and its segments per block.
_PREDICTOR = {1: "cm1", 2: "cm1", 3: "cm5"}  # (level 3 wrote cm2, cm3, then cm4, before cm5)
# The first archive format each predictor was written in.
_FIRST_FORMAT = {"cm1": 1, "cm2": 5, "cm3": 5, "cm4": 5, "cm5": 5}
_SEGMENTS = {1: 16, 2: 1, 3: 1}
TWO_PART_MAX_BYTES = 64 << 20  # the two-part mode trains on the whole file in memory
# The online mode's block: a file up to this size is one block, coded as before blocks were
# independent (no loss); a larger one loses what the model would carry across (measured in
# benchmarks/results/compress_threads.md). 8 MiB keeps a block and its tables in memory per
# worker (the input's bytes plus the tables of 22 bits: 465 MiB, level 3's 1,368 MiB).
DEFAULT_BLOCK_BYTES = 1 << 23


@dataclass
class Summary:
    """What a compression or decompression did: sizes in bytes, bits by part."""

    mode: str
    level: int
    original_bytes: int = 0
    archive_bytes: int = 0
    model_bytes: int = 0  # the stored weight file (two-part mode), inside archive_bytes
    ideal_bits: float = 0.0  # Σ −log2 p of the data under the model(s)
    sha256: str = ""  # of the original

    @property
    def bits_per_byte(self) -> float:
        """Archive bits per original byte (everything counted: header, model, checksums)."""
        return 8.0 * self.archive_bytes / self.original_bytes if self.original_bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "level": self.level, "original_bytes": self.original_bytes,
                "archive_bytes": self.archive_bytes, "model_bytes": self.model_bytes,
                "ideal_bits": self.ideal_bits, "bits_per_byte": self.bits_per_byte,
                "sha256": self.sha256}  # fmt: skip


class _Original:
    """The running length, CRC-32 and SHA-256 of the original bytes as they pass."""

    def __init__(self) -> None:
        self.length, self.crc, self.digest = 0, 0, hashlib.sha256()

    def add(self, data: bytes) -> None:
        self.length += len(data)
        self.crc = zlib.crc32(data, self.crc)
        self.digest.update(data)


def check_mode(mode: str, level: int | None) -> int:
    """The level to use for ``mode``; unknown ones are a one-line error."""
    if mode not in MODES:
        raise MdlkitError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if level is None:
        return DEFAULT_LEVEL[mode]
    if level not in LEVELS[mode]:
        choices = ", ".join(map(str, LEVELS[mode]))
        raise MdlkitError(f"--level {level} does not exist for the {mode} mode; choose {choices}")
    return level


def _environment(mode: str) -> dict[str, Any]:
    # The online predictor is integer arithmetic: only mdlkit's version matters (for the record).
    env: dict[str, Any] = {"mdlkit": __version__}
    if mode == "two-part":
        import torch

        # What the decoder needs to compute the same probabilities: the same torch and CPU
        # kernels (probabilities are always computed on the CPU, whatever device trained the
        # model), one thread, float32 outputs.
        env |= {"torch": torch.__version__, "threads": 1, "dtype": "float32",
                "cpu": torch.backends.cpu.get_cpu_capability()}  # fmt: skip
    return env


def _check_environment(header: Header) -> None:
    """Refuse an archive whose probabilities this machine might not reproduce bit for bit."""
    if header.mode == "online":
        from mdlkit.compression.context_mixing import PREDICTORS

        predictor = header.settings.get("predictor")
        if not isinstance(predictor, str) or predictor not in PREDICTORS:
            raise MdlkitError(
                f"this archive was made with predictor {predictor!r}, "
                f"which this mdlkit ({__version__}, predictors {', '.join(PREDICTORS)}) does "
                "not have; decompress it with the mdlkit that made it"
            )
        return
    made, here = header.environment, _environment("two-part")
    for key in ("torch", "cpu"):
        if made.get(key) != here[key]:
            raise MdlkitError(
                f"this archive's model was evaluated with {key} {made.get(key)!r} and this machine "
                f"has {here[key]!r}; its probabilities may differ by an ulp, so it can only be "
                f"decoded where torch {made.get('torch')} runs on {made.get('cpu')}"
            )


def _read_full(src: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes of ``src``, fewer only at its end (a pipe may return short reads)."""
    data = src.read(size)
    while data and len(data) < size:
        more = src.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _check_online_settings(header: Header) -> None:
    from mdlkit.compression.context_mixing import MIN_TABLE_BITS, TABLE_BITS

    segments, block_bytes = header.settings.get("segments"), header.settings.get("block_bytes")
    # Archives of format 1 record no table size: they were coded with the largest tables.
    table_bits = header.settings.get("table_bits", TABLE_BITS)
    if (
        not isinstance(segments, int)
        or not isinstance(block_bytes, int)
        or not (1 <= segments <= 4096 and 1 <= block_bytes <= 1 << 27)
    ):
        raise damaged("its block settings are impossible")
    if not isinstance(table_bits, int) or not MIN_TABLE_BITS <= table_bits <= TABLE_BITS:
        raise damaged("its table size is impossible")
    if header.version < _FIRST_FORMAT[header.settings["predictor"]]:  # (a known name by now)
        raise damaged("its predictor did not exist in its format")


def compress_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    mode: str = "online",
    level: int | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    parallel: DataParallel | None = None,
    threads: int = 1,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Summary:
    """Compress everything ``src`` yields into an archive written to ``dst``.

    The online mode codes independent blocks of ``block_bytes`` with ``threads`` worker
    processes (0: one per core); the archive is the same for any number of them.

    ``device`` and ``precision`` are where and how the two-part mode's transformer trains (its
    probabilities are computed on the CPU in float32 all the same); ``parallel``, this rank of a
    data-parallel run (see :func:`mdlkit.compression.two_part.fit_two_part`).

    ``progress(n)`` is called now and then with the number of input bytes done;
    ``probabilities`` (online mode) receives every 12-bit probability used, in coding order.
    """
    level = check_mode(mode, level)
    summary, original = Summary(mode, level), _Original()
    if mode == "online":
        from mdlkit.compression.online import table_bits_for
        from mdlkit.compression.online_archive import check_block_bytes, encode_blocks

        # The tables are sized to each block; the header records the largest (the first's).
        first = _read_full(src, check_block_bytes(block_bytes))
        table_bits = table_bits_for(len(first))
        settings = {"predictor": _PREDICTOR[level], "segments": _SEGMENTS[level],
                    "block_bytes": block_bytes, "table_bits": table_bits}  # fmt: skip
        written = write_header(dst, Header(mode, level, settings, _environment(mode)))
        body_bytes, summary.ideal_bits = encode_blocks(
            first, src, dst, segments=_SEGMENTS[level], predictor=_PREDICTOR[level],
            block_bytes=block_bytes,
            threads=threads, add=original.add, progress=progress, probabilities=probabilities,
        )  # fmt: skip
        written += body_bytes
    else:
        from mdlkit.compression.two_part import fit_two_part

        data = src.read(TWO_PART_MAX_BYTES + 1)
        if len(data) > TWO_PART_MAX_BYTES:
            raise MdlkitError(
                f"the two-part mode trains on the whole input in memory and takes at most "
                f"{TWO_PART_MAX_BYTES >> 20} MiB; use the online mode for larger inputs"
            )
        code = fit_two_part(data, level=level, seed=seed, progress=progress is not None,
                            device=device, precision=precision, parallel=parallel)  # fmt: skip
        header = Header(mode, level, code.settings.to_dict() | {"length": len(data)},
                        _environment(mode))  # fmt: skip
        written = write_header(dst, header)
        entries: list[Entry] = []
        if len(code.model) + sum(len(c) for c in code.chunks) < len(data):
            for tag, body in [(MODEL, code.model)] + [(CHUNK, c) for c in code.chunks]:
                entries.append(Entry(tag, write_record(dst, tag, body), 0, 0))
            summary.model_bytes = len(code.model)
        else:  # the model does not pay for itself: store the bytes (incompressible input)
            entries.append(Entry(STORED, write_record(dst, STORED, data), len(data),
                                 zlib.crc32(data)))  # fmt: skip
        summary.ideal_bits = code.ideal_bits
        original.add(data)
        written += sum(e.size for e in entries)
        written += write_index(dst, Index(tuple(entries), original.length, original.crc))
    summary.original_bytes = original.length
    summary.archive_bytes = written
    summary.sha256 = original.digest.hexdigest()
    return summary


def decompress_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
    threads: int = 1,
) -> Summary:
    """Decode an archive from ``src``, writing the original to ``dst``; checks every CRC.
    The blocks of a version-3 online archive are decoded by ``threads`` worker processes (0:
    one per core).

    ``probabilities`` (online mode) receives every 12-bit probability the decoder used, in
    coding order — the encoder's are the same, which the tests check.
    """
    header = read_header(src)
    if header.mode not in MODES or header.level not in LEVELS[header.mode]:
        raise MdlkitError(f"mdlkit archive is damaged: mode {header.mode!r} level {header.level} "
                          "is unknown (make it again from the original)")  # fmt: skip
    _check_environment(header)
    summary, original = Summary(header.mode, header.level), _Original()
    end: tuple[int, int] | None = None
    if header.mode == "online":
        from mdlkit.compression.online_archive import decode_blocks, decode_chained

        _check_online_settings(header)
        if header.version >= INDEPENDENT_BLOCKS:
            decode_blocks(header, src, dst, threads=threads, add=original.add,
                          progress=progress, probabilities=probabilities)  # fmt: skip
        else:
            decode_chained(header, src, dst, add=original.add, progress=progress,
                           probabilities=probabilities)  # fmt: skip
        end = (original.length, original.crc)  # checked against the archive's as it was read
    else:
        from mdlkit.compression.chunk_codec import decode_two_part
        from mdlkit.compression.two_part_code import TwoPartSettings

        declared = header.settings.get("length")
        if not isinstance(declared, int) or not 0 <= declared <= TWO_PART_MAX_BYTES:
            raise MdlkitError("mdlkit archive is damaged: its length is impossible "
                              "(make it again from the original)")  # fmt: skip
        settings = TwoPartSettings.from_dict(
            {k: v for k, v in header.settings.items() if k != "length"}
        )
        model, chunks, stored, seen = None, [], None, list[Entry]()
        for record in read_records(src, header.version):
            if record.tag == END:
                end = parse_end(record.body)  # read_records then checks that nothing follows
                continue
            if record.tag == INDEX:
                index = Index.from_body(record.body)
                index.check(header)
                if index.entries != tuple(seen):
                    raise damaged("its index does not match its records")
                end = (index.length, index.crc)
                continue
            seen.append(entry_of(record, header.version))
            if record.tag == STORED and model is None and stored is None:
                stored = record.body
            elif record.tag == MODEL and model is None and stored is None:
                model = record.body
            elif record.tag == CHUNK and model is not None:
                chunks.append(record.body)
            else:
                raise MdlkitError("mdlkit archive is damaged: its records are out of order "
                                  "(make it again from the original)")  # fmt: skip
        if stored is not None:
            data = stored
        elif model is None:
            raise MdlkitError("mdlkit archive is damaged: it has no model (make it again "
                              "from the original)")  # fmt: skip
        else:
            data = decode_two_part(settings, model, chunks, declared)
            summary.model_bytes = len(model)
        dst.write(data)
        original.add(data)
    assert end is not None  # read_records ends only after the end record
    if end != (original.length, original.crc):
        raise MdlkitError(
            "mdlkit archive does not decode to its original (length or checksum differs); "
            "it is damaged, or this machine computes differently from the one that made it"
        )
    summary.original_bytes = original.length
    summary.sha256 = original.digest.hexdigest()
    return summary


def compress(data: bytes, *, mode: str = "online", level: int | None = None,
             verify: bool = True, seed: int = 0, threads: int = 1,
             block_bytes: int = DEFAULT_BLOCK_BYTES) -> bytes:  # fmt: skip
    """The archive of ``data`` as bytes; with ``verify`` (default) it is decoded back and
    compared first.

    >>> archive = compress(b"abracadabra " * 20)
    >>> len(archive) < 240 and decompress(archive) == b"abracadabra " * 20
    True
    """
    out = io.BytesIO()
    summary = compress_stream(io.BytesIO(data), out, mode=mode, level=level, seed=seed,
                              threads=threads, block_bytes=block_bytes)  # fmt: skip
    archive = out.getvalue()
    if verify:
        check = decompress_stream(io.BytesIO(archive), io.BytesIO(), threads=threads)
        if check.sha256 != summary.sha256:
            raise MdlkitError("verification failed: the archive does not decode to the input")
    return archive


def decompress(archive: bytes, *, threads: int = 1) -> bytes:
    """The original bytes of an archive made by :func:`compress` (every checksum checked)."""
    out = io.BytesIO()
    decompress_stream(io.BytesIO(archive), out, threads=threads)
    return out.getvalue()
