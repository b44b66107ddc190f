"""Table and plot of the MNIST pruning experiment (:mod:`mdlkit.recipes.mnist_pruning`): each
method's compression rate CR = parameters / nonzero and error increase EI (points of test
accuracy lost against the unregularized baseline), beside the paper's figures and global
magnitude pruning of the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

from mdlkit.report.plots import save_figure

__all__ = ["mnist_pruning_table", "plot_ei_vs_cr"]

Records = Mapping[str, Mapping[str, Any]]


def mnist_pruning_table(
    runs: Records,
    magnitude: Mapping[str, Sequence[Mapping[str, Any]]],
    methods: Sequence[str],
    paper: Mapping[str, Mapping[str, tuple[float, float]]],
) -> str:
    """The Markdown table: per network (the keys of ``magnitude``) the baseline, each method
    (``runs[f"{network}-{method}"]``, a fit summary with ``ei_points``) with the paper's EI / CR
    and the best CR magnitude pruning reaches within its EI, then every magnitude-pruning run."""
    lines = [
        "| network | method | α | test acc % | EI (points) | nonzero | CR | two-part kbit "
        "| paper EI / CR | magnitude pruning: best CR at EI ≤ this EI |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model_name, pruned in magnitude.items():
        base = runs[f"{model_name}-none"]
        lines.append(
            f"| {model_name} | none | — | {100 * base['test_accuracy']:.2f} | 0 | "
            f"{base['nonzero']:,} | {base['compression_rate']:.1f} | "
            f"{base['two_part_bits'] / 1000:,.1f} | — | — |"
        )
        for method in methods:
            if f"{model_name}-{method}" not in runs:  # a method this network was not run with
                continue
            s = runs[f"{model_name}-{method}"]
            ei = s["ei_points"]
            within = [m["compression_rate"] for m in pruned if m["ei_points"] <= ei + 1e-9]
            published = paper.get(model_name, {}).get(method)
            paper_text = f"{published[0]:.2f} / {published[1]}" if published else "—"
            within_text = f"{max(within):.1f}" if within else "none within this EI"
            lines.append(
                f"| {model_name} | {method} | {s['config']['alpha']:g} | "
                f"{100 * s['test_accuracy']:.2f} | {ei:.2f} | {s['nonzero']:,} | "
                f"{s['compression_rate']:.1f} | {s['two_part_bits'] / 1000:,.1f} | "
                f"{paper_text} | {within_text} |"
            )
        for m in pruned:
            lines.append(
                f"| {model_name} | magnitude → CR {m['target_cr']:g} | — | "
                f"{100 * m['test_accuracy']:.2f} | {m['ei_points']:.2f} | "
                f"{m['nonzero']:,} | {m['compression_rate']:.1f} | — | — | — |"
            )
    return "\n".join(lines) + "\n"


def plot_ei_vs_cr(
    runs: Records,
    magnitude: Mapping[str, Sequence[Mapping[str, Any]]],
    methods: Sequence[str],
    path: str | Path,
) -> Path:
    """EI against CR (log scale): magnitude pruning of each network as a line, each method a
    point."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for model_name, pruned in magnitude.items():
        ax.plot(
            [m["compression_rate"] for m in pruned],
            [m["ei_points"] for m in pruned],
            "k.-",
            label=f"{model_name}: magnitude pruning",
        )
        for method in methods:
            if f"{model_name}-{method}" not in runs:
                continue
            s = runs[f"{model_name}-{method}"]
            ax.scatter(s["compression_rate"], s["ei_points"], label=f"{model_name}: {method}")
    ax.set(
        xscale="log",
        xlabel="compression rate CR",
        ylabel="error increase EI (points)",
        title="MNIST: EI vs CR",
    )
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=100)
