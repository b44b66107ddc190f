"""What the pipeline minimises, in bits: a model's two-part length at a step, and α from it.

**α from the description length.** The two-part length of n targets, divided by n and taken in
nats, is

    L / (n · log2 e) = mean −ln p_θ(y_i | x_i) + (c · ln 2 / n) · ‖θ‖₀ + const,

where c is what the weight codec pays per nonzero weight (bits). DRR's penalty α·Σ(1 − e^(−β|θ|))
and PMMP's α·Σγ are smooth stand-ins for α·‖θ‖₀ added to the mean loss, so

    α* = c · ln 2 / n

is the strength at which training minimises (a smooth version of) the description length
itself: :func:`description_length_alpha`. c is measured, not assumed
(:func:`codec_bits_per_nonzero`). R-L1's α·Σ|θ| is no L0 penalty; it gets the same α, a
starting point for a selection (:mod:`mdlkit.codes.selection`) rather than a derivation.

**The length at a step.** :func:`two_part_bits` is the weight file's real length plus the ideal
data bits under the quantized model: what the pruning threshold and the quantization step of
:func:`mdlkit.training.shortest_model` minimise.

>>> round(description_length_alpha(1000, 12.0), 6)  # 12 · ln 2 / 1000
0.008318
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mdlkit.bits import LN2
from mdlkit.coding.weights import encode_model
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import GaussianHead, Head
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.quantize import quantize_model
from mdlkit.pruning.tamade import magnitude_prune

__all__ = [
    "REFERENCE_DENSITY",
    "codec_bits_per_nonzero",
    "description_length_alpha",
    "two_part_bits",
]

REFERENCE_DENSITY = 0.1
"""The fraction of weights kept when c is measured (a regularized model keeps 2–15 %)."""
_REFERENCE_LEVELS = 16
"""Grid steps per RMS of the kept weights when c is measured (about 4 bits of precision)."""


def description_length_alpha(n: int, bits_per_nonzero: float) -> float:
    """α* = c · ln 2 / n: the per-sample strength whose penalty α·‖θ‖₀ equals, in nats per
    sample, the c bits each nonzero weight costs in the weight file (see the module docstring)."""
    if n < 1:
        raise MdlkitError(f"α from the description length needs n >= 1 samples, got {n}")
    if not bits_per_nonzero > 0:
        raise MdlkitError(f"the cost per nonzero weight must be > 0 bits, got {bits_per_nonzero}")
    return bits_per_nonzero * LN2 / n


@torch.no_grad()
def codec_bits_per_nonzero(
    model: nn.Module, spec: ModelSpec, *, density: float = REFERENCE_DENSITY
) -> float:
    """c: the weight codec's payload bits per nonzero weight, measured on ``model`` as a
    regularized model would look — the largest ``density`` fraction of its weights kept, on a
    grid of RMS(kept)/16 — by encoding it for real. Mask and value bits both count; the
    architecture and header do not (they do not grow with ‖θ‖₀). ``model`` is not changed.

    Measured on an initialised model (before any training), so α can be set before training.
    """
    if not 0 < density <= 1:
        raise MdlkitError(f"the reference density must lie in (0, 1], got {density}")
    probe = copy.deepcopy(model)
    magnitudes = torch.cat([p.detach().abs().flatten() for p in probe.parameters()])
    if magnitudes.numel() == 0 or float(magnitudes.max()) == 0:
        raise MdlkitError("cannot measure the cost per weight of a model whose weights are all 0")
    keep = max(1, round(density * magnitudes.numel()))
    threshold = float(torch.topk(magnitudes.double(), keep).values[-1])
    magnitude_prune(probe, threshold)
    kept = magnitudes[magnitudes >= threshold].double()
    step = float(kept.pow(2).mean().sqrt()) / _REFERENCE_LEVELS
    quantize_model(probe, step)
    encoded = encode_model(probe, spec, step)
    if encoded.nonzero == 0:
        raise MdlkitError("cannot measure the cost per weight: no weight survived quantization")
    return encoded.length.parts["payload"] / encoded.nonzero


def two_part_bits(
    model: nn.Module,
    spec: ModelSpec,
    step: float,
    head: Head,
    data: Split,
) -> float:
    """An estimate of the two-part length in bits, fast enough to search with: the weight
    codec's real description length of ``model`` at ``step`` plus the ideal data bits
    Σ −log2 p(y_i | x_i) under the model QUANTIZED at that step (the range coder adds at most
    a few dozen bits to those). A Gaussian head codes with σ refit to the RMS residual, and
    pays 32 bits for it, as :func:`~mdlkit.codes.two_part_code` does. ``model`` is not changed.
    """
    quantized = copy.deepcopy(model)
    quantize_model(quantized, step)
    model_bits = encode_model(quantized, spec, step).length.total
    if isinstance(head, GaussianHead):
        sigma = head.refit_sigma(quantized, data)
        return (
            model_bits + 32.0 + float(head.with_sigma(sigma).bits(quantized, data.x, data.y).sum())
        )
    return model_bits + float(head.bits(quantized, data.x, data.y).sum())
