"""Shared by the benchmark scripts: print a result and keep it under results/."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def publish(name: str, text: str) -> Path:
    """Print ``text`` and write it to ``results/<name>`` (the latest figures, under git)."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(text)
    return path
