"""The critical rank fraction: how much of every weight matrix's rank a truncated SVD removes
within tolerance."""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from torch import nn

from mdlkit.complexity.compressibility.budget import Budget, coded_size, make_budget, weights_of
from mdlkit.complexity.compressibility.results import RankPoint
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = ["critical_rank_fraction", "rank_point"]

_FACTORIZED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _matrices(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The weights of every Linear and convolution (each shared one once), by parameter name."""
    seen: set[int] = set()
    found = []
    for name, module in model.named_modules():
        if isinstance(module, _FACTORIZED) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            found.append((f"{name}.weight" if name else "weight", module.weight))
    return found


class _Truncation:
    """One weight's SVD, viewed as a matrix (out, in · kernel), and its rank-r reconstructions."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.original = weight.detach().clone()
        matrix = self.original.reshape(len(self.original), -1).double()
        self.full_rank = min(matrix.shape)
        self.u, self.s, self.vh = torch.linalg.svd(matrix, full_matrices=False)

    def at(self, rank: int) -> torch.Tensor:
        if rank >= self.full_rank:  # kept whole, not rebuilt: U S Vᵀ is not W to the last bit
            return self.original
        low = (self.u[:, :rank] * self.s[:rank]) @ self.vh[:rank]
        return low.reshape(self.original.shape).to(self.original.dtype)


def rank_point(budget: Budget) -> RankPoint:
    """:func:`critical_rank_fraction` within an already measured budget."""
    model = budget.copy()
    matrices = _matrices(model)
    if not matrices:
        raise MdlkitError(
            "the model has no Linear or convolution weights to factorize; the rank measure "
            "needs at least one"
        )
    truncations = [_Truncation(w) for _, w in matrices]
    full = [t.full_rank for t in truncations]
    # Matrix i's kept rank ceil((1 − f)·R_i) = R_i − floor(f·R_i) changes only at f = j/R_i:
    # those fractions, as exact rationals, are all the distinct patterns there are.
    fractions = sorted({Fraction(j, r) for r in full for j in range(r + 1)})

    def kept(f: Fraction) -> list[int]:
        return [math.ceil((1 - f) * r) for r in full]

    @torch.no_grad()
    def put(ranks: list[int]) -> None:
        for (_, w), t, r in zip(matrices, truncations, ranks, strict=True):
            w.copy_(t.at(r))

    curve: list[tuple[float, float]] = []
    best, best_loss = Fraction(0), budget.reference
    for f in fractions:
        if f == 0:  # the model itself
            loss = budget.reference
        else:
            put(kept(f))
            loss = budget.loss(model)
        curve.append((float(f), loss))
        if budget.within(loss):
            best, best_loss = f, loss
    put(kept(best))
    names = [name for name, _ in matrices]
    return RankPoint(
        fraction=float(best),
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        loss=best_loss,
        full_ranks=dict(zip(names, full, strict=True)),
        kept_ranks=dict(zip(names, kept(best), strict=True)),
        curve=tuple(curve),
        coded=coded_size(model, budget),
        weights=weights_of(model),
    )


def critical_rank_fraction(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
) -> RankPoint:
    """The largest fraction f of rank that truncated SVD removes within tolerance.

    Every weight matrix W (an ``nn.Linear`` weight; a convolution weight viewed as (out,
    in · kernel)) of full rank R = min(rows, columns) is replaced by its best approximation of
    rank r = ceil((1 − f) · R) (Eckart–Young: the r largest singular values, computed in
    float64), the same f for all; biases and other parameters stay. r = R leaves W untouched,
    r = 0 zeroes it. As r only changes at f = j / R, the candidates are those fractions for
    every matrix's R (each distinct pattern once, at its smallest f), and ALL of them are
    tried — no monotonicity is assumed — so the curve is complete and the measure is the
    largest f whose loss is ≤ L(w*) + ε (f = 0, the model itself, always is). Cost: at most
    ΣR + 1 loss evaluations. For a single matrix f is exactly the fraction of its rank removed.

    Arguments as :func:`~mdlkit.complexity.critical_quantization_bits`.
    """
    return rank_point(make_budget(model, data, tolerance, loss_fn, spec))
