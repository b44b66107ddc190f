"""Choosing the SGLD step: λ̂ over a sweep of steps ε (and γ), and the flattest healthy pair."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from mdlkit.complexity.llc import LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.training.batches import Batches

__all__ = ["CALIBRATION_STEPS", "Calibration", "calibrate_llc"]


CALIBRATION_STEPS: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-14, -3))
"""The steps :func:`calibrate_llc` tries by default: 1e-7 … 3.2e-2, √10 apart."""


@dataclass(frozen=True)
class Calibration:
    """λ̂ at each (step, γ) tried, each row's warnings, and the recommended settings (None when
    no row was healthy), with the reason in words."""

    rows: tuple[tuple[LLCSettings, LLCResult | None, tuple[str, ...]], ...]
    recommended: LLCSettings | None
    reason: str


def calibrate_llc(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn | None = None,
    *,
    settings: LLCSettings | None = None,
    steps: Sequence[float] = CALIBRATION_STEPS,
    gammas: Sequence[float] | None = None,
    batches: Callable[[int], Batches] | None = None,
    progress: bool = False,
    device: torch.device | str | None = None,
) -> Calibration:
    """Sweep the step ε (and γ) at otherwise fixed ``settings`` and recommend one from trace health.

    A row is healthy when its chains finish, λ̂ > 0 and no warning fires (no spikes, settled,
    not below L_n(w*), localizer not dominating). Each row keeps its step (MALA does not tune
    it). With SGLD, λ̂(ε) rises from too-short mixing at small ε
    to discretization bias at large ε; between lies a plateau. The recommendation, per γ from
    the smallest up: the healthy pair of neighbouring steps whose λ̂ differ least (relative),
    and of the pair the SMALLER step (less discretization bias). It is a heuristic: a plateau
    can also come from chains too short at both steps — check with more draws.
    """
    settings = settings or LLCSettings()
    gammas = tuple(gammas) if gammas is not None else (settings.gamma,)
    rows: list[tuple[LLCSettings, LLCResult | None, tuple[str, ...]]] = []
    best: tuple[float, LLCSettings] | None = None
    for gamma in sorted(gammas):
        healthy: list[tuple[LLCSettings, float]] = []
        for step in sorted(steps):
            trial = replace(settings, step=step, gamma=gamma, adapt_step=False)
            if step * gamma >= 2:
                rows.append((trial, None, ("ε·γ >= 2: not run",)))
                continue
            try:
                result = estimate_llc(
                    model, data, loss_fn, settings=trial, batches=batches, progress=progress,
                    device=device,
                )  # fmt: skip
            except MdlkitError as error:
                rows.append((trial, None, (str(error),)))
                continue
            rows.append((trial, result, result.warnings))
            if result.llc > 0 and not result.warnings:
                healthy.append((trial, result.llc))
        for (a, la), (_, lb) in itertools.pairwise(healthy):
            change = abs(lb - la) / max(abs(la), abs(lb))
            if best is None or change < best[0]:
                best = (change, a)
        if best is not None:
            break  # the smallest γ with a plateau: a larger γ only biases λ̂ down
    if best is None:
        return Calibration(
            tuple(rows),
            None,
            "no two neighbouring steps gave healthy chains: "
            "change the step range, γ, or the number of draws",
        )
    change, chosen = best
    reason = (
        f"step {chosen.step:g} at γ = {chosen.gamma:g}: healthy traces, and λ̂ changes by "
        f"{100 * change:.1f} % to the next step (the flattest healthy pair)"
    )
    return Calibration(tuple(rows), chosen, reason)
