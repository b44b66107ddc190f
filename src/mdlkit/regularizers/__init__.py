"""Regularizers as composable objects: DRR, R-L1, L2, PMMP (+FPP), schedules, chain, masked;
methods by name through :class:`RegularizerSpec`; which parameters of any module they act on
(:mod:`~mdlkit.regularizers.layers`)."""

from mdlkit.regularizers.base import (
    Chain,
    Masked,
    NamedParams,
    Regularizer,
    chain,
    layer_factors,
    masked,
)
from mdlkit.regularizers.drr import DRR
from mdlkit.regularizers.l1 import L1, L2
from mdlkit.regularizers.layers import LAYERS, REGULARIZE, layer_weights, restrict
from mdlkit.regularizers.pmmp import PMMP
from mdlkit.regularizers.registry import METHODS, RegularizerSpec
from mdlkit.regularizers.schedules import (
    Constant,
    LinearRamp,
    LinearWarmup,
    Schedule,
    StepSchedule,
    Strength,
    as_schedule,
)

__all__ = [
    "DRR",
    "L1",
    "L2",
    "LAYERS",
    "METHODS",
    "PMMP",
    "REGULARIZE",
    "Chain",
    "Constant",
    "LinearRamp",
    "LinearWarmup",
    "Masked",
    "NamedParams",
    "Regularizer",
    "RegularizerSpec",
    "Schedule",
    "StepSchedule",
    "Strength",
    "as_schedule",
    "chain",
    "layer_factors",
    "layer_weights",
    "masked",
    "restrict",
]
