"""The table and plot of ``mdlkit probe``: online codelength and compression of the labels and
of the control task, and their cumulative bits portion by portion beside the uniform code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from rich.table import Table

__all__ = ["plot_probe", "probe_table"]


def probe_table(title: str, uniform_bits: float, tasks: Mapping[str, Mapping[str, Any]]) -> Table:
    """One row per task and one for the uniform code: bits (kbit beside it for reading),
    compression = uniform / online, test accuracy of the final probe, whether the stream was
    decoded back, seconds."""
    table = Table(title=title)
    columns = ("task", "bits", "kbit", "compression", "test accuracy %", "decoded back", "s")
    for column in columns:
        table.add_column(column, justify="left" if column == "task" else "right")
    table.add_row("uniform", f"{uniform_bits:,.1f}", f"{uniform_bits / 1000:.3f}", "1.000")
    for name, row in tasks.items():
        acc = row["test_accuracy"]
        table.add_row(
            name,
            f"{row['online_bits']:,.1f}",
            f"{row['kbit']:.3f}",
            f"{row['compression']:.3f}",
            "—" if acc != acc else f"{100 * acc:.2f}",
            "yes" if row["decoded"] else "no",
            f"{row['seconds']:.1f}",
        )
    return table


def plot_probe(
    curves: Mapping[str, Sequence[float]],
    uniform_bits: float,
    boundaries: Sequence[int],
    path: Path,
) -> None:
    """Cumulative bits after each portion (x: % of the labels sent, log scale) for every task
    in ``curves``, and the uniform code's line n·log2 K · t/n."""
    n = boundaries[-1]
    percent = [100 * t / n for t in boundaries[1:]]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, cumulative in curves.items():
        ax.plot(percent, cumulative, "o-", label=name)
    ax.plot(percent, [uniform_bits * t / n for t in boundaries[1:]], "k--", label="uniform")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="labels sent (% of the data)",
        ylabel="cumulative code length (bits)",
        title="online codelength, portion by portion",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
