"""PMMP: probabilistic minimax pruning, with optional fictitious play (FPP).

Per regularized parameter θ (the weight the network uses) PMMP keeps a magnitude w, a keep
probability γ ∈ [0, 1] and a multiplier u ≥ 0, and solves

    min over θ, w, γ   max over u   L(θ) + α·Σγ + c·Σ u·[(θ − wγ)² + w²·γ(1 − γ)]

The bracket is E_{z~Bernoulli(γ)}[(θ − w z)²]: θ is pushed to equal a Bernoulli-masked w, and Σγ is
the expected L0 norm of the mask. The quadratic form matters (a linear constraint lets w → ∞,
γ → 0). One optimizer updates all four with closed-form gradients (``add_gradient``); u's is
negated, so the optimizer ascends in u.
After each step γ is clamped to [0, 1] and u to ≥ 0.

Converged when the loss has saturated AND at most 1 % of the γ's lie strictly inside (0.1, 0.9).
Then θ is the model; w, γ, u are discarded and the shared pruning and fine-tuning follow.

Fictitious play: the θ, w, γ gradients use the running average ū of u, and u's gradient uses
the running averages θ̄, w̄, γ̄ (avg ← k/(k+1)·avg + new/(k+1)).
"""

from __future__ import annotations

import torch

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import NamedParams, Regularizer
from mdlkit.regularizers.schedules import Strength, as_schedule

__all__ = ["PMMP"]

_VARS = ("w", "gamma", "u")


