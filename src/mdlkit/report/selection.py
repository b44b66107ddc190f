"""A selection's table (every candidate's parts, the choice marked) and its plot: two-part length
against the strength α."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from rich.table import Table

from mdlkit.report.plots import save_figure

__all__ = ["plot_selection", "selection_table"]


def selection_table(
    title: str, rows: Sequence[Mapping[str, Any]], chosen: int, regression: bool
) -> Table:
    """One row per candidate: α, nonzero weights, the parts of its two-part code in bits and
    its test quality (MSE for regression, accuracy otherwise); ``chosen`` marked with →."""
    table = Table(title=title)
    table.add_column("candidate", no_wrap=True)
    for column in ("α", "nonzero", "arch", "weights", "data", "two-part",
                   "test MSE" if regression else "test acc %"):  # fmt: skip
        table.add_column(column, justify="right")
    for i, row in enumerate(rows):
        quality = row["test_mse"] if regression else 100 * row["test_accuracy"]
        table.add_row(
            ("→ " if i == chosen else "  ") + row["key"],
            "—" if row["alpha"] is None else f"{row['alpha']:.4g}",
            f"{row['nonzero']:,}",
            f"{row['architecture_bits']:,.0f}",
            f"{row['weights_bits']:,.0f}",
            f"{row['data_bits']:,.0f}",
            f"{row['two_part_bits']:,.0f}",
            f"{quality:.3g}" if regression else f"{quality:.2f}",
        )
    return table


def plot_selection(
    rows: Sequence[Mapping[str, Any]],
    chosen: int,
    uniform_bits: float | None,
    prequential_bits: float | None,
    path: str | Path,
) -> Path:
    """Two-part bits vs α (log scale), one line per family (the key without its α), the
    all-pruned candidate, uniform and prequential codes as horizontal lines, the chosen
    candidate circled. ``rows`` are :class:`~mdlkit.recipes.SelectResult` rows."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    families: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        if row["alpha"] is None:
            continue
        family = row["key"].rsplit("-a", 1)[0]
        families.setdefault(family, []).append((row["alpha"], row["two_part_bits"]))
    for family, points in families.items():
        points.sort()
        ax.plot([a for a, _ in points], [b for _, b in points], "o-", label=family)
    lines = [("all weights pruned", r["two_part_bits"], "k") for r in rows if r["alpha"] is None]
    if uniform_bits is not None:
        lines.append(("uniform", uniform_bits, "gray"))
    if prequential_bits is not None:
        lines.append(("prequential (same family)", prequential_bits, "tab:purple"))
    for label, bits, color in lines:
        ax.axhline(bits, color=color, linestyle="--", linewidth=1, label=f"{label}: {bits:,.0f}")
    best = rows[chosen]
    if best["alpha"] is not None:
        ax.plot([best["alpha"]], [best["two_part_bits"]], "o", markersize=16, fillstyle="none",
                color="red", label=f"chosen: {best['two_part_bits']:,.0f} bits")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("strength α (per sample)")
    ax.set_ylabel("two-part code (bits)")
    ax.set_title("selection by the code: the shortest two-part code")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
