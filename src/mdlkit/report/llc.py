"""Plots of an LLC estimate: the chains' loss traces, and λ̂ against the SGLD step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

from mdlkit.complexity import Calibration, LLCResult
from mdlkit.report.plots import save_figure

__all__ = ["plot_llc_calibration", "plot_llc_traces"]


def plot_llc_traces(
    result: LLCResult, path: str | Path, *, true_llc: float | None = None, title: str = ""
) -> Path:
    """Every chain's loss trace as nβ·(L_B(w_t) − L_n(w*)) against the SGLD step t, so that
    its mean over the draws IS that chain's λ̂; the burn-in shaded, λ̂ (and the true λ, if
    known) as horizontal lines. A healthy trace rises from 0 and plateaus."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    burn_in = result.settings.burn_in
    for chain, trace in enumerate(result.traces):
        scaled = result.n_beta * (np.asarray(trace, dtype=np.float64) - result.initial_loss)
        ax.plot(np.arange(len(scaled)), scaled, lw=0.6, alpha=0.7, label=f"chain {chain}")
    if burn_in:
        ax.axvspan(0, burn_in, color="0.85", zorder=0, label="burn-in (not averaged)")
    ax.axhline(result.llc, color="k", lw=1.5, label=f"λ̂ = {result.llc:.4g} ± {result.std:.2g}")
    if true_llc is not None:
        ax.axhline(true_llc, color="tab:red", ls="--", lw=1.2, label=f"true λ = {true_llc:g}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(
        xlabel="SGLD step",
        ylabel="nβ · (L_B(w) − L_n(w*))",
        title=title or f"LLC loss traces (nβ = {result.n_beta:.4g})",
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return save_figure(fig, path)


def plot_llc_calibration(
    calibration: Calibration,
    path: str | Path,
    *,
    true_llc: float | None = None,
    half_d: float | None = None,
    title: str = "",
) -> Path:
    """λ̂ ± std against the step ε (log x), one line per γ; rows with warnings as crosses,
    healthy ones as dots, the recommended setting circled; the true λ and d/2 as lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    gammas = sorted({settings.gamma for settings, _, _ in calibration.rows})
    for gamma in gammas:
        rows = [
            (s.step, r.llc, r.std, bool(w))
            for s, r, w in calibration.rows
            if s.gamma == gamma and r is not None
        ]
        if not rows:
            continue
        steps, llcs, stds, warned = (np.array(column) for column in zip(*rows, strict=True))
        (line,) = ax.plot(steps, llcs, "-", lw=1, label=f"γ = {gamma:g}")
        ax.errorbar(steps, llcs, yerr=stds, fmt="none", ecolor=line.get_color(), capsize=3)
        ax.plot(steps[~warned], llcs[~warned], "o", color=line.get_color())
        ax.plot(steps[warned], llcs[warned], "x", color=line.get_color(), ms=8)
    chosen = calibration.recommended
    if chosen is not None:
        for settings, result, _ in calibration.rows:
            if settings == chosen and result is not None:
                ax.plot(
                    [chosen.step],
                    [result.llc],
                    "o",
                    ms=14,
                    mfc="none",
                    mec="k",
                    label=f"recommended: ε = {chosen.step:g}",
                )
    if true_llc is not None:
        ax.axhline(true_llc, color="tab:red", ls="--", lw=1.2, label=f"true λ = {true_llc:g}")
    if half_d is not None:
        ax.axhline(half_d, color="0.4", ls=":", lw=1.2, label=f"d/2 = {half_d:g}")
    ax.plot([], [], "x", color="0.3", label="with warnings")
    ax.set(
        xscale="log",
        xlabel="SGLD step ε",
        ylabel="λ̂ (mean ± std over chains)",
        title=title or "LLC calibration: λ̂ against the step",
    )
    ax.legend(fontsize=8)
    return save_figure(fig, path)
