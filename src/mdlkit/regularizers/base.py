"""The regularizer interface, and the combinators ``chain`` and ``masked``.

A regularizer, like an optax transformation, is a small object built from its hyperparameters.
Its ``penalty`` is a term of the objective per sample (it is added to the MEAN batch loss, so
strengths are per-sample quantities). In a training step it acts in up to three places:

1. ``loss_term`` is added to the loss before ``backward`` (by default the penalty itself);
2. ``add_gradient`` adds a closed-form gradient to ``p.grad`` after ``backward`` — DRR and L1 do
   this instead of (1), which is several times cheaper than autograd through the penalty;
3. ``after_step`` acts after the optimizer step (a proximal step, a clamp).

Regularizers see the model's parameters as a list of ``(name, tensor)`` pairs. A regularizer
with variables of its own (PMMP's w, γ, u) hands them to the optimizer through
``extra_parameters`` and saves them with ``state_dict``.

>>> import torch
>>> from mdlkit.regularizers.drr import DRR
>>> params = [("w", torch.tensor([0.0, 1.0])), ("b", torch.tensor([2.0]))]
>>> only_w = masked(DRR(1.0, beta=5.0), lambda name, p: name == "w")
>>> round(float(only_w.penalty(params, step=0)), 6)
0.993262
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

__all__ = [
    "Chain",
    "Masked",
    "NamedParams",
    "Regularizer",
    "chain",
    "layer_factors",
    "masked",
]

NamedParams = Sequence[tuple[str, torch.Tensor]]


def layer_factors(params: NamedParams, normalize: bool) -> list[float]:
    """Per-tensor penalty factors: 1, or N_total / (L · N_ℓ) with layer normalisation.

    Normalisation gives every tensor the same total pull, however many entries it has.

    >>> layer_factors([("a", torch.zeros(10)), ("b", torch.zeros(30))], normalize=True)
    [2.0, 0.6666666666666666]
    """
    if not normalize:
        return [1.0] * len(params)
    total = sum(p.numel() for _, p in params)
    return [total / (len(params) * p.numel()) for _, p in params]


class Regularizer:
    """Base class: no penalty, no after-step action, no variables. Subclasses override."""

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        """The penalty at ``step`` (nats per sample, differentiable), or None."""
        return None

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        """What a training step adds to the loss before ``backward`` (default: the penalty)."""
        return self.penalty(params, step)

    def add_gradient(self, params: NamedParams, step: int) -> None:
        """Add a closed-form penalty gradient to each ``p.grad`` (after ``backward``)."""
        return None

    def after_step(self, params: NamedParams, step: int) -> None:
        """Called after each optimizer step with the updated parameters (in-place changes)."""
        return None

    def extra_parameters(self, params: NamedParams) -> list[torch.Tensor]:
        """Trainable tensors of the regularizer itself, created on first call from ``params``."""
        return []

    def converged(self, params: NamedParams) -> bool:
        """Whether the regularizer's own convergence condition holds (checked with saturation)."""
        return True

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors needed to resume (empty for stateless regularizers)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""
        return None


def _sum_terms(terms: Iterable[torch.Tensor | None]) -> torch.Tensor | None:
    """The sum of the terms that are not None (None if all are)."""
    total: torch.Tensor | None = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


class Chain(Regularizer):
    """The sum of several regularizers' penalties; hooks run in order."""

    def __init__(self, members: Sequence[Regularizer]) -> None:
        self.members = list(members)

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return _sum_terms(member.penalty(params, step) for member in self.members)

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return _sum_terms(member.loss_term(params, step) for member in self.members)

    def add_gradient(self, params: NamedParams, step: int) -> None:
        for member in self.members:
            member.add_gradient(params, step)

    def after_step(self, params: NamedParams, step: int) -> None:
        for member in self.members:
            member.after_step(params, step)

    def extra_parameters(self, params: NamedParams) -> list[torch.Tensor]:
        return [t for member in self.members for t in member.extra_parameters(params)]

    def converged(self, params: NamedParams) -> bool:
        return all(member.converged(params) for member in self.members)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            f"{i}.{k}": v for i, m in enumerate(self.members) for k, v in m.state_dict().items()
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for i, member in enumerate(self.members):
            prefix = f"{i}."
            member.load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )

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

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return self.inner.loss_term(self._select(params), step)

    def add_gradient(self, params: NamedParams, step: int) -> None:
        self.inner.add_gradient(self._select(params), step)

    def after_step(self, params: NamedParams, step: int) -> None:
        self.inner.after_step(self._select(params), step)

    def extra_parameters(self, params: NamedParams) -> list[torch.Tensor]:
        return self.inner.extra_parameters(self._select(params))

    def converged(self, params: NamedParams) -> bool:
        return self.inner.converged(self._select(params))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.inner.load_state_dict(state)

    def __repr__(self) -> str:
        return f"masked({self.inner!r})"


def masked(inner: Regularizer, predicate: Callable[[str, torch.Tensor], bool]) -> Regularizer:
    """Restrict a regularizer to the tensors selected by ``predicate(name, tensor)``."""
    return Masked(inner, predicate)
