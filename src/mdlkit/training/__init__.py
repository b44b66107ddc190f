"""Training: the loop and its pieces (optimizer, batches, callbacks, checkpoints), the stopping
rule, the one pipeline (train → prune → fine-tune → the step of the shortest code → fine-tune on
its grid; optionally on a teacher's soft labels too) and what it minimises in bits, and
next-token models on a byte string."""

from mdlkit.stopping import LossSaturation, epanechnikov_smooth, is_saturated
from mdlkit.training.batches import Batch, Batches, ShuffledBatches
from mdlkit.training.callbacks import Callback, Checkpointer, EpochLogger, ProgressBar
from mdlkit.training.costs import (
    codec_bits_per_nonzero,
    description_length_alpha,
    two_part_bits,
)
from mdlkit.training.distill import (
    Distillation,
    DistillationLoss,
    soft_label_loss,
    teacher_log_probs,
)
from mdlkit.training.distributed import ShardedBatches, is_main_process
from mdlkit.training.loop import train
from mdlkit.training.optimizers import OptimizerFactory, fused_adam
from mdlkit.training.pipeline import (
    PipelineConfig,
    PipelineResult,
    shortest_model,
    step_and_bits,
)
from mdlkit.training.pruning import PruneConfig, PruneResult, prune, prune_and_finetune
from mdlkit.training.quantized import QuantizedForward
from mdlkit.training.sequence import (
    TrainedByteModel,
    byte_model_setup,
    byte_regularizer,
    precision_wrapper,
    train_byte_model,
)
from mdlkit.training.state import EpochLog, TrainConfig, TrainResult, TrainState

__all__ = [
    "Batch",
    "Batches",
    "Callback",
    "Checkpointer",
    "Distillation",
    "DistillationLoss",
    "EpochLog",
    "EpochLogger",
    "LossSaturation",
    "OptimizerFactory",
    "PipelineConfig",
    "PipelineResult",
    "ProgressBar",
    "PruneConfig",
    "PruneResult",
    "QuantizedForward",
    "ShardedBatches",
    "ShuffledBatches",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "TrainedByteModel",
    "byte_model_setup",
    "byte_regularizer",
    "codec_bits_per_nonzero",
    "description_length_alpha",
    "epanechnikov_smooth",
    "fused_adam",
    "is_main_process",
    "is_saturated",
    "precision_wrapper",
    "prune",
    "prune_and_finetune",
    "shortest_model",
    "soft_label_loss",
    "step_and_bits",
    "teacher_log_probs",
    "train",
    "train_byte_model",
    "two_part_bits",
]
