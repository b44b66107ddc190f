"""Pruning: masks, TAMADE thresholds, random gradient pruning and layerwise pruning."""

from mdlkit.pruning.layerwise import LayerReport, layerwise_prune
from mdlkit.pruning.masks import Mask, count_nonzero, count_parameters
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.tamade import TamadeResult, magnitude_prune, tamade

__all__ = [
    "LayerReport",
    "Mask",
    "TamadeResult",
    "count_nonzero",
    "count_parameters",
    "layerwise_prune",
    "magnitude_prune",
    "random_gradient_prune",
    "tamade",
]
