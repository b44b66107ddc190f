"""Training: the loop, the stopping rule and the regularize → prune → fine-tune pipeline."""

from mdlkit.training.loop import EpochLog, TrainConfig, TrainResult, train
from mdlkit.training.pipeline import (
    PipelineResult,
    PruneConfig,
    PruneResult,
    prune,
    regularize_prune_finetune,
)
from mdlkit.training.stopping import LossSaturation, epanechnikov_smooth, is_saturated

__all__ = [
    "EpochLog",
    "LossSaturation",
    "PipelineResult",
    "PruneConfig",
    "PruneResult",
    "TrainConfig",
    "TrainResult",
    "epanechnikov_smooth",
    "is_saturated",
    "prune",
    "regularize_prune_finetune",
    "train",
]
