"""The critical quantization bits n_q: the coarsest per-tensor uniform grid within tolerance.

>>> import torch
>>> from mdlkit.data import Split
>>> model = torch.nn.Linear(2, 1, bias=False)
>>> _ = model.weight.data.copy_(torch.tensor([[0.75, -0.25]]))  # on the 3-bit grid k·0.25
>>> x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
>>> data = Split(x, model(x).detach())  # L(w*) = 0; L(w) = ½‖w − w*‖² on this design
>>> point = critical_quantization_bits(model, data, 1e-6)
>>> point.bits, point.curve  # 1 bit: all zero; 2 bits {−m, 0, m}: at best 0.25 off
(3, ((1, 0.3125), (2, 0.03125), (3, 0.0)))
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mdlkit.complexity.compressibility.budget import Budget, coded_size, make_budget, weights_of
from mdlkit.complexity.compressibility.results import QuantizationPoint
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = ["RANGE_FRACTIONS", "critical_quantization_bits", "quantization_point"]

RANGE_FRACTIONS: tuple[float, ...] = tuple(j / 16 for j in range(16, 0, -1))
"""The ranges the quantization search tries for a tensor: m = c · max|w| for c in 1, 15/16, …,
1/16. Below c = 1 the largest weights are clipped to ±m, which buys a finer step for the rest;
at few bits that is usually worth it, at many bits c = 1 wins."""

# Coordinate sweeps over the tensors in the range search: the second only corrects the first's
# choices for the tensors chosen before the later ones moved; more rarely change anything.
_RANGE_SWEEPS = 2
# The most bits a grid may have: past float32's 24-bit significand a finer grid changes nothing.
_MAX_GRID_BITS = 32


def _on_grid(values: torch.Tensor, bits: int, m: float) -> torch.Tensor:
    """``values`` (float64) on the n_q-bit grid over [−m, m]: k · Δ, |k| ≤ K = 2^(n_q − 1) − 1,
    Δ = m / K, values beyond ±m clipped to ±K · Δ = ±m."""
    levels = 2 ** (bits - 1) - 1
    if levels == 0 or m == 0:
        return torch.zeros_like(values)
    step = m / levels
    return torch.clamp(torch.round(values / step), -levels, levels) * step


@torch.no_grad()
def _best_ranges(
    model: nn.Module, saved: list[torch.Tensor], bits: int, budget: Budget
) -> tuple[float, list[float]]:
    """Quantize ``model`` to ``bits`` with the ranges that minimise L; return L and the ranges.

    Coordinate descent: all tensors start at c = 1 (m = max|w|); each tensor in turn tries every
    c of :data:`RANGE_FRACTIONS` with the others fixed, keeping the lowest loss (the larger c on
    a tie); two sweeps, the second only if the first changed anything. The model is left at the
    best ranges found.
    """
    params = list(model.parameters())
    tops = [float(w.abs().max()) if w.numel() else 0.0 for w in saved]
    if bits == 1:  # the one-level grid {0}
        for p in params:
            p.zero_()
        return budget.loss(model), [0.0] * len(params)
    cache: dict[tuple[int, int], torch.Tensor] = {}

    def put(i: int, j: int) -> None:
        if (i, j) not in cache:
            m = RANGE_FRACTIONS[j] * tops[i]
            cache[i, j] = _on_grid(saved[i].double(), bits, m).to(params[i].dtype)
        params[i].copy_(cache[i, j])

    def key(loss: float) -> float:
        return math.inf if math.isnan(loss) else loss

    choice = [0] * len(params)
    for i in range(len(params)):
        put(i, 0)
    best = budget.loss(model)
    for _ in range(_RANGE_SWEEPS):
        changed = False
        for i in range(len(params)):
            if tops[i] == 0:  # an all-zero tensor is on every grid
                continue
            for j in range(len(RANGE_FRACTIONS)):
                if j == choice[i]:
                    continue
                put(i, j)
                loss = budget.loss(model)
                if key(loss) < key(best):
                    best, choice[i], changed = loss, j, True
            put(i, choice[i])
        if not changed:
            break
    return best, [RANGE_FRACTIONS[j] * top for j, top in zip(choice, tops, strict=True)]


def quantization_point(budget: Budget, max_bits: int) -> QuantizationPoint:
    """:func:`critical_quantization_bits` within an already measured budget."""
    if isinstance(max_bits, bool) or not isinstance(max_bits, int):
        raise MdlkitError(f"max_bits must be an integer, got {max_bits!r}")
    if not 1 <= max_bits <= _MAX_GRID_BITS:
        raise MdlkitError(f"max_bits must lie in [1, {_MAX_GRID_BITS}], got {max_bits}")
    model = budget.copy()
    saved = [p.detach().clone() for p in model.parameters()]
    names = [name for name, _ in model.named_parameters()]
    curve: list[tuple[int, float]] = []
    for bits in range(1, max_bits + 1):
        loss, ranges = _best_ranges(model, saved, bits, budget)
        curve.append((bits, loss))
        if budget.within(loss):
            d = sum(w.numel() for w in saved)
            return QuantizationPoint(
                bits=bits,
                reference_loss=budget.reference,
                tolerance=budget.tolerance,
                loss=loss,
                ranges=dict(zip(names, ranges, strict=True)),
                naive_bits=d * bits,
                curve=tuple(curve),
                coded=coded_size(model, budget),
                weights=weights_of(model),
            )
    raise MdlkitError(
        f"no grid of at most {max_bits} bits keeps the loss within {budget.tolerance:g} nats of "
        f"L(w*) = {budget.reference:.6g} (best {curve[-1][1]:.6g}); raise max_bits or the "
        "tolerance"
    )


def critical_quantization_bits(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
    max_bits: int = 16,
) -> QuantizationPoint:
    """The smallest n_q with every parameter tensor on an n_q-bit grid within tolerance.

    The grid of tensor i is symmetric and uniform over [−m_i, m_i] with 2^n_q − 1 levels, zero
    among them:

        w ↦ Δ_i · clamp(round(w / Δ_i), −K, K),   K = 2^(n_q − 1) − 1,   Δ_i = m_i / K,

    for weights and biases alike. n_q = 1 is the one-level grid {0} (every parameter zero; no
    sign bit, as 2^1 − 1 = 1 level says), n_q = 2 the ternary {−m, 0, m}, n_q = 3 seven levels.
    The ranges minimise the loss: m_i = c · max|w_i| with c in :data:`RANGE_FRACTIONS`, by
    coordinate descent over the tensors (two sweeps, deterministic). n_q = 1, 2, … is tried in
    turn; the first whose best loss is ≤ L(w*) + ε is the measure. Cost: about
    2 · 16 · (number of tensors) loss evaluations per n_q tried.

    Args:
        model: the trained network at w* (not changed).
        data: the training samples L is measured on (mean loss, nats per sample).
        tolerance: ε > 0, nats per sample.
        loss_fn: ``loss_fn(output, target)`` → mean loss in nats; default
            :func:`~mdlkit.heads.head_for` (data).
        spec: the model's spec; if given, ``coded`` holds the codec's size of the point.
        max_bits: the largest n_q tried; a :class:`~mdlkit.errors.MdlkitError` if none is
            within tolerance.
    """
    return quantization_point(make_budget(model, data, tolerance, loss_fn, spec), max_bits)
