"""Recipe: general-purpose compressors and mdlkit's own side by side on the same files, one run.

For every file and every compressor: the compressed size, bits per byte
(``8 · compressed bytes / original bytes``), compress and decompress speed (KB/s of original
bytes, 1 KB = 1000 B), the peak memory of compressing and of decompressing, and a round-trip
check. Each call runs in a fresh child process (``sys.executable -c`` a small driver), so that
its peak memory (the child's own high-water mark, VmHWM) is that compressor's plus the
interpreter's; the speeds time only the call inside the child.

Baselines: gzip -9 (zlib level 9), bzip2 -9, xz -9e, zstd -19 (``zstandard``), brotli -11
(``brotli``) and PPMd (``pyppmd``, the best of a few orders per file). zstandard, brotli and
pyppmd are optional (``pip install 'mdlkit[bench]'``): a missing one is skipped with a note. So
are mdlkit's modes while ``mdlkit.compression`` does not import.

>>> BenchCompressConfig(files=()).validate()
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: no files to compress; name one or more, e.g. bench-compress alice29.txt
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.markup import escape
from rich.table import Table

from mdlkit.errors import MdlkitError
from mdlkit.report import Report
from mdlkit.runs import RunFolder

__all__ = [
    "BASELINES",
    "BenchCompressConfig",
    "BenchCompressResult",
    "library_versions",
    "run_bench_compress",
]

BENCH_EXTRA = "pip install 'mdlkit[bench]'"

# key → (label in the table, module the child imports; None: Python's standard library)
BASELINES: dict[str, tuple[str, str | None]] = {
    "gzip": ("gzip -9", None),
    "bzip2": ("bzip2 -9", None),
    "xz": ("xz -9e", None),
    "zstd": ("zstd -19", "zstandard"),
    "brotli": ("brotli -11", "brotli"),
    "ppmd": ("PPMd", "pyppmd"),
}
PPMD_VARIANTS = {"H": "7-zip's PPMd7", "I": "PPMd8, pyppmd's default"}

# The child: reads its input, times only the (de)compress call, writes the output to a file and
# prints one JSON line. It imports nothing from mdlkit unless it runs mdlkit's compressor, so a
# baseline's peak memory is the interpreter's plus its own. PPMd archives carry their order and
# memory size (and for variant H, which has no end marker, the length) in a small header.
_DRIVER = r"""
import json, sys, time


def varint(n):
    out = bytearray()
    while True:
        n, low = n >> 7, n & 0x7F
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def high_water_kb():
    # This process's peak resident memory in KiB (Linux; None elsewhere). Not ru_maxrss: Linux
    # carries the parent's peak over into a child's ru_maxrss across fork and exec.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def codec(name, p):
    if name == "gzip":
        import zlib
        return (lambda d: zlib.compress(d, 9)), zlib.decompress
    if name == "bzip2":
        import bz2
        return (lambda d: bz2.compress(d, 9)), bz2.decompress
    if name == "xz":
        import lzma
        return (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME)), lzma.decompress
    if name == "zstd":
        import zstandard
        return (
            lambda d: zstandard.ZstdCompressor(level=19).compress(d),
            lambda a: zstandard.ZstdDecompressor().decompress(a),
        )
    if name == "brotli":
        import brotli
        return (lambda d: brotli.compress(d, quality=11)), brotli.decompress
    if name == "ppmd":
        import pyppmd

        def compress(d):
            order, mb = p["order"], p["memory_mb"]
            head = bytes([order]) + varint(mb)
            if p["variant"] == "H":
                enc = pyppmd.Ppmd7Encoder(order, mb << 20)
                return head + varint(len(d)) + enc.encode(d) + enc.flush()
            return head + pyppmd.compress(d, max_order=order, mem_size=mb << 20, variant="I")

        def decompress(a):
            order, (mb, pos) = a[0], read_varint(a, 1)
            if p["variant"] == "H":
                n, pos = read_varint(a, pos)
                return pyppmd.Ppmd7Decoder(order, mb << 20).decode(a[pos:], n)
            return pyppmd.decompress(a[pos:], max_order=order, mem_size=mb << 20, variant="I")

        return compress, decompress
    if name == "mdlkit":
        from mdlkit.compression import compress, decompress
        return (lambda d: compress(d, mode=p["mode"], level=p["level"], verify=False)), decompress
    raise ValueError("unknown codec " + name)


