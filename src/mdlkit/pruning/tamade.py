"""TAMADE: threshold-adaptive mask determination.

Binary search for the largest global magnitude threshold t (prune every weight with |θ| < t) that
keeps the model within a tolerance on validation data:

- relative mode: loss(pruned at t) ≤ (1 + δ) · loss(unpruned);
- absolute mode: accuracy(unpruned) − accuracy(pruned at t) ≤ ε_acc.

t is searched in [0, 2·max|θ|]; the search stops when the interval is below ``resolution`` or the
midpoint no longer moves, and returns the largest accepted t. It replaces a hand-tuned threshold,
coupled to the regularization strength, by a tolerance chosen for the application.

>>> from torch import nn
>>> layer = nn.Linear(3, 1, bias=False)  # loss 1 + #pruned: δ = 1 tolerates one pruned weight
>>> _ = layer.weight.data.copy_(torch.tensor([[0.5, -0.1, 2.0]]))
>>> pruned_count = lambda m: int((m.weight == 0).sum())
>>> result = tamade(layer, lambda m: LossAccuracy(1.0 + pruned_count(m), 1.0), delta=1.0)
>>> round(result.threshold, 3), layer.weight.tolist()
(0.5, [[0.5, 0.0, 2.0]])
>>> TamadeResult.from_dict(result.to_dict()) == result
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.pruning.search import LossAccuracy, Score, Snapshot, cheapest, largest_accepted

__all__ = ["TamadeResult", "codelength_threshold", "magnitude_prune", "tamade"]


@dataclass(frozen=True, eq=False)
class TamadeResult:
    """The accepted threshold and the scores before and after pruning at it.

    Two results are equal when their numbers are, whatever type holds the scores (a result
    rebuilt by :meth:`from_dict` equals the one it was saved from).
    """

    threshold: float
    reference: Score
    pruned: Score
    n_evaluations: int

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON- and ``torch.save``-safe): scores as ``[loss, accuracy]``."""
        return {
            "threshold": float(self.threshold),
            "reference": [float(self.reference.loss), float(self.reference.accuracy)],
            "pruned": [float(self.pruned.loss), float(self.pruned.accuracy)],
            "n_evaluations": int(self.n_evaluations),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TamadeResult:
        """The result :meth:`to_dict` described, its scores as :class:`LossAccuracy`."""
        return cls(
            float(values["threshold"]),
            LossAccuracy(*map(float, values["reference"])),
            LossAccuracy(*map(float, values["pruned"])),
            int(values["n_evaluations"]),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TamadeResult):
            return NotImplemented
        return self._numbers() == other._numbers()

    def __hash__(self) -> int:
        return hash(self._numbers())

    def _numbers(self) -> tuple[float | int | None, ...]:
        # NaN (the accuracy of a regression model) stands for "no value", so it equals itself
        values = self.to_dict()
        scores = [None if math.isnan(v) else v for v in values["reference"] + values["pruned"]]
        return (values["threshold"], *scores, values["n_evaluations"])


@torch.no_grad()
def magnitude_prune(model: nn.Module, threshold: float) -> None:
    """Zero, in place, every parameter entry with |θ| < threshold.

    The comparison is in float64, so the threshold is not rounded to the weights' dtype.
    """
    for p in model.parameters():
        p.masked_fill_(p.detach().abs().double() < threshold, 0.0)


def tamade(
    model: nn.Module,
    score: Callable[[nn.Module], Score],
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
    snapshot = Snapshot(model)
    reference = score(model)
    best, n_evaluations = reference, 1

    def within_tolerance(candidate: Score) -> bool:
        if mode == "relative":
            return candidate.loss <= (1.0 + delta) * reference.loss
        return reference.accuracy - candidate.accuracy <= max_accuracy_drop

    def accept(threshold: float) -> bool:
        nonlocal best, n_evaluations
        candidate = snapshot.score_change(lambda m: magnitude_prune(m, threshold), score)
        n_evaluations += 1
        if within_tolerance(candidate):
            best = candidate
            return True
        return False

    threshold = largest_accepted(accept, 0.0, 2.0 * snapshot.max_abs, resolution=resolution)
    magnitude_prune(model, threshold)
    return TamadeResult(threshold, reference, best, n_evaluations)


def _keep_counts(m: int, n_points: int, lo: int = 1, hi: int | None = None) -> list[int]:
    """About ``n_points`` counts of weights to keep, geometric in [lo, hi] (hi defaults to m)."""
    hi = m if hi is None else hi
    if hi < lo:
        return []
    grid = np.geomspace(lo, hi, num=max(n_points, 2))
    return sorted({round(float(k)) for k in grid} | {lo, hi})


def codelength_threshold(
    model: nn.Module,
    cost: Callable[[nn.Module], float],
    score: Callable[[nn.Module], Score],
    *,
    n_candidates: int = 40,
) -> TamadeResult:
    """The magnitude threshold that minimises ``cost`` (a description length in bits); prunes
    ``model`` at it in place.

    Why a length and not a tolerance: a tolerance relative to a loss fails when that loss is
    near zero (small data, a network that fits it): 1 % of almost nothing forbids almost any
    pruning. The two-part length L(θ) + Σ −log2 p_θ(y_i | x_i) needs no tolerance at all — a
    weight is worth keeping exactly when the data bits it saves exceed the bits it costs in
    the weight file — and it is the quantity the run reports, so pruning optimises it directly.

    The candidates keep the k largest magnitudes for k on a geometric grid from all nonzero
    entries down to one, plus k = 0 (every weight pruned: that model is always tried); a second
    pass refines the grid between the best candidate's neighbours. Ties are kept together.
    ``score`` (validation loss and accuracy) is only recorded, before and after.
    """
    snapshot = Snapshot(model)
    magnitudes = np.sort(
        np.concatenate([p.detach().abs().double().flatten().numpy() for p in snapshot.saved])
    )[::-1]
    magnitudes = magnitudes[magnitudes > 0]
    m = len(magnitudes)
    reference = score(model)
    top = float(magnitudes[0]) if m else 0.0
    n_evaluations = 0

    def threshold_of(k: int) -> float:
        # prune |θ| < t: keeping the k largest means t = the k-th largest magnitude
        return 0.0 if k >= m else (2.0 * top + 1.0 if k == 0 else float(magnitudes[k - 1]))

    costs: dict[int, float] = {}

    def cost_of(k: int) -> float:
        nonlocal n_evaluations
        if k not in costs:
            n_evaluations += 1
            t = threshold_of(k)
            costs[k] = snapshot.score_change(lambda mod: magnitude_prune(mod, t), cost)
        return costs[k]

    coarse = [0, *_keep_counts(m, n_candidates)] if m else [0]
    best, _ = cheapest(cost_of, coarse)
    i = coarse.index(best)
    lo, hi = coarse[max(i - 1, 0)], coarse[min(i + 1, len(coarse) - 1)]
    fine = _keep_counts(m, n_candidates // 2, max(lo, 1), hi) if hi > 0 else []
    best, _ = cheapest(cost_of, [best, *fine])
    threshold = threshold_of(best)
    magnitude_prune(model, threshold)
    return TamadeResult(threshold, reference, score(model), n_evaluations)
