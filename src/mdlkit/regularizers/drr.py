"""DRR: the differentiable relaxation of the L0 norm (Barth & von Petersenn).

Penalty per regularized tensor entry: α · (1 − exp(−β|θ|)), summed over entries, plus an optional
ρ‖θ‖². Its gradient is α·β·sign(θ)·exp(−β|θ|): strong near zero (pulling small weights to zero)
and vanishing for large weights (leaving them unshrunk), unlike L1.

>>> import torch
>>> reg = DRR(alpha=0.5, beta=2.0)
>>> theta = torch.tensor([0.0, 1.0])
>>> round(float(reg.penalty([("w", theta)], step=0)), 6)  # 0.5 * (0 + 1 - e^-2)
0.432332
"""

from __future__ import annotations

import torch

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import NamedParams, Regularizer, layer_factors
from mdlkit.regularizers.schedules import Strength, as_schedule

__all__ = ["DRR"]


class DRR(Regularizer):
    """DRR penalty ``α(step) · Σ_ℓ f_ℓ Σ (1 − exp(−β|θ|)) + ρ · Σ θ²`` (nats per sample).

    Args:
        alpha: strength α ≥ 0 (float or schedule); it multiplies a penalty added to the mean
            batch loss, so the equivalent strength on the summed loss is α·N.
        beta: sharpness β > 0 (the authors use 5–10). β = 0 would switch the method off and is
            rejected.
        l2: optional ρ ≥ 0 of an added ρ‖θ‖² (off by default: ablations found it rarely helps).
        normalize_layers: scale tensor ℓ's penalty by f_ℓ = N_total / (L · N_ℓ) (else f_ℓ = 1).
    """

    def __init__(
        self, alpha: Strength, beta: float = 5.0, l2: float = 0.0, normalize_layers: bool = False
    ) -> None:
        if not beta > 0:
            raise MdlkitError(f"DRR needs beta > 0 (beta = 0 switches it off), got {beta}")
        if not l2 >= 0:
            raise MdlkitError(f"the L2 coefficient must be >= 0, got {l2}")
        self.alpha = as_schedule(alpha)
        self.beta = float(beta)
        self.l2 = float(l2)
        self.normalize_layers = normalize_layers

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        if not params:
            return None
        factors = layer_factors(params, self.normalize_layers)
        terms = [
            f * (1.0 - torch.exp(-self.beta * p.abs())).sum()
            for f, (_, p) in zip(factors, params, strict=True)
        ]
        result = self.alpha(step) * torch.stack(terms).sum()
        if self.l2 > 0:
            result = result + self.l2 * torch.stack([p.square().sum() for _, p in params]).sum()
        return result

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return None  # the gradient is added in closed form by add_gradient

    @torch.no_grad()
    def add_gradient(self, params: NamedParams, step: int) -> None:
        """p.grad += α·β·f_ℓ·sign(θ)·exp(−β|θ|) + 2ρθ, in a few in-place passes."""
        live = [
            (f, p)
            for f, (_, p) in zip(layer_factors(params, self.normalize_layers), params, strict=True)
            if p.grad is not None
        ]
        if not live:
            return
        thetas = [p.detach() for _, p in live]
        decay = torch._foreach_abs(thetas)
        torch._foreach_mul_(decay, -self.beta)
        torch._foreach_exp_(decay)
        alpha_beta = self.alpha(step) * self.beta
        for (factor, p), e, theta in zip(live, decay, thetas, strict=True):
            torch.copysign(e, theta, out=e)
            assert p.grad is not None
            p.grad.add_(e, alpha=alpha_beta * factor)
            if self.l2 > 0:
                p.grad.add_(theta, alpha=2.0 * self.l2)

    def __repr__(self) -> str:
        return f"DRR(alpha={self.alpha!r}, beta={self.beta}, l2={self.l2})"
