"""MALA: SGLD's step as a proposal, kept or refused by a Metropolis–Hastings test.

SGLD with step ε samples a distorted posterior: its stationary law is the target's only as
ε → 0, and the distortion grows with ε times the curvature the chain meets. On deep networks the
chain drifts along the rescaling symmetries (W_i → c·W_i, W_j → W_j / c), where the curvature of
the other layers grows with the layers' norms, so a step that suits w* ends near SGLD's
stability limit and λ̂ overshoots. Adjusting the step removes that bias whatever ε is: with the
potential U(w) = nβ·L_n(w) + (γ/2)·‖w − w*‖² on the FULL batch, propose

    w' = w − (ε/2)·∇U(w) + √ε·ξ,   ξ ~ N(0, I),

and keep it with probability min(1, exp(U(w) − U(w') + ‖ξ‖²/2 − ‖w − w' + (ε/2)·∇U(w')‖²/(2ε))),
else stay at w. The chain then samples exp(−U) exactly (Roberts & Tweedie 1996); ε only sets how
fast it mixes. ``adapt`` steps tune ε toward the acceptance rate 0.574, the optimum for MALA
(Roberts & Rosenthal 1998), by a Robbins–Monro walk on ln ε, and then fix ε at the mean of the
walk's second half.

One :meth:`MALA.step` costs one forward and backward pass (at the proposal), like SGLD's.

>>> import torch
>>> w = torch.nn.Parameter(torch.zeros(3))
>>> opt = MALA([w], step=0.5, n_beta=1.0, gamma=0.0, generator=torch.Generator().manual_seed(0))
>>> def closure():   # U = ½‖w‖²: the chain samples N(0, I) exactly, whatever the step
...     opt.zero_grad()
...     loss = 0.5 * w.square().sum()
...     loss.backward()
...     return loss
>>> draws = [float(opt.step(closure)) for _ in range(4000)]
>>> abs(sum(draws) / len(draws) - 1.5) < 0.2     # E[½‖w‖²] = 3/2
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from mdlkit.complexity.sgld import _noise
from mdlkit.errors import MdlkitError

__all__ = ["MALA", "TARGET_ACCEPTANCE"]

TARGET_ACCEPTANCE = 0.574
"""The acceptance rate the step adapts toward: MALA's optimum (Roberts & Rosenthal 1998)."""

# ε·γ at most this while adapting: the localizer alone would make larger steps oscillate.
_MAX_STEP_GAMMA = 1.0


class MALA(torch.optim.Optimizer):
    """Metropolis-adjusted Langevin on U(w) = nβ·L(w) + (γ/2)·‖w − w*‖², w* the parameters'
    value at construction (module docstring). :meth:`step` takes a ``closure`` that zeroes the
    gradients, computes the FULL-batch mean loss L (nats), calls ``backward`` and returns it;
    the step returns L at the chain's state after the test (the proposal's when accepted).

    ``adapt``: the first ``adapt`` steps move ln ε by (accept probability − 0.574)/√(t + 10);
    after them ε is fixed at exp(mean ln ε over the second half). ``accepted`` counts the
    proposals kept after the adaptation, ``tested`` all proposals tested after it.
    """

    def __init__(
        self,
        params: Any,
        *,
        step: float,
        n_beta: float,
        gamma: float,
        adapt: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not (step > 0 and math.isfinite(step)):
            raise MdlkitError(f"the MALA step must be > 0, got {step}")
        super().__init__(params, {"step": step, "n_beta": n_beta, "gamma": gamma})
        self.generator = generator
        self.adapt = adapt
        self.steps = 0
        self.accepted = 0
        self.tested = 0
        self._log_steps: list[float] = []
        self._loss: float | None = None
        self._potential = 0.0
        for p in self._params():
            self.state[p]["center"] = p.detach().clone()

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def step_size(self) -> float:
        """The current ε (fixed after the adaptation)."""
        return float(self.param_groups[0]["step"])

    def _evaluate(self, closure: Callable[[], torch.Tensor]) -> tuple[float, float]:
        """L and U at the current parameters; each parameter's state gets ∇U as "drift"."""
        with torch.enable_grad():
            loss = float(closure().detach())
        group = self.param_groups[0]
        nb, gamma = group["n_beta"], group["gamma"]
        potential = nb * loss
        with torch.no_grad():
            for p in self._params():
                offset = p - self.state[p]["center"]
                potential += 0.5 * gamma * float(offset.square().sum())
                drift = gamma * offset
                if p.grad is not None:
                    drift = drift + nb * p.grad
                self.state[p]["drift"] = drift
        return loss, potential

    @torch.no_grad()
    def step(self, closure: Any = None) -> float:  # type: ignore[override]
        if closure is None:
            raise MdlkitError("MALA needs a closure that computes the full-batch loss")
        if self._loss is None:
            self._loss, self._potential = self._evaluate(closure)
        eps = self.step_size
        params = self._params()
        saved = [(p.detach().clone(), self.state[p]["drift"]) for p in params]
        forward = 0.0  # ‖ξ‖²/2 = ‖w' − w + (ε/2)·∇U(w)‖²/(2ε)
        for p, (_, drift) in zip(params, saved, strict=True):
            xi = _noise(p, self.generator)
            forward += 0.5 * float(xi.square().sum())
            p.add_(drift, alpha=-eps / 2).add_(xi, alpha=math.sqrt(eps))
        loss, potential = self._evaluate(closure)
        backward = sum(
            float((old - p + (eps / 2) * self.state[p]["drift"]).square().sum())
            for p, (old, _) in zip(params, saved, strict=True)
        ) / (2 * eps)
        log_ratio = self._potential - potential + forward - backward
        accept = math.exp(min(0.0, log_ratio)) if math.isfinite(log_ratio) else 0.0
        uniform = float(torch.rand((), generator=self.generator))
        if uniform < accept:
            self._loss, self._potential = loss, potential
            self.accepted += self.steps >= self.adapt
        else:
            for p, (old, drift) in zip(params, saved, strict=True):
                p.copy_(old)
                self.state[p]["drift"] = drift
        self.tested += self.steps >= self.adapt
        self.steps += 1
        if self.steps <= self.adapt:
            self._tune(accept)
        return self._loss

    def _tune(self, accept: float) -> None:
        """One Robbins–Monro move of ln ε toward the target acceptance; the last fixes ε."""
        group = self.param_groups[0]
        log_step = math.log(group["step"]) + (accept - TARGET_ACCEPTANCE) / math.sqrt(
            self.steps + 10
        )
        if group["gamma"] > 0:
            log_step = min(log_step, math.log(_MAX_STEP_GAMMA / group["gamma"]))
        self._log_steps.append(log_step)
        if self.steps == self.adapt:
            half = self._log_steps[len(self._log_steps) // 2 :]
            log_step = sum(half) / len(half)
        group["step"] = math.exp(log_step)

    @property
    def acceptance(self) -> float:
        """The share of proposals kept after the adaptation (nan before any)."""
        return self.accepted / self.tested if self.tested else math.nan
