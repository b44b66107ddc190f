"""Is λ̂ reliable? A self-check that needs no true λ: halve the step and look again.

The estimate at step ε is repeated at ε/2 with the same chains, burn-in and draws, so the second
run takes the same number of steps over half the simulated time. Two things move λ̂ between
them, and the check cannot tell which, nor does it need to:

- SGLD's step bias (its stationary law is the posterior only as ε → 0), which shows as an
  overshoot that shrinks at ε/2 (plain SGLD at ε = 1e-4 on three- and four-layer deep linear
  networks: +12 … +25 %, ``benchmarks/results/llc_step_check.md``);
- chains too short to forget their start at w* (at the minimum, the sampled loss starts low and
  rises), which shows as an undershoot that grows at ε/2. MALA, the default, samples exactly at
  every step, so with it the gap measures only this.

:func:`check_step` reports three sizes, relative to λ̂:

- the step gap g = |λ̂(ε) − λ̂(ε/2)| / λ̂(ε/2);
- the length gap ℓ = |λ̂ − λ̂_half| / λ̂, with λ̂_half the estimate the first half of each chain
  at ε gives as if it were the whole (burn-in B/2, draws D/2: steps B/2 … B/2 + D/2). Free: it
  reads the traces. Deep networks have slow directions (the layers' rescaling symmetry) along
  which λ̂ still moves after the loss has levelled off, so a run can sit 15 % low with a small
  step gap; the chain length is what exposes it;
- the chains' standard error s_e = s/√(chains − 1)/λ̂ (s the std across chains): the noise.

g + ℓ + 2·s_e is the relative error the check cannot rule out; it warns, with all the sizes,
when that exceeds ``tolerance`` (10 %, the accuracy band of the toys). The estimate to use
(``StepCheck.chosen``) is the one at ε/2 for SGLD (less step bias) and the one at ε for MALA
(exact at both; the longer simulated time is nearer equilibrium). It costs a second estimate,
and it cannot see what no sampler changes: a λ̂ of the posterior at this nβ that differs from
the asymptotic λ (few samples, or γ confining flat directions).

>>> import torch
>>> from mdlkit.data import Split
>>> x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
>>> model = torch.nn.Linear(3, 1, bias=False)
>>> settings = LLCSettings(step=1e-4, chains=2, burn_in=10, draws=40, sampler="sgld")
>>> check = check_step(model, Split(x, x @ torch.ones(3, 1)), settings=settings)
>>> check.at_half.settings.step
5e-05
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlkit.complexity.llc import LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.training.batches import Batches

__all__ = ["STEP_CHECK_TOLERANCE", "StepCheck", "check_step", "length_gap"]

STEP_CHECK_TOLERANCE = 0.10
"""The largest step gap + length gap + 2·standard error that the check calls reliable."""


def length_gap(result: LLCResult) -> float:
    """|λ̂ − λ̂_half| / |λ̂|: λ̂_half from the first half of each chain (burn-in B/2, draws D/2,
    so steps B/2 … B/2 + D/2), the same nβ and L_n(w*) (inf when λ̂ is 0)."""
    s = result.settings
    start, draws = s.burn_in // 2, max(s.draws // 2, 1)
    values = [float(np.mean(t[start : start + draws])) for t in result.traces]
    half = result.n_beta * (float(np.mean(values)) - result.initial_loss)
    return abs(result.llc - half) / abs(result.llc) if result.llc != 0 else math.inf


def _relative_error(result: LLCResult) -> float:
    """s / √(chains − 1) / |λ̂|: the standard error of the mean over chains, relative (inf when
    λ̂ is 0; 0 for one chain, which has no spread to measure)."""
    chains = len(result.per_chain)
    if chains < 2:
        return 0.0
    if result.llc == 0:
        return math.inf
    return result.std / math.sqrt(chains - 1) / abs(result.llc)


@dataclass(frozen=True)
class StepCheck:
    """λ̂ at the step ε and at ε/2, their relative gap, the chains' spread, and which
    estimate to use."""

    at_step: LLCResult
    at_half: LLCResult
    tolerance: float = STEP_CHECK_TOLERANCE

    @property
    def gap(self) -> float:
        """|λ̂(ε) − λ̂(ε/2)| / |λ̂(ε/2)| (inf when λ̂(ε/2) is 0)."""
        a, b = self.at_step.llc, self.at_half.llc
        return abs(a - b) / abs(b) if b != 0 else math.inf

    @property
    def standard_error(self) -> float:
        """The larger relative standard error across chains of the two estimates."""
        return max(_relative_error(self.at_step), _relative_error(self.at_half))

    @property
    def length_gap(self) -> float:
        """|λ̂ − λ̂ from the first half of each chain| / λ̂ at ε (:func:`length_gap`)."""
        return length_gap(self.at_step)

    @property
    def error_bound(self) -> float:
        """step gap + length gap + 2·standard error: the relative error the check cannot
        rule out."""
        return self.gap + self.length_gap + 2 * self.standard_error

    @property
    def reliable(self) -> bool:
        return self.error_bound <= self.tolerance

    @property
    def chosen(self) -> LLCResult:
        """The estimate at ε when the check passes or the sampler is MALA, else (SGLD) the
        one at ε/2 (less step bias)."""
        if self.reliable or self.at_step.settings.sampler == "mala":
            return self.at_step
        return self.at_half

    def warning(self) -> str | None:
        """One line with the size of the disagreement and what to do, or None when the check
        passes."""
        if self.reliable:
            return None
        step, chosen = self.at_step.step_used, self.chosen
        sizes = (
            f"λ̂ changed by {100 * self.gap:.0f} % when the step was halved "
            f"({self.at_step.llc:.3g} at ε = {step:.3g}, {self.at_half.llc:.3g} at "
            f"{step / 2:.3g}), by {100 * self.length_gap:.0f} % from half the chain length, "
            f"and its standard error over the chains is {100 * self.standard_error:.0f} %, so "
            f"it may be off by {100 * self.error_bound:.0f} % (more than "
            f"{100 * self.tolerance:.0f} %)"
        )
        if self.at_step.settings.sampler == "mala":
            advice = (
                f"MALA samples exactly at both steps, so the chains are too short or too few "
                f"for λ̂ = {chosen.llc:.3g} (at ε); use 4× the burn-in and draws (or more "
                "chains) and check again"
            )
        else:
            advice = (
                f"SGLD's step biases λ̂: the one at {step / 2:.3g} ({chosen.llc:.3g}) is "
                f"reported; check it with --step {step / 4:.3g} or use the full batch (MALA)"
            )
        return f"{sizes}: the estimate is unreliable — {advice}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "llc_at_step": self.at_step.llc,
            "llc_at_half_step": self.at_half.llc,
            "step": self.at_step.step_used,
            "gap": self.gap,
            "length_gap": self.length_gap,
            "standard_error": self.standard_error,
            "error_bound": self.error_bound,
            "tolerance": self.tolerance,
            "reliable": self.reliable,
            "warning": self.warning(),
        }


def check_step(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn | None = None,
    *,
    settings: LLCSettings | None = None,
    batches: Callable[[int], Batches] | None = None,
    tolerance: float = STEP_CHECK_TOLERANCE,
    progress: bool = False,
    device: torch.device | str | None = None,
) -> StepCheck:
    """λ̂ at ``settings`` and again at half the step the first estimate's draws used (MALA's
    tuned ε, else ``settings.step``), not tuned again, everything else the same; see the module
    docstring. The model is not changed."""
    settings = settings or LLCSettings()
    kwargs: dict[str, Any] = {"batches": batches, "progress": progress, "device": device}
    at_step = estimate_llc(model, data, loss_fn, settings=settings, **kwargs)
    half = replace(at_step.settings, step=at_step.step_used / 2, adapt_step=False)
    at_half = estimate_llc(model, data, loss_fn, settings=half, **kwargs)
    return StepCheck(at_step, at_half, tolerance)
