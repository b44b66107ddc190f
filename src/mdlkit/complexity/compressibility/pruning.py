"""The critical pruning fraction: how many parameters global magnitude pruning (TAMADE) zeroes
within tolerance."""

from __future__ import annotations

from torch import nn

from mdlkit.complexity.compressibility.budget import Budget, coded_size, make_budget, weights_of
from mdlkit.complexity.compressibility.results import PruningPoint
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.search import LossAccuracy, Snapshot
from mdlkit.pruning.tamade import tamade

__all__ = ["critical_pruning_fraction", "pruning_point"]

# TAMADE's relative test is loss ≤ (1 + δ) · reference. It is handed a score whose "loss" is 1
# inside the absolute budget L ≤ L(w*) + ε and 3 outside, and δ = 1: then the test is 1 ≤ 2 or
# 3 ≤ 2, exactly the budget's own comparison, with no rounding in δ = ε / L(w*) and no trouble
# when L(w*) is zero or negative (a Gaussian loss may be).
_INSIDE, _OUTSIDE, _DELTA = 1.0, 3.0, 1.0


def _zero_fraction(model: nn.Module) -> float:
    params = list(model.parameters())
    return sum(int((p == 0).sum()) for p in params) / sum(p.numel() for p in params)


def pruning_point(budget: Budget) -> PruningPoint:
    """:func:`critical_pruning_fraction` within an already measured budget."""
    model = budget.copy()
    tried: dict[float, float] = {}

    def score(m: nn.Module) -> LossAccuracy:
        loss = budget.loss(m)
        # pruning |θ| < t is nested in t: the same count of zeros is the same model, same loss
        tried[_zero_fraction(m)] = loss
        return LossAccuracy(_INSIDE if budget.within(loss) else _OUTSIDE, float("nan"))

    # TAMADE bisects t in [0, 2 · max|θ|]; stopping at float32's relative precision of the
    # largest weight keeps ~25 halvings whatever the weights' scale (its default is absolute).
    top = Snapshot(model).max_abs
    result = tamade(
        model, score, mode="relative", delta=_DELTA, resolution=top * 2.0**-24 if top else 1e-7
    )
    loss = budget.loss(model)
    return PruningPoint(
        fraction=_zero_fraction(model),
        threshold=result.threshold,
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        loss=loss,
        curve=tuple(sorted(tried.items())),
        coded=coded_size(model, budget),
        weights=weights_of(model),
    )


def critical_pruning_fraction(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
) -> PruningPoint:
    """The largest fraction of parameters magnitude pruning zeroes within tolerance.

    TAMADE (:func:`~mdlkit.pruning.tamade`) bisects the global threshold t — every parameter,
    weights and biases, with |θ| < t becomes 0 — for the largest t with L ≤ L(w*) + ε exactly
    (its relative tolerance is converted so: see the comment at ``_INSIDE``), assuming the loss
    stays within up to a boundary. The measure is the fraction of the d parameters that are zero
    at that t, zeros already in w* counted:

        fraction = #{θ = 0 after pruning} / d.

    Arguments as :func:`~mdlkit.complexity.critical_quantization_bits`.
    """
    return pruning_point(make_budget(model, data, tolerance, loss_fn, spec))
