"""``mdlkit compress`` and ``mdlkit decompress``: files in, files out, nothing lost on failure.

The output is written to a temporary file and put in place only when it is complete (and, for
compression, verified by decoding it back): a failure, a damaged archive or an interrupt leaves
no partial output. A new or regular file is renamed into place and takes the input's permission
bits and modification time; a device (``-o /dev/null``), a FIFO or — with ``--force`` — a link's
target is written in place, never renamed over (:mod:`mdlkit.files`). An existing file is never
overwritten without ``--force``, and compressed data is never written to a terminal. ``-``
stands for standard input or output.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from mdlkit.compression import Summary, compress_stream, decompress_stream
from mdlkit.compression.blocks import resolve_threads
from mdlkit.compression.compressor import check_mode
from mdlkit.compression.online_archive import parse_size
from mdlkit.errors import MdlkitError
from mdlkit.files import Output, check_output, deliver
from mdlkit.launch import launched_by_torchrun

if TYPE_CHECKING:  # torch: only the two-part mode trains (and only it checks the device)
    from mdlkit.training.distributed import DataParallel

__all__ = ["CompressConfig", "DecompressConfig", "run_compress", "run_decompress"]

SUFFIX = ".mdlz"
_COPY = 1 << 20


@dataclass(frozen=True)
class CompressConfig:
    """Options of ``mdlkit compress``."""

    file: str
    """the file to compress; - reads standard input"""
    output: str | None = None
    """the archive to write (default FILE.mdlz; - is standard output, the default for -)"""
    mode: Literal["online", "two-part"] = "online"
    """online: a predictor that learns as it codes; two-part: a stored byte transformer"""
    level: int | None = None
    """online: 1 (faster, larger), 2 (default) or 3 (smallest, slower); two-part: 1 (default)-3"""
    verify: bool = True
    """decoding the archive back and comparing it before keeping it is on; --no-verify skips it"""
    force: bool = False
    """overwrite an existing output"""
    seed: int = 0
    """the two-part mode's training seed"""
    device: str = "auto"
    """where the two-part mode trains: auto | cpu | cuda | cuda:N | mps"""
    precision: Literal["fp32", "bf16"] = "fp32"
    """the two-part mode's training precision (bf16: autocast, for GPUs)"""
    threads: int = 1
    """online mode: worker processes coding blocks (0: one per core); the archive is the same"""
    block_size: str = "8M"
    """online mode: independent blocks' size, e.g. 256K, 1M, 8M (smaller: more parallel)"""

    def validate(self) -> None:
        check_mode(self.mode, self.level)
        resolve_threads(self.threads)
        parse_size(self.block_size)
        if self.mode == "two-part":
            _device(self)


@dataclass(frozen=True)
class DecompressConfig:
    """Options of ``mdlkit decompress``."""

    archive: str
    """the archive to decode; - reads standard input"""
    output: str | None = None
    """the file to write (default ARCHIVE without .mdlz; - is standard output, the default for -)"""
    force: bool = False
    """overwrite an existing output"""
    threads: int = 1
    """worker processes decoding the blocks of an online archive (0: one per core)"""

    def validate(self) -> None:
        resolve_threads(self.threads)


def _input(path: str) -> Path | None:
    """The input file (None for standard input), refused with a clear message if unusable."""
    if path == "-":
        return None
    p = Path(path)
    if p.is_dir():
        raise MdlkitError(f"{path} is a directory; give a file (e.g. a tar archive of it)")
    if not p.exists():
        raise MdlkitError(f"no such file: {path}")
    if not os.access(p, os.R_OK):
        raise MdlkitError(f"cannot read {path}: permission denied")
    return p


@contextlib.contextmanager
def _partial(output: Output) -> Iterator[tuple[BinaryIO, Path]]:
    """A temporary file where ``output`` stages it (beside a file that will be renamed into
    place, else in the temporary folder), removed unless it has been moved into place — also
    on an error or an interrupt."""
    prefix = f".{output.path.name}." if output.path is not None else ".mdlkit-stdout."
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".partial", dir=output.staging_folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle, path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _reading(source: Path | None) -> Iterator[BinaryIO]:
    if source is None:
        yield sys.stdin.buffer
        return
    with source.open("rb") as handle:
        yield handle


@contextlib.contextmanager
def _progress_bar(
    enabled: bool, total: int | None, what: str
) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.update(task, completed=n)


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _rate(n: int, seconds: float) -> str:
    return f"{n / 1000 / seconds:,.0f} KB/s" if seconds > 0 else "—"


