"""Every code on scikit-learn's digits, with wall time (target: the full table in < 5 min).

Run: ``.venv/bin/python benchmarks/digits_codelength.py``; writes ``results/digits_codelength.md``.
"""

from __future__ import annotations

import platform
import time

import torch
from _publish import publish

from mdlkit.recipes.codelength import CodelengthConfig, run_codelength


def main() -> None:
    start = time.perf_counter()
    result = run_codelength(CodelengthConfig())
    seconds = time.perf_counter() - start
    lines = [
        f"# Digits: every code ({result.n:,} training labels, {result.classes} classes)",
        "",
        f"Machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
        "threads. Command: `.venv/bin/python benchmarks/digits_codelength.py` (the defaults of "
        f"`mdlkit codelength`). Whole table: {seconds:.0f} s.",
        "",
        "| code | kbit | ratio to uniform | test accuracy % | decoded back | s |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result.codes.items():
        acc = row["test_accuracy"]
        acc_text = "—" if acc != acc else f"{100 * acc:.2f}"
        lines.append(
            f"| {name} | {row['kbit']:.3f} | {row['ratio_to_uniform']:.4f} | "
            f"{acc_text} | {row.get('verified', '—')} | {row['seconds']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    publish("digits_codelength.md", text)


if __name__ == "__main__":
    main()
