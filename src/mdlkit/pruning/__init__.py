"""Pruning: masks, quantization, TAMADE thresholds, random gradient and layerwise pruning.

TAMADE's threshold and the quantization step are found by the same tolerance search
(:mod:`mdlkit.pruning.search`); a score is anything with ``loss`` and ``accuracy``.
"""

from mdlkit.pruning.layerwise import LayerReport, layerwise_prune
from mdlkit.pruning.masks import Mask, count_nonzero, count_parameters
from mdlkit.pruning.quantize import choose_step, dequantize, grid_indices, quantize_model
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.search import LossAccuracy, Score, Snapshot, largest_accepted
from mdlkit.pruning.tamade import TamadeResult, magnitude_prune, tamade

__all__ = [
    "LayerReport",
    "LossAccuracy",
    "Mask",
    "Score",
    "Snapshot",
    "TamadeResult",
    "choose_step",
    "count_nonzero",
    "count_parameters",
    "dequantize",
    "grid_indices",
    "largest_accepted",
    "layerwise_prune",
    "magnitude_prune",
    "quantize_model",
    "random_gradient_prune",
    "tamade",
]