def run_compress(config: CompressConfig, *, progress: bool = False) -> str:
    """Compress one file; returns the one-line summary printed on stderr.

    Started by ``torchrun`` (two-part mode), every rank trains the transformer data-parallel
    (:mod:`mdlkit.training.distributed`) and rank 0 alone writes and verifies the archive; the
    other ranks return an empty summary.
    """
    config.validate()
    parallel = _join_torchrun(config)
    source = _input(config.file)
    out_name = (
        config.output
        if config.output is not None
        else ("-" if source is None else config.file + SUFFIX)
    )
    if parallel is not None:
        final = parallel.on_main(lambda: check_output(out_name, source=source, force=config.force))
        if parallel.rank != 0:
            with _reading(source) as src:  # train beside rank 0; its archive is discarded
                compress_stream(src, io.BytesIO(), mode=config.mode, level=config.level,
                                seed=config.seed, device=_device(config),
                                precision=config.precision, parallel=parallel)  # fmt: skip
            return ""
    else:
        final = check_output(out_name, source=source, force=config.force)
    total = source.stat().st_size if source is not None else None
    try:
        with _partial(final) as (handle, partial), _reading(source) as src:
            start = time.perf_counter()
            with _progress_bar(progress, total, "compressing") as report:
                summary = compress_stream(src, handle, mode=config.mode, level=config.level,
                                          seed=config.seed, progress=report,
                                          device=_device(config),
                                          precision=config.precision,
                                          parallel=parallel, threads=config.threads,
                                          block_bytes=parse_size(config.block_size))  # fmt: skip
            seconds = time.perf_counter() - start
            handle.flush()
            verified = ""
            if config.verify:
                start = time.perf_counter()
                handle.seek(0)
                with _progress_bar(progress, summary.original_bytes, "verifying") as report:
                    check = decompress_stream(handle, _Discard(), progress=report,  # type: ignore[arg-type]
                                              threads=config.threads)  # fmt: skip
                if check.sha256 != summary.sha256:
                    raise MdlkitError(
                        "verification failed: the archive does not decode to the input "
                        "(nothing was written; please report this)"
                    )
                verified = f", verified by decoding in {time.perf_counter() - start:.1f} s"
            handle.close()
            deliver(final, partial, like=source)
    except OSError as exc:
        raise MdlkitError(f"cannot compress {config.file}: {exc.strerror or exc}") from None
    return _summary_line(config.file, out_name, summary, seconds) + verified


def _join_torchrun(config: CompressConfig) -> DataParallel | None:
    """This rank's part under torchrun (None outside it); only the two-part mode trains, and
    every rank must read the same file."""
    if not launched_by_torchrun():
        return None
    if config.mode != "two-part" or config.file == "-":
        raise MdlkitError(
            "under torchrun, compress a FILE (not standard input) with --mode two-part: "
            "the online mode runs in one process"
        )
    from mdlkit.devices import resolve_device
    from mdlkit.training.distributed import init_from_environment

    return init_from_environment(resolve_device(config.device))


def _device(config: CompressConfig) -> str:
    """Where the two-part mode trains (the online mode runs on the CPU: integer arithmetic)."""
    if config.mode != "two-part":
        return "cpu"
    from mdlkit.devices import resolve_device

    return str(resolve_device(config.device))


def _summary_line(src: str, dst: str, s: Summary, seconds: float) -> str:
    model = f", model {s.model_bytes:,} B of it" if s.model_bytes else ""
    return (
        f"{src} → {dst}: {s.original_bytes:,} → {s.archive_bytes:,} bytes, "
        f"{s.bits_per_byte:.3f} bits per byte{model} ({s.mode}, level {s.level}), "
        f"{seconds:.1f} s ({_rate(s.original_bytes, seconds)})"
    )


def run_decompress(config: DecompressConfig, *, progress: bool = False) -> str:
    """Decompress one archive; returns the one-line summary printed on stderr."""
    source = _input(config.archive)
    if config.output is not None:
        out_name = config.output
    elif source is None:
        out_name = "-"
    elif config.archive.endswith(SUFFIX) and len(config.archive) > len(SUFFIX):
        out_name = config.archive[: -len(SUFFIX)]
    else:
        raise MdlkitError(
            f"cannot name the output of {config.archive} (it does not end in {SUFFIX}); give -o"
        )
    config.validate()
    final = check_output(out_name, source=source, force=config.force, binary=False)
    try:
        with _partial(final) as (handle, partial), _reading(source) as src:
            start = time.perf_counter()
            with _progress_bar(progress, None, "decompressing") as report:
                summary = decompress_stream(src, handle, progress=report, threads=config.threads)
            seconds = time.perf_counter() - start
            handle.close()
            deliver(final, partial, like=source)
    except OSError as exc:
        raise MdlkitError(f"cannot decompress {config.archive}: {exc.strerror or exc}") from None
    return (
        f"{config.archive} → {out_name}: {summary.original_bytes:,} bytes "
        f"({summary.mode}, level {summary.level}), {seconds:.1f} s "
        f"({_rate(summary.original_bytes, seconds)}), every checksum matched"
    )
