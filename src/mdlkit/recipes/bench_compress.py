"""Recipe: general-purpose compressors and mdlkit's own side by side on the same files, one run.

For every file and every compressor: the compressed size, bits per byte
(``8 · compressed bytes / original bytes``), compress and decompress speed (KB/s of original
bytes, 1 KB = 1000 B), the peak memory of compressing and of decompressing, and a round-trip
check. Each call runs in a fresh child process (:mod:`mdlkit.compression.benchmark`), so that
its peak memory is that compressor's plus the interpreter's; the speeds time only the call
inside the child.

Baselines (:mod:`mdlkit.compression.baselines`): gzip -9 (zlib level 9), bzip2 -9, xz -9e,
zstd -19 (``zstandard``), brotli -11 (``brotli``) and PPMd (``pyppmd``, the best of a few
orders per file). zstandard, brotli and pyppmd are optional (``pip install 'mdlkit[bench]'``):
a missing one is skipped with a note. So are mdlkit's modes while ``mdlkit.compression`` does
not import.

>>> BenchCompressConfig(files=()).validate()
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: no files to compress; name one or more, e.g. bench-compress alice29.txt
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from rich.table import Table

from mdlkit.compression.baselines import BASELINES, PPMD_VARIANTS, library_versions
from mdlkit.compression.benchmark import bench_files, compressors, parse_mode
from mdlkit.compression.startup import SAMPLE_BYTES, measure_startup
from mdlkit.errors import MdlkitError
from mdlkit.report import Report
from mdlkit.report.compressors import (
    COMPRESSOR_COLUMNS,
    compressor_markdown,
    compressor_notes,
    compressor_table,
    plot_bits_vs_speed,
    startup_markdown,
)
from mdlkit.runs import RunFolder

__all__ = ["BenchCompressConfig", "BenchCompressResult", "run_bench_compress"]


@dataclass(frozen=True)
class BenchCompressConfig:
    """Which files, which compressors, how many timings."""

    files: tuple[str, ...]
    """files to compress (each whole, one at a time)"""
    mdlkit_modes: tuple[str, ...] = ("online:1", "online:2", "online:3")
    """mdlkit's own compressor as mode:level, comma-separated (an empty list: none)"""
    ppmd_orders: tuple[int, ...] = (4, 6, 8, 12, 16)
    """PPMd model orders to try (2–64); per file the smallest output wins"""
    ppmd_variants: tuple[str, ...] = ("H",)
    """PPMd variants, comma-separated: H (7-zip's PPMd7), I (PPMd8, pyppmd's default)"""
    ppmd_memory_mb: int = 256
    """PPMd model memory in MiB (fixed for every order)"""
    repeats: int = 1
    """time every compress and decompress call this many times and keep the fastest"""
    gzip: bool = True
    """include gzip -9 (zlib level 9; --no-gzip leaves it out)"""
    bzip2: bool = True
    """include bzip2 -9"""
    xz: bool = True
    """include xz -9e (lzma preset 9 | PRESET_EXTREME)"""
    zstd: bool = True
    """include zstd -19 (needs zstandard)"""
    brotli: bool = True
    """include brotli -11 (needs brotli)"""
    ppmd: bool = True
    """include PPMd (needs pyppmd)"""
    startup: bool = True
    """also time each compressor's command and mdlz as a whole process on 5,000 bytes"""

    def __post_init__(self) -> None:
        # A command line may hand over a list, a script Paths: store a tuple of strings.
        object.__setattr__(self, "files", tuple(str(f) for f in self.files))

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on files that cannot be read or on a bad setting."""
        if not self.files:
            raise MdlkitError(
                "no files to compress; name one or more, e.g. bench-compress alice29.txt"
            )
        for name in self.files:
            path = Path(name)
            if path.is_dir():
                raise MdlkitError(f"{name} is a directory; give the files in it instead")
            if not path.is_file():
                raise MdlkitError(f"{name}: no such file; check the path")
            if not os.access(path, os.R_OK):
                raise MdlkitError(f"{name} cannot be read; check its permissions")
            if path.stat().st_size == 0:
                raise MdlkitError(f"{name} is empty; bits per byte need at least one byte")
        for mode in self.mdlkit_modes:
            parse_mode(mode)
        if self.ppmd:
            bad_orders = [o for o in self.ppmd_orders if not 2 <= o <= 64]
            if bad_orders or not self.ppmd_orders:
                raise MdlkitError(
                    f"PPMd orders must be 2–64, got {bad_orders or 'none'}; e.g. --ppmd-orders 4,8"
                )
            bad_variants = [v for v in self.ppmd_variants if v not in PPMD_VARIANTS]
            if bad_variants or not self.ppmd_variants:
                raise MdlkitError(
                    f"PPMd variant must be H or I, got {bad_variants or 'none'}; "
                    "e.g. --ppmd-variants H,I"
                )
            if not 1 <= self.ppmd_memory_mb <= 4000:
                raise MdlkitError(f"PPMd memory must be 1–4000 MiB, got {self.ppmd_memory_mb}")
        if self.repeats < 1:
            raise MdlkitError(f"repeats must be >= 1, got {self.repeats}")
        if not self.baselines() and not self.mdlkit_modes:
            raise MdlkitError("every compressor is switched off; leave at least one in")

    def baselines(self) -> list[str]:
        """The keys of :data:`BASELINES` to measure, in table order."""
        return [key for key in BASELINES if getattr(self, key)]


@dataclass(frozen=True)
class BenchCompressResult:
    """One row per file and compressor (``rows``), as ``results.json`` holds them, and the notes
    on compressors that were skipped. ``failed`` lists the rows whose round trip failed."""

    config: BenchCompressConfig
    files: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    skipped: list[str]
    libraries: dict[str, str]
    startup: list[dict[str, Any]] = field(default_factory=list)

    COLUMNS: ClassVar[tuple[str, ...]] = COMPRESSOR_COLUMNS

    @property
    def failed(self) -> list[str]:
        """``"<compressor> on <file>: <what went wrong>"`` for every row that did not round-trip."""
        return [
            f"{r['compressor']} on {r['file']}: {r['error'] or 'decompressed bytes differ'}"
            for r in self.rows
            if r["round_trip"] != "ok"
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "files": self.files,
            "rows": self.rows,
            "skipped": self.skipped,
            "failed": self.failed,
            "libraries": self.libraries,
            "notes": self.notes(),
            "startup": self.startup,
        }

    def notes(self) -> list[str]:
        """The footnotes: what each figure means, then skipped compressors and failures."""
        c = self.config
        notes = compressor_notes(
            self.rows,
            repeats=c.repeats,
            ppmd_orders=c.ppmd_orders,
            ppmd_variants=c.ppmd_variants,
            ppmd_memory_mb=c.ppmd_memory_mb,
        )
        return notes + self.skipped + [f"FAILED: {f}" for f in self.failed]

    def table(self) -> Table:
        """A rich table, one row per file and compressor; a failed round trip in bold red."""
        return compressor_table(self.rows)

    def markdown(self) -> str:
        """The table and its footnotes as Markdown."""
        table = compressor_markdown(self.rows, self.notes())
        return table + ("\n" + startup_markdown(self.startup) if self.startup else "")

    def report(self) -> Report:
        """The rich table; the notes are rich markup (the command line prints them so)."""
        notes = [
            f"[bold red]{escape(n)}[/]" if n.startswith("FAILED") else escape(n)
            for n in self.notes()
        ]
        return Report(self.table(), tuple(notes))

    def plot(self, path: str | Path) -> Path:
        """Bits per byte against compress speed, one colour per file, one marker per compressor."""
        return plot_bits_vs_speed(self.rows, self.files, path)


def run_bench_compress(
    config: BenchCompressConfig,
    *,
    folder: RunFolder | None = None,
    raise_on_failure: bool = True,
) -> BenchCompressResult:
    """Measure every compressor on every file. With ``folder``: ``config.json``,
    ``results.json``, ``table.md`` and the plot ``bits_vs_speed.png``.

    A round trip that fails (or a compressor that raises) is a FAILED row; with
    ``raise_on_failure`` the outputs are written first and then :class:`MdlkitError` names the
    failures, so the command exits non-zero.
    """
    config.validate()
    if folder is not None:
        folder.start({"config": asdict(config)})
    chosen, skipped = compressors(
        config.baselines(),
        ppmd_orders=config.ppmd_orders,
        ppmd_variants=config.ppmd_variants,
        ppmd_memory_mb=config.ppmd_memory_mb,
        mdlkit_modes=config.mdlkit_modes,
    )
    paths = [Path(p).resolve() for p in config.files]
    files, rows, missing = bench_files(paths, chosen, config.repeats)
    skipped = list(dict.fromkeys(skipped + missing))
    startup = []
    if config.startup:
        with open(paths[0], "rb") as first:
            startup = measure_startup(first.read(SAMPLE_BYTES), repeats=config.repeats)
    result = BenchCompressResult(config, files, rows, skipped, library_versions(), startup)
    if folder is not None:
        result.plot(folder.file("bits_vs_speed.png"))
        folder.write_text("table.md", result.markdown())
        folder.write_results(result.to_dict())
    if raise_on_failure and result.failed:
        where = f"; the table is in {folder.file('table.md')}" if folder is not None else ""
        raise MdlkitError(
            f"round trip FAILED for {'; '.join(result.failed)}{where} (a bug in that compressor)"
        )
    return result
