"""Shared by the benchmark scripts: print a result and keep it under results/."""

from __future__ import annotations

import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def publish(name: str, text: str) -> Path:
    """Print ``text`` and write it to ``results/<name>`` (the latest figures, under git)."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(text)
    return path


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"
