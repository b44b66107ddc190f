"""The pipeline every method shares (methods.md): regularize → prune → fine-tune.

1. Regularized training until the validation objective saturates (or ``max_epochs``).
2. Random gradient pruning → TAMADE threshold → random gradient pruning → freeze the mask.
3. Fine-tuning without any penalty, mask frozen, same stopping rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from torch import nn

from mdlkit.data.splits import Splits
from mdlkit.evaluation import evaluate
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.tamade import TamadeResult, tamade
from mdlkit.regularizers.base import Regularizer
from mdlkit.training.loop import TrainConfig, TrainResult, train

__all__ = ["PipelineResult", "PruneConfig", "PruneResult", "prune", "regularize_prune_finetune"]


@dataclass(frozen=True)
class PruneConfig:
    """Settings of the pruning step: TAMADE's mode and tolerance, the random-gradient batch."""

    mode: Literal["relative", "absolute"] = "relative"
    delta: float = 0.01
    max_accuracy_drop: float = 0.002
    random_batch: int = 1024
    seed: int = 0


@dataclass(frozen=True)
class PruneResult:
    """The frozen mask, the TAMADE outcome, and nonzero counts around each step."""

    mask: Mask
    tamade: TamadeResult
    nonzero_before: int
    nonzero_after: int


def prune(model: nn.Module, splits: Splits, config: PruneConfig | None = None) -> PruneResult:
    """Random gradient pruning → TAMADE → random gradient pruning, in place; returns the mask."""
    config = config or PruneConfig()
    before = count_nonzero(model)
    random_gradient_prune(
        model, splits.input_shape, batch_size=config.random_batch, seed=config.seed
    )
    result = tamade(
        model,
        lambda m: evaluate(m, splits.val),
        mode=config.mode,
        delta=config.delta,
        max_accuracy_drop=config.max_accuracy_drop,
    )
    mask = random_gradient_prune(
        model,
        splits.input_shape,
        mask=Mask.from_nonzero(model),
        batch_size=config.random_batch,
        seed=config.seed + 1,
    )
    return PruneResult(mask, result, before, count_nonzero(model))


@dataclass
class PipelineResult:
    """The three phases' outcomes."""

    regularized: TrainResult
    pruning: PruneResult
    finetuned: TrainResult
    extra: dict[str, object] = field(default_factory=dict)


def regularize_prune_finetune(
    model: nn.Module,
    splits: Splits,
    regularizer: Regularizer | None,
    train_config: TrainConfig,
    finetune_config: TrainConfig,
    prune_config: PruneConfig | None = None,
    *,
    progress: bool = False,
) -> PipelineResult:
    """Run the whole pipeline on ``model`` in place."""
    regularized = train(
        model,
        splits.train,
        splits.val,
        train_config,
        regularizer=regularizer,
        progress=progress,
        description="regularized",
    )
    pruned = prune(model, splits, prune_config)
    finetuned = train(
        model,
        splits.train,
        splits.val,
        finetune_config,
        mask=pruned.mask,
        progress=progress,
        description="fine-tune",
    )
    return PipelineResult(regularized, pruned, finetuned)
