"""SGLD as a torch optimizer: the sampler :func:`~mdlkit.complexity.estimate_llc` runs.

One step on the gradient g of the MEAN minibatch loss, around the point w* the optimizer was
built at:

    w ← w − (ε/2)·[nβ·g + γ·(w − w*)] + √ε·ξ,   ξ ~ N(0, I).

>>> import torch
>>> w = torch.nn.Parameter(torch.ones(2))
>>> opt = SGLD([w], step=0.1, n_beta=1.0, gamma=1.0, noise=0.0)  # no noise: gradient descent
>>> w.grad = torch.tensor([2.0, -2.0])
>>> opt.step()
>>> w.detach().tolist()  # 1 − 0.05·(±2) ; the localizer pulls nothing at w*
[0.8999999761581421, 1.100000023841858]
"""

from __future__ import annotations

import math
from typing import Any

import torch

from mdlkit.errors import MdlkitError

__all__ = ["SGLD"]


class SGLD(torch.optim.Optimizer):
    """One SGLD step per :meth:`step` on gradients of the MEAN minibatch loss:
    w ← w − (ε/2)·[nβ·g + γ·(w − w*)] + noise·√ε·ξ (``noise=0`` is plain gradient descent with
    step ε·nβ/2 on the loss plus the localizer). w* is the parameters' value at construction.

    ``rmsprop`` (a decay, e.g. 0.99) preconditions the step per coordinate like RMSprop:
    V ← ρ·V + (1 − ρ)·(nβ·g)², G = 1 / (√V̂ + 0.1) with V̂ the bias-corrected V, and the step
    becomes w ← w − (ε/2)·G·[nβ·g + γ·(w − w*)] + noise·√(ε·G)·ξ: flat and steep directions
    then move at similar rates. The 0.1 caps G where the gradient vanishes (at a singular w*
    it does). G changes along the chain and the drift lacks the divergence term of G, so this
    chain samples the posterior only approximately: on the toys it overestimates λ
    (``benchmarks/results/llc_accuracy.md``), which is why it is never the default (MALA is, on a
    full batch; plain SGLD with minibatches).
    """

    def __init__(
        self,
        params: Any,
        *,
        step: float,
        n_beta: float,
        gamma: float,
        noise: float = 1.0,
        rmsprop: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if rmsprop is not None and not 0 < rmsprop < 1:
            raise MdlkitError(f"the RMSprop decay must lie in (0, 1), got {rmsprop}")
        defaults = {"step": step, "n_beta": n_beta, "gamma": gamma, "noise": noise}
        super().__init__(params, defaults)
        self.generator = generator
        self.rmsprop = rmsprop
        self.steps = 0
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["center"] = p.detach().clone()
                if rmsprop is not None:
                    self.state[p]["square"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        self.steps += 1
        for group in self.param_groups:
            eps, nb, gamma, noise = group["step"], group["n_beta"], group["gamma"], group["noise"]
            for p in group["params"]:
                state = self.state[p]
                drift = gamma * (p - state["center"])
                if p.grad is not None:
                    drift = drift + nb * p.grad
                if self.rmsprop is None:
                    p.add_(drift, alpha=-eps / 2)
                    if noise:
                        xi = _noise(p, self.generator)
                        p.add_(xi, alpha=noise * math.sqrt(eps))
                    continue
                grad = nb * p.grad if p.grad is not None else torch.zeros_like(p)
                square = state["square"]
                square.mul_(self.rmsprop).addcmul_(grad, grad, value=1 - self.rmsprop)
                scale = 1 / ((square / (1 - self.rmsprop**self.steps)).sqrt() + 0.1)
                p.add_(scale * drift, alpha=-eps / 2)
                if noise:
                    xi = _noise(p, self.generator)
                    p.add_(scale.sqrt() * xi, alpha=noise * math.sqrt(eps))


def _noise(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """N(0, 1) noise shaped like ``p``, drawn on the generator's device (the CPU by default)
    and moved to ``p``'s: the same numbers whatever device samples."""
    device = generator.device if generator is not None else torch.device("cpu")
    xi = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=device)
    return xi.to(p.device, non_blocking=True)
