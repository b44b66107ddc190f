"""Tables and plots of the teacher-student sweep (:mod:`mdlkit.recipes.teacher_student`), from
its runs' summaries as ``results.json`` holds them.

Description lengths are in bytes: mdlkit's two-part code, and the paper's convention of 4 bytes
per nonzero parameter plus the same coded data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

from mdlkit.coding.model_size import paper_model_bits
from mdlkit.report.plots import save_figure

__all__ = ["best_rows", "plot_teacher_student", "teacher_student_table"]


def _paper_convention_bits(s: Mapping[str, Any]) -> float:
    """4 bytes per nonzero plus the coded data (with σ and side info)."""
    return paper_model_bits(s["nonzero"]) + s["two_part_bits"] - s["model_bits"]["codec"]


def best_rows(
    runs: Mapping[str, Mapping[str, Any]],
    n_trains: Sequence[int],
    noises: Sequence[float],
    methods: Sequence[str],
    paper_bytes: Mapping[int, tuple[int, int]],
) -> list[dict[str, Any]]:
    """Per training size N and noise: the unregularized student and, per method, the run of
    least two-part description length (over its α), in bytes by mdlkit's codec and by the
    paper's convention; ``paper_bytes[N]`` (best, unregularized) beside the lowest noise.
    ``runs``: fit summaries keyed ``N{n}-noise{noise}-none`` and ``…-{method}-a{α:g}``."""
    rows = []
    for n in n_trains:
        for noise in noises:
            prefix = f"N{n}-noise{noise}-"
            plain = runs[prefix + "none"]
            row: dict[str, Any] = {
                "N": n,
                "noise": noise,
                "unregularized": {
                    "test_mse": plain["test_mse"],
                    "nonzero": plain["nonzero"],
                    "dl_bytes": plain["two_part_bits"] / 8,
                    "dl_bytes_4B": _paper_convention_bits(plain) / 8,
                },
                "paper_bytes_low_noise": paper_bytes.get(n) if noise == min(noises) else None,
            }
            for method in methods:
                candidates = [
                    (k, s) for k, s in runs.items() if k.startswith(f"{prefix}{method}-a")
                ]
                _, best = min(candidates, key=lambda ks: ks[1]["two_part_bits"])
                row[method] = {
                    "alpha": best["config"]["alpha"],
                    "test_mse": best["test_mse"],
                    "nonzero": best["nonzero"],
                    "dl_bytes": best["two_part_bits"] / 8,
                    "dl_bytes_4B": _paper_convention_bits(best) / 8,
                }
            rows.append(row)
    return rows


def teacher_student_table(
    rows: Sequence[Mapping[str, Any]], methods: Sequence[str], epsilon: float
) -> str:
    """The Markdown table of :func:`best_rows` (targets coded at precision ``epsilon``)."""
    lines = [
        f"Description lengths in bytes (targets at ε = {epsilon:g}); 'codec' = mdlkit's "
        "weight file + coded data, '4B' = the paper's convention (4 bytes per nonzero + data). "
        "Test loss is MSE on 5,000 test points.",
        "",
        "| N | noise | run | α | nonzero | test MSE | DL codec | DL 4B | paper best / unreg. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = row["paper_bytes_low_noise"]
        paper_text = f"{paper[0]:,} / {paper[1]:,}" if paper else "—"
        u = row["unregularized"]
        lines.append(
            f"| {row['N']} | {row['noise']:g} | unregularized | — | {u['nonzero']} | "
            f"{u['test_mse']:.3g} | {u['dl_bytes']:,.0f} | {u['dl_bytes_4B']:,.0f} | "
            f"{paper_text} |"
        )
        for method in methods:
            m = row[method]
            lines.append(
                f"| {row['N']} | {row['noise']:g} | {method} | {m['alpha']:g} | "
                f"{m['nonzero']} | {m['test_mse']:.3g} | {m['dl_bytes']:,.0f} | "
                f"{m['dl_bytes_4B']:,.0f} | |"
            )
    return "\n".join(lines) + "\n"


def plot_teacher_student(
    runs: Mapping[str, Mapping[str, Any]],
    n_trains: Sequence[int],
    noises: Sequence[float],
    methods: Sequence[str],
    out: Path,
) -> None:
    """``u_curve.png`` (test MSE against nonzero parameters) and ``isolines.png`` (model bits
    against data bits, grey lines of equal total) in ``out``: one panel per N and noise, every
    run a point, the unregularized student a star."""
    settings = [(n, noise) for noise in noises for n in n_trains]
    colors = {"drr": "C0", "l1": "C1", "pmmp": "C2"}
    for kind in ("u_curve", "isolines"):
        fig, axes = plt.subplots(
            len(noises),
            len(n_trains),
            squeeze=False,
            figsize=(4.2 * len(n_trains), 3.6 * len(noises)),
        )
        for ax, (n, noise) in zip(axes.flat, settings, strict=True):
            prefix = f"N{n}-noise{noise}-"
            for key, s in runs.items():
                if not key.startswith(prefix):
                    continue
                method = s["config"]["method"]
                style = {
                    "color": colors.get(method, "k"),
                    "marker": "*" if method == "none" else "o",
                    "s": 90 if method == "none" else 25,
                }
                model_bits = s["model_bits"]["codec"]
                data_bits = s["two_part_bits"] - model_bits
                if kind == "u_curve":
                    ax.scatter(s["nonzero"], s["test_mse"], **style)
                else:
                    ax.scatter(model_bits, data_bits, **style)
            if kind == "u_curve":
                ax.set(
                    xscale="log",
                    yscale="log",
                    xlabel="nonzero parameters",
                    ylabel="test MSE",
                    title=f"N={n}, noise {noise:g}",
                )
            else:
                lo, hi = ax.get_xlim()
                ylo, yhi = ax.get_ylim()
                top = hi + yhi
                for total in [top * f for f in (0.2, 0.4, 0.6, 0.8, 1.0)]:
                    ax.plot([0, total], [total, 0], color="0.8", lw=0.8, zorder=0)
                ax.set(
                    xlim=(lo, hi),
                    ylim=(ylo, yhi),
                    xlabel="model bits (codec)",
                    ylabel="data bits (+σ, side)",
                    title=f"N={n}, noise {noise:g}",
                )
        handles = [
            plt.Line2D([], [], color=c, marker="o", ls="", label=m)
            for m, c in colors.items()
            if m in methods
        ]
        handles.append(plt.Line2D([], [], color="k", marker="*", ls="", label="unregularized"))
        fig.legend(handles=handles, loc="upper right")
        fig.suptitle(
            "test loss vs nonzero parameters"
            if kind == "u_curve"
            else "description length: model vs data bits (grey: equal total)"
        )
        save_figure(fig, out / f"{kind}.png", dpi=100)
