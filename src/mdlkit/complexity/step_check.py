"""Is λ̂ reliable at this step? A self-check that needs no true λ: halve the step and look again.

SGLD with step ε samples a distorted posterior; the distortion grows with ε times the curvature,
and it shows as a λ̂ that overshoots (on deep linear networks of three and four layers the
default ε = 1e-4 gave +12 … +18 % where the two-layer toys it was tuned on gave ±7 %). If ε is
small enough, the same number of steps at ε/2 gives the same λ̂ up to the chains' spread; if it
does not, the estimate at ε carries the step's bias. :func:`check_step` estimates λ̂ at ε and at
ε/2 (same chains, burn-in and draws) and reports the relative gap

    gap = |λ̂(ε) − λ̂(ε/2)| / λ̂(ε/2).

Above ``threshold`` (default 8 %) the check warns with the size of the disagreement, and the
estimate to use is the one at ε/2 (``StepCheck.chosen``): halving moved it toward the truth on
every deep linear network of ``benchmarks/results/llc_step_check.md``. It costs a second
estimate.

>>> import torch
>>> from mdlkit.data import Split
>>> x = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
>>> model = torch.nn.Linear(3, 1, bias=False)
>>> settings = LLCSettings(step=1e-4, chains=1, burn_in=10, draws=40)
>>> check = check_step(model, Split(x, x @ torch.ones(3, 1)), settings=settings)
>>> check.at_half.settings.step
5e-05
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from mdlkit.complexity.llc import LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.training.batches import Batches

__all__ = ["STEP_CHECK_THRESHOLD", "StepCheck", "check_step"]

STEP_CHECK_THRESHOLD = 0.08
"""The relative gap between λ̂(ε) and λ̂(ε/2) above which the estimate at ε is called biased."""


@dataclass(frozen=True)
class StepCheck:
    """λ̂ at the step ε and at ε/2, their relative gap, and which estimate to use."""

    at_step: LLCResult
    at_half: LLCResult
    threshold: float = STEP_CHECK_THRESHOLD

    @property
    def gap(self) -> float:
        """|λ̂(ε) − λ̂(ε/2)| / |λ̂(ε/2)| (inf when λ̂(ε/2) is 0)."""
        a, b = self.at_step.llc, self.at_half.llc
        return abs(a - b) / abs(b) if b != 0 else math.inf

    @property
    def reliable(self) -> bool:
        return self.gap <= self.threshold

    @property
    def chosen(self) -> LLCResult:
        """The estimate at ε when the check passes, else the one at ε/2 (less step bias)."""
        return self.at_step if self.reliable else self.at_half

    def warning(self) -> str | None:
        """One line with the size of the disagreement, or None when the check passes."""
        if self.reliable:
            return None
        step = self.at_step.settings.step
        return (
            f"λ̂ moves by {100 * self.gap:.0f} % when the step is halved "
            f"({self.at_step.llc:.3f} at ε = {step:g}, {self.at_half.llc:.3f} at {step / 2:g}): "
            f"the estimate at ε is biased by its step; the one at {step / 2:g} is reported "
            f"(check it with --step {step / 4:g})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "llc_at_step": self.at_step.llc,
            "llc_at_half_step": self.at_half.llc,
            "gap": self.gap,
            "threshold": self.threshold,
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
    threshold: float = STEP_CHECK_THRESHOLD,
    progress: bool = False,
    device: torch.device | str | None = None,
) -> StepCheck:
    """λ̂ at ``settings.step`` and at half of it (everything else the same; see the module
    docstring). The model is not changed."""
    settings = settings or LLCSettings()
    kwargs: dict[str, Any] = {
        "settings": settings, "batches": batches, "progress": progress, "device": device,
    }  # fmt: skip
    at_step = estimate_llc(model, data, loss_fn, **kwargs)
    kwargs["settings"] = replace(settings, step=settings.step / 2)
    at_half = estimate_llc(model, data, loss_fn, **kwargs)
    return StepCheck(at_step, at_half, threshold)
