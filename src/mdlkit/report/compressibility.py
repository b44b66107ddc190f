"""Plots of compressibility against the learning coefficient λ̂ along training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from mdlkit.report.plots import save_figure

__all__ = ["plot_llc_vs_compressibility"]


def _line(ax: Any, xs: np.ndarray, slope: float, intercept: float, **style: Any) -> None:
    if np.isfinite(slope) and np.isfinite(intercept):
        ax.plot(xs, slope * xs + intercept, **style)


def _fit(study: Mapping[str, Any], tolerance: float, measure: str) -> Mapping[str, Any]:
    return next(f for f in study["fits"] if f["tolerance"] == tolerance and f["measure"] == measure)


def plot_llc_vs_compressibility(
    studies: Sequence[Mapping[str, Any]], tolerances: Sequence[float], path: str | Path
) -> Path:
    """One row per study. Per ε: the critical quantization bits n_q against λ̂ (filled: a
    warning-free λ̂, used by the fit; hollow: λ̂ with a warning; labels: epochs), the
    least-squares line and llc.md's heuristic slope log2(1/ε)/d drawn through the mean of the
    fitted points (its intercept log2(2m) is not tested). Then the codec's bits per weight
    within each ε against λ̂ with the same two lines, and λ̂ and n_q along training.

    Each study is a mapping with ``name``, ``d``, ``checkpoints`` (records with ``epoch``,
    ``step``, ``llc`` {``llc``, ``std``, ``warnings``} and ``tolerances`` {f"{ε:g}": {``bits``,
    ``codec_bits_per_weight``}}) and ``fits`` (``tolerance``, ``measure``, ``healthy``
    {``slope``, ``intercept``}, ``heuristic_slope``), as
    :func:`mdlkit.recipes.llc_vs_compressibility.run_llc_vs_compressibility` writes them.
    """
    columns = len(tolerances) + 2
    fig, axes = plt.subplots(
        len(studies), columns, squeeze=False, figsize=(4.2 * columns, 3.8 * len(studies))
    )
    colours = [f"C{i}" for i in range(len(tolerances))]
    for row, study in enumerate(studies):
        rows = study["checkpoints"]
        llc = np.array([r["llc"]["llc"] for r in rows], dtype=np.float64)
        std = np.array([r["llc"]["std"] for r in rows], dtype=np.float64)
        good = np.array([not r["llc"]["warnings"] and r["llc"]["llc"] > 0 for r in rows])
        span = max(float(np.ptp(llc)), 1e-9)
        xs = np.linspace(llc.min() - 0.05 * span, llc.max() + 0.05 * span, 50)
        for column, (tolerance, colour) in enumerate(zip(tolerances, colours, strict=True)):
            ax = axes[row, column]
            key = f"{tolerance:g}"
            bits = np.array([r["tolerances"][key]["bits"] for r in rows], dtype=np.float64)
            _points(ax, llc, std, bits, good, colour, [r["epoch"] for r in rows])
            _lines(ax, xs, llc[good], bits[good], _fit(study, tolerance, "bits"))
            ax.set(
                xlabel="λ̂",
                ylabel="critical bits n_q",
                ylim=(bits.min() - 0.6, bits.max() + 0.6),  # whole bits: not a hair's range
                title=f"{study['name']}, d = {study['d']:,}\nε = {key} nats"
                if column == 0
                else f"ε = {key} nats",
            )
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7)
        ax = axes[row, len(tolerances)]
        for tolerance, colour in zip(tolerances, colours, strict=True):
            key = f"{tolerance:g}"
            coded = np.array(
                [r["tolerances"][key]["codec_bits_per_weight"] for r in rows], dtype=np.float64
            )
            _points(ax, llc, std, coded, good, colour, None, label=f"ε = {key}")
            _lines(
                ax,
                xs,
                llc[good],
                coded[good],
                _fit(study, tolerance, "codec_bits_per_weight"),
                colour=colour,
                labels=False,
            )
        ax.set(xlabel="λ̂", ylabel="codec bits per weight within ε", title="weight codec")
        ax.legend(fontsize=7, title="solid: fit; dotted: heuristic", title_fontsize=7)
        ax = axes[row, len(tolerances) + 1]
        steps = np.array([r["step"] for r in rows], dtype=np.float64)
        ax.errorbar(steps, llc, yerr=std, color="k", marker="o", ms=3, label="λ̂")
        ax.set(xscale="log", xlabel="optimizer step", ylabel="λ̂", title="along training")
        twin = ax.twinx()
        for tolerance, colour in zip(tolerances, colours, strict=True):
            key = f"{tolerance:g}"
            twin.plot(
                steps,
                [r["tolerances"][key]["bits"] for r in rows],
                color=colour,
                ls="--",
                marker=".",
                label=f"n_q, ε = {key}",
            )
        twin.set_ylabel("critical bits n_q")
        twin.yaxis.set_major_locator(MaxNLocator(integer=True))
        handles = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7)
    return save_figure(fig, path)


def _points(
    ax: Any,
    llc: np.ndarray,
    std: np.ndarray,
    values: np.ndarray,
    good: np.ndarray,
    colour: str,
    epochs: Sequence[int] | None,
    label: str | None = None,
) -> None:
    ax.errorbar(llc[good], values[good], xerr=std[good], fmt="o", color=colour, ms=5, label=label)
    if (~good).any():
        ax.errorbar(
            llc[~good],
            values[~good],
            xerr=std[~good],
            fmt="o",
            mfc="none",
            color=colour,
            ms=5,
            label="λ̂ with a warning" if label is None else None,
        )
    if epochs is not None:
        for x, y, epoch in zip(llc, values, epochs, strict=True):
            ax.annotate(str(epoch), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")


def _lines(
    ax: Any,
    xs: np.ndarray,
    llc: np.ndarray,
    values: np.ndarray,
    fit: Mapping[str, Any],
    *,
    colour: str = "k",
    labels: bool = True,
) -> None:
    healthy = fit["healthy"]
    r2 = healthy["r2"]
    _line(
        ax,
        xs,
        healthy["slope"],
        healthy["intercept"],
        color=colour,
        lw=1.2,
        label=f"fit: slope {healthy['slope']:.3g}, R² {r2:.2f}" if labels else None,
    )
    heuristic = fit["heuristic_slope"]
    if heuristic is not None and len(llc):
        # Only the slope is the heuristic's: drawn through the mean of the fitted points.
        intercept = float(values.mean()) - heuristic * float(llc.mean())
        _line(
            ax,
            xs,
            heuristic,
            intercept,
            color=colour,
            ls=":",
            lw=1.2,
            label=f"heuristic slope {heuristic:.3g}" if labels else None,
        )
