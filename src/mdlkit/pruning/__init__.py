"""Pruning: masks, quantization, TAMADE thresholds, random gradient and layerwise pruning.

TAMADE's threshold and the quantization step are found by the same tolerance search
(:mod:`mdlkit.pruning.search`); a score is anything with ``loss`` and ``accuracy``. Or both are
chosen to minimise a cost in bits (:func:`codelength_threshold`, :func:`cheapest_step`): the
two-part length, which needs no tolerance.
"""

from mdlkit.pruning.global_magnitude import prune_to_compression_rate
from mdlkit.pruning.layerwise import LayerReport, layerwise_prune
from mdlkit.pruning.masks import Mask, count_nonzero, count_parameters
from mdlkit.pruning.quantize import (
    cheapest_step,
    choose_step,
    dequantize,
    grid_indices,
    grid_step,
    quantize_model,
    step_exponent,
)
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.search import LossAccuracy, Score, Snapshot, cheapest, largest_accepted
from mdlkit.pruning.tamade import TamadeResult, codelength_threshold, magnitude_prune, tamade

__all__ = [
    "LayerReport",
    "LossAccuracy",
    "Mask",
    "Score",
    "Snapshot",
    "TamadeResult",
    "cheapest",
    "cheapest_step",
    "choose_step",
    "codelength_threshold",
    "count_nonzero",
    "count_parameters",
    "dequantize",
    "grid_indices",
    "grid_step",
    "largest_accepted",
    "layerwise_prune",
    "magnitude_prune",
    "prune_to_compression_rate",
    "quantize_model",
    "random_gradient_prune",
    "step_exponent",
    "tamade",
]
