"""Start-up as a user meets it: the whole command, in a fresh process, on a small file.

The speeds of :mod:`~mdlkit.compression.benchmark` time the call inside a running interpreter;
a user who types ``xz -9e notes.txt`` or ``mdlz notes.txt`` waits for the whole process —
start-up, imports, table allocation, compression and (for mdlz) verification. For every
command-line compressor on the ``PATH`` (gzip, bzip2, xz, zstd, brotli) and mdlkit's ``mdlz``
(online level 2, verified by decoding, as it runs by default), :func:`measure_startup` runs
``COMMAND -c SAMPLE > out`` ``repeats`` times and keeps the fastest wall time (s) and the
process's peak resident memory (MB = 10^6 B, from ``wait4``'s ``ru_maxrss``), with the output's
size.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SAMPLE_BYTES", "commands", "measure_startup"]

SAMPLE_BYTES = 5000
_TOOLS = {
    "gzip -9": ["gzip", "-9", "-c"],
    "bzip2 -9": ["bzip2", "-9", "-c"],
    "xz -9e": ["xz", "-9e", "-T1", "-c"],
    "zstd -19": ["zstd", "-19", "-q", "-c"],
    "brotli -11": ["brotli", "-q", "11", "-c"],
}


def commands() -> dict[str, list[str]]:
    """The command lines to time, by name: the tools found on the ``PATH`` and mdlz (the
    console script beside this interpreter, else ``python -m mdlkit.cli.mdlz``)."""
    found = {name: argv for name, argv in _TOOLS.items() if shutil.which(argv[0])}
    script = Path(sys.executable).parent / "mdlz"
    mdlz = [str(script)] if script.exists() else [sys.executable, "-m", "mdlkit.cli.mdlz"]
    return {**found, "mdlz (online:2, verified)": [*mdlz, "-q", "-c"]}


def _run_once(argv: Sequence[str], sample: Path, out: Path) -> tuple[float, float | None, int]:
    # GNU time forks the command from a process of a few MB: a child forked from this
    # interpreter would carry its resident pages into ru_maxrss until it execs.
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    launch = [timer, "-f", "%M"] if timer else []
    with out.open("wb") as target:
        start = time.perf_counter()
        proc = subprocess.run(
            [*launch, *argv, str(sample)], stdout=target, stderr=subprocess.PIPE, check=False
        )
        seconds = time.perf_counter() - start
    err = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}: {err}")
    peak = float(err.splitlines()[-1]) * 1024 / 1e6 if timer and err else None
    return seconds, peak, out.stat().st_size


def measure_startup(
    sample: bytes, tools: dict[str, list[str]] | None = None, repeats: int = 3
) -> list[dict[str, Any]]:
    """One row per command: ``name``, ``seconds`` (fastest of ``repeats``), ``peak_mb`` (of
    that run), ``output_bytes`` and ``input_bytes``; a command that fails gets ``error``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mdlkit-startup-") as tmp:
        path = Path(tmp) / "sample"
        path.write_bytes(sample)
        for name, argv in (tools if tools is not None else commands()).items():
            row: dict[str, Any] = {"name": name, "input_bytes": len(sample)}
            try:
                runs = [_run_once(argv, path, Path(tmp) / "out") for _ in range(repeats)]
            except (OSError, RuntimeError) as exc:
                row["error"] = str(exc)
            else:
                seconds, peak, size = min(runs)
                row.update(seconds=seconds, peak_mb=peak, output_bytes=size)
            rows.append(row)
    return rows