def _constraint(theta: torch.Tensor, w: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """E_{z~Bernoulli(γ)}[(θ − w z)²] = (θ − wγ)² + w²γ(1 − γ), elementwise."""
    return (theta - w * gamma).square() + w.square() * gamma * (1.0 - gamma)


class PMMP(Regularizer):
    """Probabilistic minimax pruning (see the module docstring).

    Args:
        alpha: strength α ≥ 0 of the expected L0 term α·Σγ (per sample; float or schedule).
        c: scale c ≥ 0 of the constraint term (1 in the paper).
        gamma_init: initial keep probability γ₀ ∈ [0, 1] (1 by default; 0.5–0.7 used in places).
        u_init: initial multiplier u₀ ≥ 0 (0 by default; 2–3 used in places).
        fictitious_play: use running averages as described above (FPP).
        band: γ's strictly inside (band, 1 − band) count as undecided.
        max_undecided: convergence needs at most this fraction undecided.

    α = 0 together with c = 0 leaves θ's training unchanged bit for bit.
    """

    def __init__(
        self,
        alpha: Strength,
        *,
        c: float = 1.0,
        gamma_init: float = 1.0,
        u_init: float = 0.0,
        fictitious_play: bool = False,
        band: float = 0.1,
        max_undecided: float = 0.01,
    ) -> None:
        if not 0.0 <= gamma_init <= 1.0:
            raise MdlkitError(f"PMMP's gamma init must lie in [0, 1], got {gamma_init}")
        if not u_init >= 0 or not c >= 0:
            raise MdlkitError(f"PMMP needs u init >= 0 and c >= 0, got u={u_init}, c={c}")
        if not 0.0 < band < 0.5 or not 0.0 <= max_undecided <= 1.0:
            raise MdlkitError("PMMP needs 0 < band < 0.5 and max_undecided in [0, 1]")
        self.alpha = as_schedule(alpha)
        self.c = float(c)
        self.gamma_init = float(gamma_init)
        self.u_init = float(u_init)
        self.fictitious_play = fictitious_play
        self.band = band
        self.max_undecided = max_undecided
        self.vars: dict[str, dict[str, torch.Tensor]] = {}
        self.averages: dict[str, dict[str, torch.Tensor]] = {}
        self.rounds = 1

    def extra_parameters(self, params: NamedParams) -> list[torch.Tensor]:
        for name, theta in params:
            if name in self.vars:
                continue
            data = theta.detach()
            w = data.clone().requires_grad_(True)
            gamma = torch.full_like(data, self.gamma_init).requires_grad_(True)
            u = torch.full_like(data, self.u_init).requires_grad_(True)
            self.vars[name] = {"w": w, "gamma": gamma, "u": u}
            if self.fictitious_play:
                self.averages[name] = {
                    "theta": data.clone(),
                    "w": data.clone(),
                    "gamma": gamma.detach().clone(),
                    "u": u.detach().clone(),
                }
        return [self.vars[name][v] for name, _ in params for v in _VARS]

    def penalty(self, params: NamedParams, step: int) -> torch.Tensor | None:
        if not params:
            return None
        self.extra_parameters(params)
        terms = []
        for name, theta in params:
            v = self.vars[name]
            expected_l0 = self.alpha(step) * v["gamma"].sum()
            if self.fictitious_play:
                a = self.averages[name]
                primal = (a["u"] * _constraint(theta, v["w"], v["gamma"])).sum()
                dual = (v["u"] * _constraint(a["theta"], a["w"], a["gamma"])).sum()
                terms.append(expected_l0 + self.c * (primal + dual))
            else:
                constraint = (v["u"] * _constraint(theta, v["w"], v["gamma"])).sum()
                terms.append(expected_l0 + self.c * constraint)
        return torch.stack(terms).sum()

    def loss_term(self, params: NamedParams, step: int) -> torch.Tensor | None:
        return None  # all four gradients are added in closed form by add_gradient

    @torch.no_grad()
    def add_gradient(self, params: NamedParams, step: int) -> None:
        """The minimax gradients of methods.md, in closed form (r = θ − wγ):

        ∂θ += 2cu·r;  ∂w = cu·(2wγ(1 − γ) − 2γr);  ∂γ = cu·(w²(1 − 2γ) − 2wr) + α;
        ∂u = −c·(r² + w²γ(1 − γ))  (negated: the optimizer descends, so u ascends).
        With fictitious play, u is replaced by ū in the first three and (θ, w, γ) by their
        averages in the last.
        """
        self.extra_parameters(params)
        alpha = self.alpha(step)
        for name, theta_param in params:
            v = self.vars[name]
            theta = theta_param.detach()
            w, gamma, u = v["w"].detach(), v["gamma"].detach(), v["u"].detach()
            if self.fictitious_play:
                avg = self.averages[name]
                u_primal = avg["u"]
            else:
                u_primal = u
            cu = u_primal * self.c
            r = theta - w * gamma
            one_minus = 1.0 - gamma
            if theta_param.grad is not None:
                theta_param.grad.addcmul_(cu, r, value=2.0)
            v["w"].grad = cu * (2.0 * w * gamma * one_minus - 2.0 * gamma * r)
            v["gamma"].grad = (cu * (w.square() * (one_minus - gamma) - 2.0 * w * r)).add_(alpha)
            if self.fictitious_play:
                r_bar = avg["theta"] - avg["w"] * avg["gamma"]
                constraint = r_bar.square() + avg["w"].square() * avg["gamma"] * (
                    1.0 - avg["gamma"]
                )
            else:
                constraint = r.square() + w.square() * gamma * one_minus
            v["u"].grad = constraint.mul_(-self.c)

    @torch.no_grad()
    def after_step(self, params: NamedParams, step: int) -> None:
        k = self.rounds
        for name, theta in params:
            v = self.vars[name]
            v["gamma"].clamp_(0.0, 1.0)
            v["u"].clamp_(min=0.0)
            if self.fictitious_play:
                current = {"theta": theta, "w": v["w"], "gamma": v["gamma"], "u": v["u"]}
                for key, avg in self.averages[name].items():
                    avg.mul_(k / (k + 1)).add_(current[key].detach() / (k + 1))
        self.rounds = k + 1

    def undecided_fraction(self) -> float:
        """Fraction of γ's strictly inside (band, 1 − band)."""
        gammas = [v["gamma"].detach() for v in self.vars.values()]
        if not gammas:
            return 0.0
        inside = sum(int(((g > self.band) & (g < 1 - self.band)).sum()) for g in gammas)
        return inside / sum(g.numel() for g in gammas)

    def converged(self, params: NamedParams) -> bool:
        return self.undecided_fraction() <= self.max_undecided

    def keep_probabilities(self) -> dict[str, torch.Tensor]:
        """The current γ per parameter name."""
        return {name: v["gamma"].detach().clone() for name, v in self.vars.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"{k}.{name}": t.detach() for name, v in self.vars.items() for k, t in v.items()}
        for name, avgs in self.averages.items():
            state.update({f"avg_{k}.{name}": t for k, t in avgs.items()})
        state["rounds"] = torch.tensor(self.rounds)
        return state

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            if key == "rounds":
                self.rounds = int(value)
                continue
            kind, name = key.split(".", 1)
            if kind.startswith("avg_"):
                # on the device of the variables (a checkpoint is read onto the CPU)
                where = self.vars[name]["w"].device if name in self.vars else value.device
                self.averages.setdefault(name, {})[kind[4:]] = value.to(where, copy=True)
            elif name in self.vars:
                self.vars[name][kind].copy_(value)
            else:
                raise MdlkitError(f"PMMP state names an unknown parameter {name!r}")

    def __repr__(self) -> str:
        fp = ", fictitious_play" if self.fictitious_play else ""
        return f"PMMP(alpha={self.alpha!r}, c={self.c}{fp})"
