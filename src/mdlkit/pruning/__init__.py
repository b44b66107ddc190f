"""Pruning: masks, TAMADE thresholds and random gradient pruning."""

from mdlkit.pruning.masks import Mask, count_nonzero, count_parameters
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.tamade import TamadeResult, magnitude_prune, tamade

__all__ = [
    "Mask",
    "TamadeResult",
    "count_nonzero",
    "count_parameters",
    "magnitude_prune",
    "random_gradient_prune",
    "tamade",
]
