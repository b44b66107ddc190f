"""λ̂ and every compressibility measure of one model at several loss tolerances, as plain JSON.

At each tolerance ε (nats, absolute: L ≤ L_n(w*) + ε on the data): the critical quantization
bits n_q, the critical rank fraction removed, the critical pruned fraction and the weight
codec's size within ε (:mod:`mdlkit.complexity.compressibility`); beside them λ̂ ± std
(:func:`~mdlkit.complexity.llc.estimate_llc`) at the given settings.

Exactness note: the quantization search and the rank search do not depend on ε until their last
comparison (the range search minimizes the loss at each n_q; the rank search tries every
breakpoint), so both run once at the smallest ε and the measure at a larger ε is read off their
curves with the same comparison ``loss <= L(w*) + ε`` — the same numbers separate calls give.
Pruning (a bisection that depends on ε) and the codec size run once per ε.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from torch import nn

from mdlkit.complexity.compressibility import (
    coded_bits_within,
    critical_pruning_fraction,
    critical_quantization_bits,
    critical_rank_fraction,
)
from mdlkit.complexity.llc import LLCSettings, estimate_llc
from mdlkit.data import Split
from mdlkit.models import ModelSpec

__all__ = ["measure_checkpoint"]


def measure_checkpoint(
    model: nn.Module,
    data: Split,
    tolerances: Sequence[float],
    spec: ModelSpec,
    settings: LLCSettings,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """λ̂ and every compressibility measure of ``model`` (at its current weights) on ``data``,
    the training samples; plain JSON values. Bits are per weight where the key says so."""
    d = sum(p.numel() for p in model.parameters())
    started = time.perf_counter()
    llc = estimate_llc(model, data, settings=settings, progress=progress)
    llc_seconds = time.perf_counter() - started
    smallest = min(tolerances)
    quantization = critical_quantization_bits(model, data, smallest, max_bits=24)
    rank = critical_rank_fraction(model, data, smallest)
    reference = quantization.reference_loss
    per_tolerance: dict[str, dict[str, Any]] = {}
    for tolerance in tolerances:
        limit = reference + float(tolerance)  # the budget's own comparison, L ≤ L(w*) + ε
        bits = next(b for b, loss in quantization.curve if loss <= limit)
        fraction = max(f for f, loss in rank.curve if loss <= limit)
        pruning = critical_pruning_fraction(model, data, tolerance)
        coded = coded_bits_within(model, data, tolerance, spec=spec)
        per_tolerance[f"{tolerance:g}"] = {
            "bits": bits,
            "quantized_loss": dict(quantization.curve)[bits],
            "rank_fraction": fraction,
            "pruned_fraction": pruning.fraction,
            "pruning_threshold": pruning.threshold,
            "codec_bits": None if coded is None else coded.bits,
            "codec_bits_per_weight": math.nan if coded is None else coded.bits / d,
            "codec_step": None if coded is None else coded.step,
        }
    return {
        "d": d,
        "reference_loss": reference,
        "llc": llc.to_dict(),
        "llc_seconds": llc_seconds,
        "quantization_curve": [list(point) for point in quantization.curve],
        "rank_curve": [list(point) for point in rank.curve],
        "tolerances": per_tolerance,
        "seconds": time.perf_counter() - started,
    }