job = json.loads(sys.argv[1])
try:
    compress, decompress = codec(job["codec"], job["params"])
except ImportError as exc:
    print(json.dumps({"missing": str(exc)}))
    sys.exit(3)
call = compress if job["op"] == "compress" else decompress
with open(job["input"], "rb") as f:
    data = f.read()
ready_kb = high_water_kb()
best = float("inf")
try:
    for _ in range(job["repeats"]):
        out = None  # the previous repeat's output is not kept alive during the next call
        start = time.perf_counter()
        out = call(data)
        best = min(best, time.perf_counter() - start)
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__ + ": " + str(exc)}))
    raise
with open(job["output"], "wb") as f:
    f.write(out)
print(json.dumps({"seconds": best, "ready_kb": ready_kb, "peak_kb": high_water_kb()}))
"""


@dataclass(frozen=True)
class BenchCompressConfig:
    """Which files, which compressors, how many timings."""

    files: tuple[str, ...]
    """files to compress (each whole, one at a time)"""
    mdlkit_modes: tuple[str, ...] = ("online:1", "online:2")
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
            _parse_mode(mode)
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


def _parse_mode(text: str) -> tuple[str, int]:
    """``"online:2"`` → ``("online", 2)``; ``"online"`` alone takes level 2 (the default)."""
    mode, _, level = text.partition(":")
    try:
        number = int(level) if level else 2
    except ValueError:
        number = 0
    if not mode or number < 1:
        raise MdlkitError(f"mdlkit mode {text!r} is not mode:level; write e.g. online:2")
    return mode, number


@dataclass(frozen=True)
class BenchCompressResult:
    """One row per file and compressor (``rows``), as ``results.json`` holds them, and the notes
    on compressors that were skipped. ``failed`` lists the rows whose round trip failed."""

    config: BenchCompressConfig
    files: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    skipped: list[str]
    libraries: dict[str, str]

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "file",
        "compressor",
        "bytes",
        "bits/byte",
        "compress KB/s",
        "decompress KB/s",
        "compress MB",
        "decompress MB",
        "round trip",
    )

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
        }

    def notes(self) -> list[str]:
        """The footnotes: what each figure means, then skipped compressors and failures."""
        c = self.config
        notes = [
            "bits/byte = 8 · compressed bytes / original bytes, whole files as each library "
            "writes them (gzip -9 is zlib level 9 in the zlib container: 6 bytes of framing).",
            "KB/s = original bytes (1 KB = 1000 B) per second of the compress or decompress "
            "call alone, timed inside a fresh child process"
            + (f" (best of {c.repeats})" if c.repeats > 1 else "")
            + "; start-up and imports are not counted (a run's results.json keeps the process "
            "wall times). "
            "All baselines run on one thread.",
            "MB = peak resident memory (10^6 B; VmHWM, or ru_maxrss where /proc is missing) of "
            "the child process that compresses or decompresses: it includes the Python "
            "interpreter (about 10 MB), the input and output bytes, and for mdlkit torch's "
            "import.",
        ]
        if c.ppmd and "ppmd" in {r["key"] for r in self.rows}:
            variants = ", ".join(f"{v} ({PPMD_VARIANTS[v]})" for v in c.ppmd_variants)
            notes.append(
                f"PPMd: pyppmd variant {variants}, {c.ppmd_memory_mb} MiB of model memory; the "
                f"order is chosen per file by the smallest output among "
                f"{', '.join(map(str, c.ppmd_orders))} (the choice is not timed); speeds and "
                "memory are the winning order's (every order's size and compress speed are in "
                "results.json). Sizes include a header of 3–7 bytes: the order, the memory size "
                "and, for H (no end marker), the length."
            )
        if c.mdlkit_modes and "mdlkit" in {r["key"] for r in self.rows}:
            notes.append(
                "mdlkit: compress is timed with verify=False; verifying is a decompress, so "
                "compress with verification takes about compress + decompress time. The online "
                "mode runs on one thread (numba kernels); the two-part mode codes on one torch "
                f"thread and trains on torch's default ({os.cpu_count()} cores here)."
            )
        notes += self.skipped
        notes += [f"FAILED: {f}" for f in self.failed]
        return notes

    def _cells(self, row: dict[str, Any]) -> list[str]:
        def fmt(value: float | None, spec: str) -> str:
            return "—" if value is None else format(value, spec)

        name = row["compressor"]
        if row.get("ppmd") and row["ppmd"]["order"] is not None:
            name = f"{name} (order {row['ppmd']['order']})"
        return [
            f"{row['file']} ({row['bytes']:,} B)",
            name,
            fmt(row["compressed_bytes"], ","),
            fmt(row["bits_per_byte"], ".3f"),
            fmt(row["compress_kb_per_s"], ",.0f"),
            fmt(row["decompress_kb_per_s"], ",.0f"),
            fmt(row["compress_peak_mb"], ".1f"),
            fmt(row["decompress_peak_mb"], ".1f"),
        ]

    def table(self) -> Table:
        """A rich table, one row per file and compressor; a failed round trip in bold red."""
        table = Table(title="compressors side by side (bits per byte: lower is better)")
        for i, column in enumerate(self.COLUMNS):
            table.add_column(column, justify="left" if i < 2 else "right")
        previous = None
        for row in self.rows:
            if previous is not None and row["file"] != previous:
                table.add_section()
            previous = row["file"]
            check = "ok" if row["round_trip"] == "ok" else f"[bold red]{row['round_trip']}[/]"
            table.add_row(*map(escape, self._cells(row)), check)
        return table

    def markdown(self) -> str:
        """The table and its footnotes as Markdown."""
        lines = [
            "| " + " | ".join(self.COLUMNS) + " |",
            "|" + "---|" * 2 + "---:|" * (len(self.COLUMNS) - 3) + "---|",
        ]
        for row in self.rows:
            check = "ok" if row["round_trip"] == "ok" else f"**{row['round_trip']}**"
            lines.append("| " + " | ".join([*self._cells(row), check]) + " |")
        lines.append("")
        lines += [f"- {note}" for note in self.notes()]
        return "\n".join(lines) + "\n"

    def report(self) -> Report:
        """The rich table; the notes are rich markup (the command line prints them so)."""
        notes = [
            f"[bold red]{escape(n)}[/]" if n.startswith("FAILED") else escape(n)
            for n in self.notes()
        ]
        return Report(self.table(), tuple(notes))

    def plot(self, path: str | Path) -> Path:
        """Bits per byte against compress speed (log scale): one colour per file, one marker
        per compressor; rows that failed are left out."""
        names = list(dict.fromkeys(r["compressor"] for r in self.rows))
        markers = dict(zip(names, "osD^vP*Xhp<>", strict=False))
        colors = {f["file"]: f"C{i}" for i, f in enumerate(self.files)}
        fig, ax = plt.subplots(figsize=(9.5, 5))
        for row in self.rows:
            if row["round_trip"] != "ok":
                continue
            ax.scatter(
                row["compress_kb_per_s"],
                row["bits_per_byte"],
                color=colors[row["file"]],
                marker=markers.get(row["compressor"], "o"),
                s=45,
            )
        handles = [
            plt.Line2D([], [], color="0.3", marker=m, ls="", label=n) for n, m in markers.items()
        ]
        handles += [plt.Line2D([], [], color=c, lw=4, label=f) for f, c in colors.items()]
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
        ax.set(
            xscale="log",
            xlabel="compress speed (KB/s of original bytes, 1 KB = 1000 B)",
            ylabel="bits per byte",
            title="size against speed (lower is smaller, right is faster)",
        )
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def library_versions() -> dict[str, str]:
    """Versions of Python and of every compression library (``"not installed"`` if absent);
    bz2 and lzma report none."""
    versions = {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION}
    for dist in ("zstandard", "brotli", "pyppmd", "torch", "mdlkit"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


@dataclass(frozen=True)
class _Child:
    """What one child process reports: seconds of the call, its peak memory, wall time."""

    seconds: float | None
    peak_mb: float | None
    ready_mb: float | None
    process_seconds: float
    memory_source: str | None = None
    missing: str | None = None
    error: str | None = None


def _kib_to_mb(kib: float | None) -> float | None:
    return None if kib is None else kib * 1024 / 1e6


def _run_child(job: dict[str, Any]) -> _Child:
    """Run the driver on ``job`` in a fresh interpreter and collect what it reports.

    Peak memory is the child's own VmHWM where /proc exists. ``ru_maxrss`` from :func:`os.wait4`
    is only the fallback: on Linux a child's ru_maxrss starts at its parent's peak (it is carried
    over across fork and exec), which here includes torch.
    """
    src = str(Path(__file__).resolve().parents[2])  # the same mdlkit as this process
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, json.dumps(job)], stdout=out, stderr=err, env=env
        )
        rusage_mb: float | None = None
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss is in bytes on macOS, in KiB elsewhere
            rusage_mb = usage.ru_maxrss / (1e6 if sys.platform == "darwin" else 1e6 / 1024)
        else:  # no rusage of a child (Windows)
            proc.wait()
        process_seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
        stderr = err.read().decode(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except ValueError:
        report = {}
    if proc.returncode != 0 or "seconds" not in report:
        reason = report.get("error") or (stderr[-1] if stderr else f"exit {proc.returncode}")
        return _Child(
            None, None, None, process_seconds, missing=report.get("missing"), error=reason
        )
    source: str | None
    if report.get("peak_kb") is not None:
        peak, source = _kib_to_mb(report["peak_kb"]), "VmHWM"
    else:
        peak, source = rusage_mb, None if rusage_mb is None else "ru_maxrss"
    return _Child(
        report["seconds"], peak, _kib_to_mb(report.get("ready_kb")), process_seconds, source
    )


def _read_restored(path: Path) -> bytes:
    return path.read_bytes()


def _measure(
    label: str,
    key: str,
    params: list[dict[str, Any]],
    source: Path,
    original: bytes,
    work: Path,
    repeats: int,
) -> dict[str, Any] | str:
    """One row: compress with every parameter set (several only for PPMd's orders), keep the
    smallest output, decompress it and compare. A string instead of a row: the library is
    missing (the note to show)."""
    n = len(original)
    tries: list[tuple[dict[str, Any], _Child, int]] = []
    for i, p in enumerate(params):
        archive = work / f"{key}-{i}.bin"
        child = _run_child(
            {
                "op": "compress",
                "codec": key,
                "params": p,
                "input": str(source),
                "output": str(archive),
                "repeats": repeats,
            }
        )
        if child.missing is not None:
            return f"{label} skipped: {child.missing} ({BENCH_EXTRA})"
        tries.append((p, child, archive.stat().st_size if child.error is None else -1))
    row: dict[str, Any] = {
        "compressor": label,
        "key": key,
        "bytes": n,
        "compressed_bytes": None,
        "bits_per_byte": None,
        "compress_seconds": None,
        "decompress_seconds": None,
        "compress_kb_per_s": None,
        "decompress_kb_per_s": None,
        "compress_peak_mb": None,
        "decompress_peak_mb": None,
        "compress_ready_mb": None,
        "decompress_ready_mb": None,
        "compress_process_seconds": None,
        "decompress_process_seconds": None,
        "memory_source": None,
        "round_trip": "ERROR",
        "error": None,
    }
    if key == "ppmd":
        row["ppmd"] = {
            "variant": params[0]["variant"],
            "memory_mib": params[0]["memory_mb"],
            "order": None,
            "orders": {
                str(p["order"]): {
                    "compressed_bytes": size if c.error is None else None,
                    "bits_per_byte": 8 * size / n if c.error is None else None,
                    "compress_seconds": c.seconds,
                    "compress_kb_per_s": n / c.seconds / 1e3 if c.seconds else None,
                    "compress_peak_mb": c.peak_mb,
                    "error": c.error,
                }
                for p, c, size in tries
            },
        }
    failed = [c.error for _, c, _ in tries if c.error is not None]
    if failed:
        row["error"] = f"compress failed: {failed[0]}"
        return row
    i, (p, compressed, size) = min(enumerate(tries), key=lambda t: (t[1][2], t[0]))
    if key == "ppmd":
        row["ppmd"]["order"] = p["order"]
    archive, restored_path = work / f"{key}-{i}.bin", work / f"{key}-restored.bin"
    restored = _run_child(
        {
            "op": "decompress",
            "codec": key,
            "params": p,
            "input": str(archive),
            "output": str(restored_path),
            "repeats": repeats,
        }
    )
    row.update(
        compressed_bytes=size,
        bits_per_byte=8 * size / n,
        compress_seconds=compressed.seconds,
        compress_kb_per_s=n / compressed.seconds / 1e3 if compressed.seconds else None,
        compress_peak_mb=compressed.peak_mb,
        compress_ready_mb=compressed.ready_mb,
        compress_process_seconds=compressed.process_seconds,
        memory_source=compressed.memory_source,
        decompress_process_seconds=restored.process_seconds,
    )
    if restored.error is not None:
        row["error"] = f"decompress failed: {restored.error}"
        return row
    row.update(
        decompress_seconds=restored.seconds,
        decompress_kb_per_s=n / restored.seconds / 1e3 if restored.seconds else None,
        decompress_peak_mb=restored.peak_mb,
        decompress_ready_mb=restored.ready_mb,
    )
    if _read_restored(restored_path) == original:
        row["round_trip"] = "ok"
    else:
        row["round_trip"] = "FAILED"
        row["error"] = "decompressed bytes differ from the original"
    return row


def _mdlkit_unavailable() -> str | None:
    """Why mdlkit's compressor cannot be measured, or None if it can."""
    try:
        module = importlib.import_module("mdlkit.compression")
    except Exception as exc:  # a missing or half-written module: not there yet
        return f"{type(exc).__name__}: {exc}"
    missing = [f for f in ("compress", "decompress") if not callable(getattr(module, f, None))]
    return f"mdlkit.compression has no {' or '.join(missing)} yet" if missing else None


def _compressors(
    config: BenchCompressConfig,
) -> tuple[list[tuple[str, str, list[dict[str, Any]]]], list[str]]:
    """``(label, codec key, parameter sets)`` to measure, and notes on those skipped."""
    chosen: list[tuple[str, str, list[dict[str, Any]]]] = []
    skipped: list[str] = []
    for key in config.baselines():
        label, module = BASELINES[key]
        if module is not None and importlib.util.find_spec(module) is None:
            skipped.append(f"{label} skipped: {module} is not installed ({BENCH_EXTRA})")
            continue
        if key != "ppmd":
            chosen.append((label, key, [{}]))
            continue
        for variant in config.ppmd_variants:
            params = [
                {"order": o, "memory_mb": config.ppmd_memory_mb, "variant": variant}
                for o in config.ppmd_orders
            ]
            chosen.append((f"PPMd {variant}", key, params))
    if config.mdlkit_modes:
        reason = _mdlkit_unavailable()
        if reason is not None:
            skipped.append(
                f"mdlkit {', '.join(config.mdlkit_modes)} skipped: mdlkit.compression does not "
                f"import yet ({reason})"
            )
        else:
            for text in config.mdlkit_modes:
                mode, level = _parse_mode(text)
                chosen.append(
                    (f"mdlkit {mode}:{level}", "mdlkit", [{"mode": mode, "level": level}])
                )
    return chosen, skipped


def _file_labels(paths: list[Path]) -> list[str]:
    names = [p.name for p in paths]
    return [p.name if names.count(p.name) == 1 else str(p) for p in paths]


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
    paths = [Path(p).resolve() for p in config.files]
    chosen, skipped = _compressors(config)
    files: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mdlkit-bench-") as tmp:
        for path, label in zip(paths, _file_labels(paths), strict=True):
            original = path.read_bytes()
            files.append({"file": label, "path": str(path), "bytes": len(original)})
            for name, key, params in chosen:
                work = Path(tmp) / f"{len(files)}-{len(rows)}"
                work.mkdir()
                row = _measure(name, key, params, path, original, work, config.repeats)
                if isinstance(row, str):
                    if row not in skipped:
                        skipped.append(row)
                    continue
                rows.append({"file": label, **row})
    result = BenchCompressResult(config, files, rows, skipped, library_versions())
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
