"""Tolerance searches: the largest setting (a threshold, a step) a model still accepts.

TAMADE's threshold and the weight codec's quantization step are both "the largest x whose
change to the model keeps a score within a tolerance". Two pieces serve both:

- :func:`largest_accepted` bisects [lo, hi] for the boundary of a monotone test, assuming lo is
  accepted, so after m halvings the answer is within (hi − lo) / 2^m below the true boundary;
- :class:`Snapshot` saves a model's parameters so that a change can be tried, scored and undone.

A score is any object with ``loss`` (nats) and ``accuracy`` (in [0, 1], NaN for regression),
such as the evaluation a split gives; :class:`LossAccuracy` is the plain one a checkpoint stores.

>>> largest_accepted(lambda x: x <= 0.3, 0.0, 1.0, resolution=1e-6)  # doctest: +ELLIPSIS
0.29999...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import torch
from torch import nn

__all__ = ["LossAccuracy", "Score", "Snapshot", "cheapest", "largest_accepted"]

S = TypeVar("S")
T = TypeVar("T")


class Score(Protocol):
    """What a search needs from an evaluation: mean loss in nats and accuracy in [0, 1]."""

    @property
    def loss(self) -> float: ...

    @property
    def accuracy(self) -> float: ...


@dataclass(frozen=True)
class LossAccuracy:
    """A plain :class:`Score`: mean loss in nats, accuracy in [0, 1] (NaN for regression)."""

    loss: float
    accuracy: float


def largest_accepted(
    accept: Callable[[float], bool],
    lo: float,
    hi: float,
    *,
    resolution: float = 0.0,
    max_steps: int | None = None,
) -> float:
    """The largest x in [lo, hi] with ``accept(x)``, by bisection; ``lo`` is never tested.

    ``accept`` must be monotone (true up to a boundary, false beyond). Each step tests the
    midpoint and keeps the half that contains the boundary; the search stops after
    ``max_steps`` steps, once ``hi − lo ≤ resolution``, or when the midpoint no longer moves
    (floating-point resolution). Returns the last accepted point (``lo`` if none was).

    >>> largest_accepted(lambda x: x <= 3.0, 0.0, 8.0, max_steps=3)
    3.0
    >>> largest_accepted(lambda x: False, 0.0, 8.0, max_steps=3)
    0.0
    """
    steps = 0
    while hi - lo > resolution and (max_steps is None or steps < max_steps):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if accept(mid):
            lo = mid
        else:
            hi = mid
        steps += 1
    return lo


def cheapest(cost: Callable[[T], float], candidates: Sequence[T]) -> tuple[T, float]:
    """The candidate x with the smallest ``cost(x)``, and that cost (the first on a tie).

    The searches that minimise a description length directly use it: unlike a tolerance, a
    cost needs no monotone boundary, so every candidate is tried.

    >>> cheapest(lambda x: (x - 2.0) ** 2, [0.0, 1.0, 2.5, 4.0])
    (2.5, 0.25)
    """
    if not candidates:
        raise ValueError("cheapest() needs at least one candidate")
    best_x, best_cost = candidates[0], cost(candidates[0])
    for x in candidates[1:]:
        c = cost(x)
        if c < best_cost:
            best_x, best_cost = x, c
    return best_x, best_cost


class Snapshot:
    """A copy of ``model``'s parameters: try a change, score it, and put the weights back."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.saved = [p.detach().clone() for p in model.parameters()]

    @property
    def max_abs(self) -> float:
        """max |θ| over all saved entries (0 for a model without any)."""
        return max((float(p.abs().max()) for p in self.saved if p.numel()), default=0.0)

    @property
    def median_nonzero_abs(self) -> float:
        """The median |θ| over the saved nonzero entries (0 for a model without any)."""
        values = torch.cat(
            [p.detach().abs().flatten() for p in self.saved if p.numel()] or [torch.zeros(0)]
        )
        values = values[values > 0]
        return float(values.double().median()) if values.numel() else 0.0

    @torch.no_grad()
    def restore(self) -> None:
        """Copy the saved values back into the model's parameters."""
        for p, saved in zip(self.model.parameters(), self.saved, strict=True):
            p.copy_(saved)

    def score_change(
        self, change: Callable[[nn.Module], None], score: Callable[[nn.Module], S]
    ) -> S:
        """``change`` the model, ``score`` it, restore the saved weights (even on an error)."""
        try:
            change(self.model)
            return score(self.model)
        finally:
            self.restore()
