"""Regularizers as composable objects: DRR, R-L1, L2, PMMP (+FPP), schedules, chain, masked."""

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
    "PMMP",
    "Chain",
    "Constant",
    "LinearRamp",
    "LinearWarmup",
    "Masked",
    "NamedParams",
    "Regularizer",
    "Schedule",
    "StepSchedule",
    "Strength",
    "as_schedule",
    "chain",
    "layer_factors",
    "masked",
]
