"""The regularizer interface, and the combinators ``chain`` and ``masked``.

A regularizer, like an optax transformation, is a small object built from its hyperparameters.
It contributes a differentiable ``penalty`` that the training loop adds to the MEAN batch loss
(so strengths are per-sample quantities), and may act after each optimizer step
(``after_step``, e.g. a proximal step or a clamp). Regularizers see the model's parameters as a
list of ``(name, tensor)`` pairs.

>>> import torch
>>> from mdlkit.regularizers.drr import DRR
>>> params = [("w", torch.tensor([0.0, 1.0])), ("b", torch.tensor([2.0]))]
>>> only_w = masked(DRR(1.0, beta=5.0), lambda name, p: name == "w")
>>> round(float(only_w.penalty(params, step=0)), 6)
0.993262
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["Chain", "Masked", "NamedParams", "Regularizer", "chain", "masked"]

NamedParams = Sequence[tuple[str, torch.Tensor]]


class Regularizer:
    """Base class: no penalty and no after-step action. Subclasses override either."""

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        """The penalty to add to the mean batch loss at ``step`` (nats per sample), or None."""
        return None

    def after_step(self, params: NamedParams, step: int) -> None:
        """Called after each optimizer step with the updated parameters (in-place changes)."""
        return None


class Chain(Regularizer):
    """The sum of several regularizers' penalties; after-step hooks run in order."""

    def __init__(self, members: Sequence[Regularizer]) -> None:
        self.members = list(members)

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        total: torch.Tensor | None = None
        for member in self.members:
            term = member.penalty(params, step)
            if term is not None:
                total = term if total is None else total + term
        return total

    def after_step(self, params: NamedParams, step: int) -> None:
        for member in self.members:
            member.after_step(params, step)

    def __repr__(self) -> str:
        return f"chain({', '.join(map(repr, self.members))})"


def chain(*members: Regularizer) -> Regularizer:
    """Combine regularizers; a chain of one is that member itself."""
    return members[0] if len(members) == 1 else Chain(members)


class Masked(Regularizer):
    """Apply ``inner`` only to the tensors for which ``predicate(name, tensor)`` is true."""

    def __init__(self, inner: Regularizer, predicate: Callable[[str, torch.Tensor], bool]) -> None:
        self.inner = inner
        self.predicate = predicate

    def _select(self, params: NamedParams) -> list[tuple[str, torch.Tensor]]:
        return [(n, p) for n, p in params if self.predicate(n, p)]

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return self.inner.penalty(self._select(params), step)

    def after_step(self, params: NamedParams, step: int) -> None:
        self.inner.after_step(self._select(params), step)

    def __repr__(self) -> str:
        return f"masked({self.inner!r})"


def masked(inner: Regularizer, predicate: Callable[[str, torch.Tensor], bool]) -> Regularizer:
    """Restrict a regularizer to the tensors selected by ``predicate(name, tensor)``."""
    return Masked(inner, predicate)
