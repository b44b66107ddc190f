"""The table and plot of ``mdlkit codelength``: every code's length beside uniform, and the
lengths transmitted sample by sample."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from rich.table import Table

__all__ = ["codelength_table", "plot_codelengths"]


def codelength_table(title: str, codes: Mapping[str, Mapping[str, Any]]) -> Table:
    """A table like Blier & Ollivier's Table 1: one row per code (bits, and kbit beside them
    for reading; ratio to uniform, test accuracy, whether it was decoded back, seconds)."""
    table = Table(title=title)
    for column in (
        "code",
        "bits",
        "kbit",
        "ratio to uniform",
        "test accuracy %",
        "decoded back",
        "s",
    ):
        table.add_column(column, justify="left" if column == "code" else "right")
    for name, row in codes.items():
        acc, verified = row["test_accuracy"], row.get("verified")
        table.add_row(
            name,
            f"{row['bits']:,.1f}",
            f"{row['kbit']:.3f}",
            f"{row['ratio_to_uniform']:.4f}",
            "—" if acc != acc else f"{100 * acc:.2f}",
            "—" if verified is None else "yes" if verified else "no",
            f"{row['seconds']:.1f}",
        )
    return table


def plot_codelengths(
    curves: Mapping[str, tuple[np.ndarray, Sequence[float]]],
    uniform_per_sample: float,
    boundaries: Sequence[int],
    path: Path,
) -> None:
    """Two panels: cumulative bits against samples transmitted, and bits per sample in each
    block; ``curves`` maps a code's name to (bits per sample, bits per block)."""
    fig, (ax_cum, ax_block) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = np.diff(boundaries)
    for name, (bits, block_bits) in curves.items():
        ax_cum.plot(np.arange(1, len(bits) + 1), np.cumsum(bits), label=name)
        ax_block.step(boundaries[1:], np.array(block_bits) / sizes, where="pre", label=name)
    n = boundaries[-1]
    ax_cum.plot([0, n], [0, n * uniform_per_sample], "k--", label="uniform")
    ax_cum.set(
        xlabel="samples transmitted",
        ylabel="cumulative code length (bits)",
        title="cumulative code length",
    )
    ax_block.axhline(uniform_per_sample, color="k", ls="--", label="uniform")
    ax_block.set(
        xscale="log",
        xlabel="end of block (samples)",
        ylabel="bits per sample",
        title="bits per sample in each block",
    )
    ax_cum.legend()
    ax_block.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
