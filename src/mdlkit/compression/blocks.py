"""The online mode's independent blocks (archive versions 3 and 4), coded by N worker processes.

Each block of at most ``block_bytes`` is coded from a fresh model whose tables are sized to the
block (:func:`~mdlkit.compression.online.table_bits_for`), so a block's record depends on that
block alone: the archive is the same bytes whatever the number of workers, and a decoder can
hand blocks to as many processes as it has. The price is the statistics a model would have
carried over from the blocks before (measured in ``benchmarks/results/compress_threads.md``);
a file no longer than one block is coded exactly as one block always was.

:class:`Workers` maps a function over a stream of tasks with N processes, in order, at most 2N
tasks in flight (memory stays bounded by about 2N blocks and N models' tables). The processes
ignore Ctrl-C: the parent gets it, and leaving the ``with`` block on any exception terminates
and joins them, so nothing outlives an error or an interrupt; a worker that dies (killed, out of
memory) is a one-line error, not a wait. With one task, or N = 1, nothing is started and the
work runs in this process.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sys
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, TypeVar

from mdlkit.compression.archive import (
    BINARY_CODER,
    CODED,
    MARKUP_FLAG,
    STORED,
    coded_body,
    damaged,
    parse_coded,
)
from mdlkit.errors import MdlkitError

__all__ = [
    "MAX_THREADS",
    "Workers",
    "decode_block",
    "encode_block",
    "resolve_threads",
    "start_method",
]

MAX_THREADS = 256
R = TypeVar("R")


def resolve_threads(threads: int) -> int:
    """The number of worker processes for ``-T threads``: 0 means one per usable core.

    >>> resolve_threads(3)
    3
    """
    if not 0 <= threads <= MAX_THREADS:
        raise MdlkitError(f"--threads {threads} is out of range; give 0 (one per core) to "
                          f"{MAX_THREADS}")  # fmt: skip
    if threads == 0:
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return max(1, len(usable) if usable else (os.cpu_count() or 1))
    return threads


def encode_block(
    block: bytes,
    segments: int,
    predictor: str = "cm1",
    probabilities: list[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, bytes, float]:
    """(tag, body, ideal bits) of the record of one block coded from a fresh model of
    ``predictor`` (its record models on if the block shows fixed-length records): a coded
    block, or the block itself (stored) when its code would not be shorter."""
    from mdlkit.compression.online import CodedBlock, OnlineCoder, table_bits_for
    from mdlkit.compression.structure import TRIAL_BYTES, structure

    tried: dict[tuple[int, bool], CodedBlock] = {}

    def cost(sample: bytes, record: int, markup: bool) -> int:
        coder = OnlineCoder(segments, None, table_bits_for(len(sample)), record, markup,
                            predictor)  # fmt: skip
        coded = tried[record, markup] = coder.encode(sample)
        return len(coded.payload)

    table_bits, (record, markup) = table_bits_for(len(block)), structure(block, cost)
    coded = tried.get((record, markup)) if tried and len(block) <= TRIAL_BYTES else None
    if coded is None or probabilities is not None or progress is not None:
        # (a block no longer than the trial sample was coded whole by the winning trial)
        coder = OnlineCoder(segments, progress, table_bits, record, markup, predictor)
        coded = coder.encode(block, probabilities)
    if coded.stored:
        return STORED, bytes(block), coded.ideal_bits
    crc = zlib.crc32(block)
    body = coded_body(len(block), coded.payload, table_bits, crc, record, int(markup))
    return CODED, body, coded.ideal_bits


def decode_block(
    tag: int,
    body: bytes,
    segments: int,
    block_bytes: int,
    version: int,
    predictor: str = "cm1",
    probabilities: list[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The original bytes of one block's record of an archive of format ``version`` (3: range
    coded, 4 and 5: binary coded) made by ``predictor``, checked against the block's CRC-32."""
    from mdlkit.compression.context_mixing import MAX_RECORD, MIN_TABLE_BITS, TABLE_BITS
    from mdlkit.compression.online import CodedBlock, OnlineCoder

    if tag == STORED:
        if not 0 < len(body) <= block_bytes:
            raise damaged("a stored block's length is impossible")
        return body
    if tag != CODED:
        raise damaged("a record does not belong in an online archive")
    coded = parse_coded(body, block_bytes, version)
    if coded.table_bits is None or not MIN_TABLE_BITS <= coded.table_bits <= TABLE_BITS:
        raise damaged("a block's table size is impossible")
    if coded.record == 1 or coded.record > MAX_RECORD:
        raise damaged("a block's record length is impossible")
    if coded.flags & ~MARKUP_FLAG:
        raise damaged("a block asks for models this version does not have")
    coder = OnlineCoder(segments, progress, coded.table_bits, coded.record,
                        bool(coded.flags & MARKUP_FLAG), predictor)  # fmt: skip
    block = CodedBlock(coded.length, False, coded.payload, 0.0)
    if version >= BINARY_CODER:
        data = coder.decode(block, probabilities)
    else:
        data = coder.decode_words(block, probabilities)
    if zlib.crc32(data) != coded.crc:
        raise damaged("a block does not decode to its checksum")
    return data


def start_method() -> str:
    """How worker processes start: ``fork`` (at once, with this process's compiled kernels) on
    Linux while this process runs one thread; ``spawn`` (a fresh interpreter, which loads the
    kernels from numba's cache) once other threads run — a progress bar's — since a fork copies
    locks those threads may hold."""
    return "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us


class Workers:
    """Up to ``threads`` worker processes, started only when a second task comes."""

    def __init__(self, threads: int) -> None:
        self.threads = resolve_threads(threads)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=kind is not None)

    def close(self, failed: bool = False) -> None:
        """Stop the processes: let them finish (``failed`` False) or terminate them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if failed:
            # No public way to end an executor's busy processes before Python 3.14.
            processes = list(pool._processes.values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join()
        pool.shutdown(wait=True)

    def map(self, function: Callable[..., R], tasks: Iterable[tuple[Any, ...]]) -> Iterator[R]:
        """``function(*task)`` for each task, in order; the tasks are drawn lazily."""
        stream = iter(tasks)
        first = next(stream, None)
        if first is None:
            return
        second = next(stream, None) if self.threads > 1 else None
        if second is None:  # one task, or one process: no pool
            yield function(*first)
            for task in stream:
                yield function(*task)
            return
        if self._pool is None:
            # The kernels once, here: forked workers inherit them, spawned ones load the file
            # built here rather than each building its own on a fresh installation.
            from mdlkit.compression.native import kernels

            kernels()
            context = multiprocessing.get_context(start_method())
            self._pool = ProcessPoolExecutor(
                self.threads, mp_context=context, initializer=_ignore_interrupts
            )
        pending: deque[Future[R]] = deque()
        for task in itertools.chain([first, second], stream):
            pending.append(self._pool.submit(function, *task))
            while len(pending) >= 2 * self.threads:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())


def _result(future: Future[R]) -> R:
    try:
        return future.result()
    except BrokenProcessPool:
        raise MdlkitError(
            "a worker process died (out of memory? each needs 0.5–1.6 GB); nothing was "
            "written; try fewer --threads"
        ) from None
