"""Regularizers as composable objects: DRR, R-L1, L2, PMMP (+FPP), schedules, chain, masked;
methods by name through :class:`RegularizerSpec`."""

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
    "METHODS",
    "PMMP",
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
    "masked",
]
