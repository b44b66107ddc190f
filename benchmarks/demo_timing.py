"""Wall time of the main job (``mdlkit demo``) and its table, on this machine.

Run: ``.venv/bin/python benchmarks/demo_timing.py``; writes ``benchmarks/results/demo.md``.
"""

from __future__ import annotations

import platform
import time

import torch
from _publish import publish

from mdlkit.recipes import run_demo
from mdlkit.report import fit_table, render_text


def main() -> None:
    start = time.perf_counter()
    runs = run_demo().runs
    seconds = time.perf_counter() - start
    table = render_text(fit_table([(n, r.summary()) for n, r in runs.items()], "mdlkit demo"))
    text = (
        "# Demo timing\n\n"
        f"Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. "
        "Command: `.venv/bin/python benchmarks/demo_timing.py`\n\n"
        f"Wall time of the whole demo (both runs, encoding and verification): {seconds:.1f} s\n\n"
        f"```\n{table}```\n"
    )
    publish("demo.md", text)


if __name__ == "__main__":
    main()
