"""Quantization to a global grid q · Δ, and the largest step Δ a loss tolerance allows.

Every parameter θ becomes θ̂ = q · Δ with the integer q = round(θ / Δ); entries with q = 0 are
pruned. The weight codec stores the q's, so encoder and decoder both compute θ̂ with
:func:`dequantize` and get the same float32 weights bit for bit.

>>> import torch
>>> q = grid_indices(torch.tensor([0.26, -0.04, 0.9]), 0.25)
>>> q.tolist(), dequantize(q, 0.25).tolist()
([1, 0, 4], [0.25, 0.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.pruning.search import Score, Snapshot, cheapest, largest_accepted

__all__ = [
    "STEPS_PER_OCTAVE",
    "cheapest_step",
    "choose_step",
    "dequantize",
    "grid_indices",
    "grid_step",
    "quantize_model",
    "step_exponent",
]

# The step search spans 24 octaves below max|θ|: float32 has 24 significand bits, so a finer
# grid cannot change any weight.
_OCTAVES = 24.0


def grid_indices(values: torch.Tensor, step: float) -> torch.Tensor:
    """Integer grid indices q = round(θ / Δ) (float64 division, so Δ's rounding is irrelevant)."""
    return torch.round(values.detach().to(torch.float64) / step).to(torch.int64)


def dequantize(q: torch.Tensor, step: float) -> torch.Tensor:
    """θ̂ = q · Δ in float32; encoder and decoder both call exactly this."""
    return q.to(torch.float32) * torch.tensor(step, dtype=torch.float32)


@torch.no_grad()
def quantize_model(model: nn.Module, step: float) -> None:
    """Replace every parameter by its grid value q · Δ in place (small ones become 0)."""
    if not step > 0:
        raise MdlkitError(f"quantization step must be > 0, got {step}")
    for p in model.parameters():
        p.copy_(dequantize(grid_indices(p, step), step))


def _float32_step(log_step: float) -> float:
    # float32, so that the header's value is exactly the step that was tested
    return float(np.float32(2.0**log_step))


def choose_step(
    model: nn.Module,
    score: Callable[[nn.Module], Score],
    *,
    delta: float = 0.005,
    iterations: int = 30,
) -> float:
    """The largest step Δ with loss(quantized) ≤ (1 + δ) · loss(model), by bisection on log2 Δ.

    Searched in [max|θ| · 2⁻²⁴, max|θ|]: the top is tested first, then ``iterations`` halvings of
    the log interval (each step rounded to float32 before it is tried); if even the finest step
    fails, the finest is returned. The model is left as it was.
    """
    if not delta >= 0:
        raise MdlkitError(f"quantization tolerance must be >= 0, got {delta}")
    snapshot = Snapshot(model)
    reference = score(model).loss
    top = snapshot.max_abs
    if top == 0:
        return 1.0

    def accept(log_step: float) -> bool:
        step = _float32_step(log_step)
        loss = snapshot.score_change(lambda m: quantize_model(m, step), score).loss
        return loss <= (1.0 + delta) * reference

    hi = np.log2(top)  # np.float64, as the search has always computed it
    if accept(hi):
        return _float32_step(hi)
    return _float32_step(largest_accepted(accept, hi - _OCTAVES, hi, max_steps=iterations))


STEPS_PER_OCTAVE = 4
"""The code-length search tries steps on the global grid Δ = 2^(e/4), e an integer, so that a
weight file can send such a step as the small integer e (:func:`step_exponent`)."""


def grid_step(exponent: int) -> float:
    """Δ = 2^(e/4), rounded to float32: the step that exponent e stands for, on both sides.

    >>> grid_step(-8), grid_step(0)
    (0.25, 1.0)
    """
    return float(np.float32(2.0 ** (exponent / STEPS_PER_OCTAVE)))


def step_exponent(step: float) -> int | None:
    """e with :func:`grid_step` (e) == ``step``, or None if the step is not on that grid.

    >>> step_exponent(0.25), step_exponent(0.3)
    (-8, None)
    """
    if not 0 < step < float("inf"):
        return None
    e = round(STEPS_PER_OCTAVE * float(np.log2(step)))
    return e if grid_step(e) == step else None


def cheapest_step(
    model: nn.Module,
    cost: Callable[[nn.Module, float], float],
    *,
    patience: int = 3,
) -> tuple[float, float]:
    """The step Δ that minimises ``cost(quantized model, Δ)`` (a description length in bits),
    and that smallest cost.

    Why: a coarser grid makes every weight cheaper to send and the predictions worse; the
    two-part length weighs both in the same unit, where a loss tolerance (:func:`choose_step`)
    means little once the loss is near zero. The steps tried are :func:`grid_step` (e): first
    every 4th e (whole octaves) from the one just above max|θ| downwards, until ``patience``
    octaves past the best so far and ``patience`` octaves below the median nonzero |θ| (at most
    24 octaves), then the three quarter octaves on either side of the best. The model is left
    as it was.
    """
    snapshot = Snapshot(model)
    top = snapshot.max_abs
    if top == 0:  # nothing to quantize: any step gives the same model
        return 1.0, cost(model, 1.0)
    first = int(np.ceil(STEPS_PER_OCTAVE * np.log2(top)))

    def cost_at(e: int) -> float:
        step = grid_step(e)
        return snapshot.score_change(lambda m: quantize_model(m, step), lambda m: cost(m, step))

    # Never stop above the typical weight, nor within ``patience`` octaves below it: the largest
    # |θ| (a LayerNorm gain near 1, say) can sit octaves above the rest, and every step down to
    # about the median |θ| rounds much of the bulk to zero or to a neighbouring value — a model
    # that predicts confidently and wrongly, worse than the all-zero one, which patience alone
    # would take for the far side (a byte transformer with max|θ| ≈ 11 was once coded as the
    # all-zero model at 8 bits per byte that way).
    floor = snapshot.median_nonzero_abs / 2**patience
    best, best_cost = first, cost_at(first)
    e = first - STEPS_PER_OCTAVE
    while e >= first - _OCTAVES * STEPS_PER_OCTAVE and (
        e >= best - patience * STEPS_PER_OCTAVE or grid_step(e) > floor
    ):
        c = cost_at(e)
        if c < best_cost:
            best, best_cost = e, c
        e -= STEPS_PER_OCTAVE
    around = [best + d for d in range(-STEPS_PER_OCTAVE + 1, STEPS_PER_OCTAVE) if d]
    best, best_cost = cheapest(cost_at, [best, *around])
    return grid_step(best), best_cost
