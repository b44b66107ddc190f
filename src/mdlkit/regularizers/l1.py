"""R-L1 (relaxed lasso) and a plain L2 term.

R-L1 trains with α·Σ|θ|, then — "relaxed" — prunes (TAMADE) and fine-tunes without the penalty,
so the surviving weights lose the shrinkage bias. The relaxation is the shared pipeline; this
module is the penalty. Two variants:

- subgradient (the default): α·Σ|θ| is added to the loss, gradient α·sign(θ); weights hover
  around zero rather than reaching it, which TAMADE then resolves;
- proximal: no loss term; after each optimizer step the soft-threshold
  θ ← sign(θ)·max(|θ| − η·α, 0) with step size η, which yields exact zeros.

>>> import torch
>>> theta = torch.tensor([-0.5, 0.01, 2.0])
>>> round(float(L1(0.1).penalty([("w", theta)], 0)), 6)
0.251
>>> L1(1.0, proximal=True, step_size=0.1).after_step([("w", theta)], 0)
>>> [round(t, 6) for t in theta.tolist()]
[-0.4, 0.0, 1.9]
"""

from __future__ import annotations

import torch

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import NamedParams, Regularizer, layer_factors
from mdlkit.regularizers.schedules import Strength, as_schedule

__all__ = ["L1", "L2"]


class L1(Regularizer):
    """``α(step) · Σ_ℓ f_ℓ Σ|θ|`` by subgradient (default) or by a proximal step.

    Args:
        alpha: strength α ≥ 0 per sample (float or schedule).
        proximal: use the soft-threshold after each step instead of a loss term.
        step_size: η of the proximal step (use the optimizer's learning rate).
        normalize_layers: scale tensor ℓ by f_ℓ = N_total / (L · N_ℓ).
    """

    def __init__(
        self,
        alpha: Strength,
        *,
        proximal: bool = False,
        step_size: float = 1e-3,
        normalize_layers: bool = False,
    ) -> None:
        if not step_size > 0:
            raise MdlkitError(f"the proximal step size must be > 0, got {step_size}")
        self.alpha = as_schedule(alpha)
        self.proximal = proximal
        self.step_size = float(step_size)
        self.normalize_layers = normalize_layers

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        if self.proximal or not params:
            return None
        factors = layer_factors(params, self.normalize_layers)
        terms = [f * p.abs().sum() for f, (_, p) in zip(factors, params, strict=True)]
        return self.alpha(step) * torch.stack(terms).sum()

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return None  # subgradient: added in closed form by add_gradient

    @torch.no_grad()
    def add_gradient(self, params: NamedParams, step: int) -> None:
        """Subgradient variant: p.grad += α·f_ℓ·sign(θ) (sign(0) = 0)."""
        if self.proximal:
            return
        alpha = self.alpha(step)
        for f, (_, p) in zip(layer_factors(params, self.normalize_layers), params, strict=True):
            if p.grad is not None:
                p.grad.add_(torch.sign(p.detach()), alpha=alpha * f)

    @torch.no_grad()
    def after_step(self, params: NamedParams, step: int) -> None:
        if not self.proximal:
            return
        alpha = self.alpha(step)
        if alpha == 0:
            return
        for f, (_, p) in zip(layer_factors(params, self.normalize_layers), params, strict=True):
            shrink = self.step_size * alpha * f
            p.copy_(torch.sign(p) * torch.clamp(p.abs() - shrink, min=0.0))

    def __repr__(self) -> str:
        kind = "proximal" if self.proximal else "subgradient"
        return f"L1(alpha={self.alpha!r}, {kind})"


class L2(Regularizer):
    """``ρ · Σ θ²`` (weight decay as a loss term), to chain with a sparsity penalty.

    >>> import torch
    >>> float(L2(0.5).penalty([("w", torch.tensor([1.0, 2.0]))], 0))
    2.5
    """

    def __init__(self, rho: Strength) -> None:
        self.rho = as_schedule(rho)

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        if not params:
            return None
        return self.rho(step) * torch.stack([p.square().sum() for _, p in params]).sum()

    def __repr__(self) -> str:
        return f"L2(rho={self.rho!r})"
