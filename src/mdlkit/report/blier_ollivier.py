"""The table and plot of ``mdlkit experiment blier-ollivier``: every code's length on the MNIST
labels beside Blier & Ollivier's (2018) figures, and the bits per label in each block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["PAPER", "blier_ollivier_table", "plot_block_bits"]

PAPER: dict[str, tuple[float, float | None]] = {
    "uniform": (199.0, 0.10),
    "variational": (22.2, None),
    "prequential": (4.10, 0.995),
}
"""Blier & Ollivier's MNIST figures (60,000 labels): kbit and test accuracy (None: not used
here). Their prequential code picks architecture and hyperparameters per block uncharged."""

_ORDER = (
    "uniform",
    "two-part float32",
    "two-part (mdlkit codec)",
    "variational",
    "prequential",
    "switching",
)


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None or value != value else format(value, fmt)


def blier_ollivier_table(
    rows: Mapping[str, Mapping[str, Any]],
    n: int,
    k: int,
    paper: Mapping[str, tuple[float, float | None]] = PAPER,
) -> str:
    """Markdown: one row per code — the stream's kbit (1 kbit = 1000 bits) and its ideal
    Σ −log2 p beside it, ratio to uniform, the paper's kbit, test accuracy, whether the stream
    was decoded back, seconds; then each online learner's own prequential length."""
    uniform = n * np.log2(k)
    lines = [
        f"MNIST labels: n = {n:,}, K = {k}; uniform = n·log2 K = {uniform / 1000:.2f} kbit.",
        "",
        "| code | kbit | ideal kbit | / uniform | paper kbit | test acc. % | paper acc. % "
        "| decoded | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = [name for name in _ORDER if name in rows]
    names += [name for name in rows if name not in names]
    for name in names:
        row = rows[name]
        published = paper.get(name, (None, None))
        acc = row.get("test_accuracy")
        bits = row.get("coded_bits") or row["bits"]  # the stream where there is one
        ideal = row.get("ideal_bits", row["bits"])
        lines.append(
            f"| {name} | {bits / 1000:.2f} | {ideal / 1000:.2f} | {bits / uniform:.4f} | "
            f"{_cell(published[0], '.2f')} | {_cell(None if acc is None else 100 * acc, '.2f')} | "
            f"{_cell(None if published[1] is None else 100 * published[1], '.1f')} | "
            f"{'yes' if row.get('decoded') else 'no'} | {_cell(row.get('seconds'), '.0f')} |"
        )
    for name in names:
        if "block_bits" in rows[name] and not name.startswith("learner"):
            bits = ", ".join(f"{b:.0f}" for b in rows[name]["block_bits"])
            lines.append(f"\n{name}, bits per block: {bits}")
    return "\n".join(lines) + "\n"


def plot_block_bits(
    rows: Mapping[str, Mapping[str, Any]],
    boundaries: Sequence[int],
    uniform_per_label: float,
    path: Path,
) -> None:
    """Bits per label in each block (log-log) for every online row, uniform dashed."""
    sizes = np.diff(np.asarray(boundaries))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, row in rows.items():
        if "block_bits" in row:
            style = ":" if name.startswith("learner") else "-"
            label = f"{name} ({row.get('model', {}).get('kind', '')})" if style == ":" else name
            per_label = np.asarray(row["block_bits"]) / sizes
            ax.step(boundaries[1:], per_label, where="pre", ls=style, label=label)
    ax.axhline(uniform_per_label, color="k", ls="--", label="uniform")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="end of block (labels sent)",
        ylabel="bits per label",
        title="MNIST online codes: bits per label in each block",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
