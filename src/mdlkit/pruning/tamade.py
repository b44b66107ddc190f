"""TAMADE: threshold-adaptive mask determination.

Binary search for the largest global magnitude threshold t (prune every weight with |θ| < t) that
keeps the model within a tolerance on validation data:

- relative mode: loss(pruned at t) ≤ (1 + δ) · loss(unpruned);
- absolute mode: accuracy(unpruned) − accuracy(pruned at t) ≤ ε_acc.

t is searched in [0, 2·max|θ|]; the search stops when the interval is below ``resolution`` or the
midpoint no longer moves, and returns the largest accepted t. It replaces a hand-tuned threshold,
coupled to the regularization strength, by a tolerance chosen for the application.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.evaluation import Evaluation

__all__ = ["TamadeResult", "magnitude_prune", "tamade"]


@dataclass(frozen=True)
class TamadeResult:
    """The accepted threshold and the evaluations before and after pruning at it."""

    threshold: float
    reference: Evaluation
    pruned: Evaluation
    n_evaluations: int


@torch.no_grad()
def magnitude_prune(model: nn.Module, threshold: float) -> None:
    """Zero, in place, every parameter entry with |θ| < threshold.

    The comparison is in float64, so the threshold is not rounded to the weights' dtype.
    """
    for p in model.parameters():
        p.masked_fill_(p.detach().abs().double() < threshold, 0.0)


def tamade(
    model: nn.Module,
    score: Callable[[nn.Module], Evaluation],
    *,
    mode: Literal["relative", "absolute"] = "relative",
    delta: float = 0.01,
    max_accuracy_drop: float = 0.002,
    resolution: float = 1e-7,
) -> TamadeResult:
    """Find the TAMADE threshold, prune ``model`` at it in place, and return the result.

    Args:
        model: the network; all parameters (weights and biases) are candidates.
        score: evaluates the model on validation data (loss in nats, accuracy in [0, 1]).
        mode: ``"relative"`` (loss tolerance δ) or ``"absolute"`` (accuracy drop ε_acc).
        delta: δ ≥ 0 of relative mode.
        max_accuracy_drop: ε_acc ≥ 0 of absolute mode, as a fraction (0.002 = 0.2 points).
        resolution: stop when the search interval is narrower than this.
    """
    if mode not in ("relative", "absolute"):
        raise MdlkitError(f"TAMADE mode must be 'relative' or 'absolute', got {mode!r}")
    if not delta >= 0 or not max_accuracy_drop >= 0:
        raise MdlkitError("TAMADE tolerances must be >= 0")
    original = [p.detach().clone() for p in model.parameters()]
    reference = score(model)
    n_evaluations = 1

    def accepted(candidate: Evaluation) -> bool:
        if mode == "relative":
            return candidate.loss <= (1.0 + delta) * reference.loss
        return reference.accuracy - candidate.accuracy <= max_accuracy_drop

    def restore() -> None:
        with torch.no_grad():
            for p, saved in zip(model.parameters(), original, strict=True):
                p.copy_(saved)

    lo, hi = 0.0, 2.0 * max(float(p.abs().max()) for p in original if p.numel() > 0)
    best = reference
    while hi - lo > resolution:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        magnitude_prune(model, mid)
        candidate = score(model)
        n_evaluations += 1
        restore()
        if accepted(candidate):
            lo, best = mid, candidate
        else:
            hi = mid
    magnitude_prune(model, lo)
    return TamadeResult(lo, reference, best, n_evaluations)
