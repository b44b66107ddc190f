"""Regularizers as composable objects: DRR, schedules, ``chain`` and ``masked``."""

from mdlkit.regularizers.base import Chain, Masked, NamedParams, Regularizer, chain, masked
from mdlkit.regularizers.drr import DRR
from mdlkit.regularizers.schedules import (
    Constant,
    LinearWarmup,
    Schedule,
    StepSchedule,
    Strength,
    as_schedule,
)

__all__ = [
    "DRR",
    "Chain",
    "Constant",
    "LinearWarmup",
    "Masked",
    "NamedParams",
    "Regularizer",
    "Schedule",
    "StepSchedule",
    "Strength",
    "as_schedule",
    "chain",
    "masked",
]
