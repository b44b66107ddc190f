"""Compressors measured on files, every call in a fresh process: size, speed, memory, round trip.

For every file and every compressor (:func:`compressors`): compress with each parameter set
(several only for PPMd's orders), keep the smallest output, decompress it and compare with the
original (:func:`bench_files`). Each call runs in its own interpreter, ``python -P
baselines.py JOB`` (:mod:`mdlkit.compression.baselines` run by path), so that its peak memory
(the child's own high-water mark, VmHWM) is that compressor's plus the interpreter's; the speeds
time only the call inside the child. mdlkit's own modes run the same way, by name (``"mdlkit"``
with ``mode`` and ``level``).

A row holds the original and compressed bytes, bits per byte (``8 · compressed bytes /
original bytes``), compress and decompress speed (KB/s of original bytes, 1 KB = 1000 B), the
peak memory (MB = 10^6 B) of each call, and ``round_trip``: ``"ok"``, ``"FAILED"`` (other bytes
came back) or ``"ERROR"`` (a call raised; ``error`` says what).

>>> parse_mode("online:1"), parse_mode("two-part")
(('online', 1), ('two-part', 2))
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdlkit.compression import baselines
from mdlkit.compression.baselines import BASELINES, BENCH_EXTRA, codec, ppmd_stream, unavailable
from mdlkit.errors import MdlkitError

__all__ = [
    "Compressor",
    "Measurement",
    "baseline_sizes",
    "bench_files",
    "compressors",
    "parse_mode",
    "run_child",
]


def parse_mode(text: str) -> tuple[str, int]:
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
class Compressor:
    """One row's compressor: its label, the codec key of :func:`~mdlkit.compression.baselines.
    codec` and the parameter sets to try (the smallest output wins)."""

    label: str
    key: str
    params: list[dict[str, Any]]


def compressors(
    keys: Sequence[str],
    *,
    ppmd_orders: Sequence[int],
    ppmd_variants: Sequence[str],
    ppmd_memory_mb: int,
    mdlkit_modes: Sequence[str],
) -> tuple[list[Compressor], list[str]]:
    """The compressors to measure (``keys`` of :data:`~mdlkit.compression.baselines.BASELINES`
    in order, one PPMd row per variant, then mdlkit's ``mode:level``\\ s) and notes on those
    skipped because they do not import."""
    chosen: list[Compressor] = []
    skipped: list[str] = []
    for key in keys:
        label, library = BASELINES[key]
        if library is not None and unavailable(key) is not None:
            skipped.append(f"{label} skipped: {library} is not installed ({BENCH_EXTRA})")
            continue
        if key != "ppmd":
            chosen.append(Compressor(label, key, [{}]))
            continue
        for variant in ppmd_variants:
            params = [
                {"order": o, "memory_mb": ppmd_memory_mb, "variant": variant} for o in ppmd_orders
            ]
            chosen.append(Compressor(f"PPMd {variant}", key, params))
    if mdlkit_modes:
        reason = unavailable("mdlkit")
        if reason is not None:
            skipped.append(
                f"mdlkit {', '.join(mdlkit_modes)} skipped: mdlkit.compression does not "
                f"import yet ({reason})"
            )
        else:
            for text in mdlkit_modes:
                mode, level = parse_mode(text)
                params = [{"mode": mode, "level": level}]
                chosen.append(Compressor(f"mdlkit {mode}:{level}", "mdlkit", params))
    return chosen, skipped


@dataclass(frozen=True)
class Measurement:
    """What one child process reports: seconds of the call (the fastest repeat), its peak
    memory and the peak before the call in MB, and the wall time of the whole process."""

    seconds: float | None
    peak_mb: float | None
    ready_mb: float | None
    process_seconds: float
    memory_source: str | None = None
    missing: str | None = None
    error: str | None = None


def _kib_to_mb(kib: float | None) -> float | None:
    return None if kib is None else kib * 1024 / 1e6


def run_child(job: dict[str, Any]) -> Measurement:
    """Run ``job`` (see :func:`mdlkit.compression.baselines.main`) in a fresh interpreter and
    collect what it reports.

    Peak memory is the child's own VmHWM where /proc exists. ``ru_maxrss`` from :func:`os.wait4`
    is only the fallback: on Linux a child's ru_maxrss starts at its parent's peak (it is carried
    over across fork and exec), which here includes torch.
    """
    src = str(Path(__file__).resolve().parents[2])  # the same mdlkit as this process
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    # -P: the script's folder (mdlkit/compression) stays off sys.path, so no module there can
    # stand in for a standard one
    command = [sys.executable, "-P", baselines.__file__, json.dumps(job)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
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
        return Measurement(
            None, None, None, process_seconds, missing=report.get("missing"), error=reason
        )
    source: str | None
    if report.get("peak_kb") is not None:
        peak, source = _kib_to_mb(report["peak_kb"]), "VmHWM"
    else:
        peak, source = rusage_mb, None if rusage_mb is None else "ru_maxrss"
    return Measurement(
        report["seconds"], peak, _kib_to_mb(report.get("ready_kb")), process_seconds, source
    )


def _read_restored(path: Path) -> bytes:
    return path.read_bytes()


def _kb_per_s(n: int, seconds: float | None) -> float | None:
    return n / seconds / 1e3 if seconds else None


_TIMED = ("seconds", "kb_per_s", "peak_mb", "ready_mb", "process_seconds")


def _empty_row(compressor: Compressor, n: int) -> dict[str, Any]:
    timed = {f"{op}_{field}": None for field in _TIMED for op in ("compress", "decompress")}
    return {
        "compressor": compressor.label,
        "key": compressor.key,
        "bytes": n,
        "compressed_bytes": None,
        "bits_per_byte": None,
        **timed,
        "memory_source": None,
        "round_trip": "ERROR",
        "error": None,
    }


def _ppmd_orders(
    params: list[dict[str, Any]], tries: list[tuple[Measurement, int]], n: int
) -> dict[str, Any]:
    """Every PPMd order's size and compress speed; the winning ``order`` is filled in later."""
    return {
        "variant": params[0]["variant"],
        "memory_mib": params[0]["memory_mb"],
        "order": None,
        "orders": {
            str(p["order"]): {
                "compressed_bytes": size if c.error is None else None,
                "bits_per_byte": 8 * size / n if c.error is None else None,
                "compress_seconds": c.seconds,
                "compress_kb_per_s": _kb_per_s(n, c.seconds),
                "compress_peak_mb": c.peak_mb,
                "error": c.error,
            }
            for p, (c, size) in zip(params, tries, strict=True)
        },
    }


def _measure(
    compressor: Compressor, source: Path, original: bytes, work: Path, repeats: int
) -> dict[str, Any] | str:
    """One row: compress with every parameter set, keep the smallest output, decompress it and
    compare. A string instead of a row: the library is missing (the note to show)."""
    n, key = len(original), compressor.key
    tries: list[tuple[Measurement, int]] = []
    for i, p in enumerate(compressor.params):
        archive = work / f"{key}-{i}.bin"
        job = {"op": "compress", "codec": key, "params": p, "input": str(source)}
        child = run_child({**job, "output": str(archive), "repeats": repeats})
        if child.missing is not None:
            return f"{compressor.label} skipped: {child.missing} ({BENCH_EXTRA})"
        tries.append((child, archive.stat().st_size if child.error is None else -1))
    row = _empty_row(compressor, n)
    if key == "ppmd":
        row["ppmd"] = _ppmd_orders(compressor.params, tries, n)
    failed = [c.error for c, _ in tries if c.error is not None]
    if failed:
        row["error"] = f"compress failed: {failed[0]}"
        return row
    i, (compressed, size) = min(enumerate(tries), key=lambda t: (t[1][1], t[0]))
    p = compressor.params[i]
    if key == "ppmd":
        row["ppmd"]["order"] = p["order"]
    archive, restored_path = work / f"{key}-{i}.bin", work / f"{key}-restored.bin"
    job = {"op": "decompress", "codec": key, "params": p, "input": str(archive)}
    restored = run_child({**job, "output": str(restored_path), "repeats": repeats})
    row.update(
        compressed_bytes=size,
        bits_per_byte=8 * size / n,
        compress_seconds=compressed.seconds,
        compress_kb_per_s=_kb_per_s(n, compressed.seconds),
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
        decompress_kb_per_s=_kb_per_s(n, restored.seconds),
        decompress_peak_mb=restored.peak_mb,
        decompress_ready_mb=restored.ready_mb,
    )
    if _read_restored(restored_path) == original:
        row["round_trip"] = "ok"
    else:
        row["round_trip"] = "FAILED"
        row["error"] = "decompressed bytes differ from the original"
    return row


def _file_labels(paths: Sequence[Path]) -> list[str]:
    """Each file's name, or its whole path where two files share a name."""
    names = [p.name for p in paths]
    return [p.name if names.count(p.name) == 1 else str(p) for p in paths]


def bench_files(
    paths: Sequence[Path], chosen: Sequence[Compressor], repeats: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Measure every compressor on every file (read whole), timing each call ``repeats`` times
    (the fastest counts). Returns the files (``file``, ``path``, ``bytes``), one row per file
    and compressor (with ``file`` first), and notes on compressors a child found missing."""
    files: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mdlkit-bench-") as tmp:
        for path, label in zip(paths, _file_labels(paths), strict=True):
            original = path.read_bytes()
            files.append({"file": label, "path": str(path), "bytes": len(original)})
            for compressor in chosen:
                work = Path(tmp) / f"{len(files)}-{len(rows)}"
                work.mkdir()
                row = _measure(compressor, path, original, work, repeats)
                if isinstance(row, str):
                    if row not in skipped:
                        skipped.append(row)
                    continue
                rows.append({"file": label, **row})
    return files, rows, skipped


def baseline_sizes(
    data: bytes, *, ppmd_orders: Sequence[int] = (4, 6, 8), online: bool = True
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Compressed sizes in bytes of ``data`` under xz -9e, zstd -19, PPMd (the best of
    ``ppmd_orders``, pyppmd's variant I with 256 MiB, its stream without a header) and mdlkit's
    online mode, each called here (``seconds``: its wall time); a compressor that does not
    import is left out, with a note.

    >>> sizes, _ = baseline_sizes(bytes(1000), ppmd_orders=(), online=False)
    >>> sizes["xz"]["label"], sizes["xz"]["bytes"]
    ('xz -9e', 76)
    """
    sizes: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    def timed(name: str, label: str, compress: Callable[[bytes], bytes]) -> None:
        started = time.perf_counter()
        size = len(compress(data))
        sizes[name] = {"label": label, "bytes": size, "seconds": time.perf_counter() - started}

    timed("xz", "xz -9e", codec("xz")[0])
    try:
        timed("zstd", "zstd -19", codec("zstd")[0])
    except ImportError:
        notes.append(f"zstd -19 skipped: zstandard is not installed ({BENCH_EXTRA})")
    try:
        best: dict[str, Any] | None = None
        for order in ppmd_orders:
            started = time.perf_counter()
            size = len(ppmd_stream(data, order, 256, "I"))
            if best is None or size < best["bytes"]:
                seconds = time.perf_counter() - started
                best = {"label": f"PPMd (order {order})", "bytes": size, "seconds": seconds}
        if best is not None:
            sizes["ppmd"] = best
    except ImportError:
        notes.append(f"PPMd skipped: pyppmd is not installed ({BENCH_EXTRA})")
    if online:
        try:
            from mdlkit.compression.compressor import compress
        except ImportError:
            notes.append(
                "mdlkit online: n/a (mdlkit.compression.compress does not exist yet in this "
                "version)"
            )
        else:
            timed("online", "mdlkit online", lambda d: compress(d, mode="online"))
    return sizes, notes
