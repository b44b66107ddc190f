"""The pipeline every method shares (methods.md): regularize → prune → fine-tune.

1. Regularized training until the validation objective saturates (or ``max_epochs``).
2. Random gradient pruning → TAMADE threshold → random gradient pruning → freeze the mask.
3. Fine-tuning without any penalty, mask frozen, same stopping rule.

With a ``checkpoint_dir`` every phase checkpoints (``regularized.pt``, ``pruned.pt``,
``finetuned.pt``): a killed run called again with the same arguments resumes where it stopped and
ends with the same weights as an uninterrupted run.

``device`` and ``parallel`` go to both training phases (see :func:`mdlkit.training.train`); in a
data-parallel run pruning happens on rank 0 (which alone reads and writes ``pruned.pt``) and its
weights and mask are broadcast, so every rank fine-tunes the same pruned model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mdlkit.data.splits import Splits
from mdlkit.errors import MdlkitError
from mdlkit.heads import Head, evaluate
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.tamade import TamadeResult, codelength_threshold, tamade
from mdlkit.regularizers.base import Regularizer
from mdlkit.training.checkpoint import load_checkpoint, save_checkpoint
from mdlkit.training.distributed import DataParallel
from mdlkit.training.loop import train
from mdlkit.training.state import TrainConfig, TrainResult

__all__ = [
    "PipelineResult",
    "PruneConfig",
    "PruneResult",
    "prune",
    "regularize_prune_finetune",
]


@dataclass(frozen=True)
class PruneConfig:
    """Settings of the pruning step: TAMADE's mode and tolerance, the random-gradient batch.

    ``mode="codelength"`` takes the threshold that minimises a cost in bits given to
    :func:`prune` (the two-part length: see :func:`~mdlkit.pruning.codelength_threshold`);
    ``relative`` and ``absolute`` are TAMADE's tolerances on the validation loss or accuracy.
    """

    mode: Literal["codelength", "relative", "absolute"] = "relative"
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

    def to_dict(self) -> dict[str, Any]:
        """Plain values and the mask's bool tensors (a checkpoint's form)."""
        return {
            "mask": dict(self.mask.keep),
            "tamade": self.tamade.to_dict(),
            "nonzero_before": self.nonzero_before,
            "nonzero_after": self.nonzero_after,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PruneResult:
        return cls(
            Mask(values["mask"]),
            TamadeResult.from_dict(values["tamade"]),
            values["nonzero_before"],
            values["nonzero_after"],
        )


def prune(
    model: nn.Module,
    splits: Splits,
    config: PruneConfig | None = None,
    *,
    cost: Callable[[nn.Module], float] | None = None,
) -> PruneResult:
    """Random gradient pruning → TAMADE → random gradient pruning, in place; returns the mask.

    TAMADE scores with the plain data loss (cross-entropy, or ½·MSE for regression), which is
    positive, as its relative tolerance requires. In ``codelength`` mode the threshold minimises
    ``cost`` (bits of a pruned version of the model, e.g. its two-part length at the best step
    for that version) instead; the validation scores are only recorded.
    """
    config = config or PruneConfig()
    if config.mode == "codelength" and cost is None:
        raise MdlkitError("pruning by code length needs a cost function (bits of a model)")
    before = count_nonzero(model)
    random_gradient_prune(
        model,
        splits.input_shape,
        batch_size=config.random_batch,
        seed=config.seed,
        vocab_size=splits.vocab_size,
    )
    if config.mode == "codelength":
        assert cost is not None
        result = codelength_threshold(model, cost, lambda m: evaluate(m, splits.val))
    else:
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
        vocab_size=splits.vocab_size,
    )
    return PruneResult(mask, result, before, count_nonzero(model))


@dataclass
class PipelineResult:
    """The three phases' outcomes."""

    regularized: TrainResult
    pruning: PruneResult
    finetuned: TrainResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "regularized": self.regularized.to_dict(),
            "pruning": self.pruning.to_dict(),
            "finetuned": self.finetuned.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PipelineResult:
        return cls(
            TrainResult.from_dict(values["regularized"]),
            PruneResult.from_dict(values["pruning"]),
            TrainResult.from_dict(values["finetuned"]),
        )


def _prune_with_checkpoint(
    model: nn.Module,
    splits: Splits,
    config: PruneConfig | None,
    path: Path | None,
    cost: Callable[[nn.Module], float] | None,
    parallel: DataParallel | None = None,
) -> PruneResult:
    """:func:`prune`, or the pruned model and result of an earlier run from ``path``; in a
    data-parallel run on rank 0, then broadcast."""
    if parallel is not None:
        values = parallel.on_main(
            lambda: _prune_with_checkpoint(model, splits, config, path, cost).to_dict()
        )
        parallel.broadcast_module(model)
        return PruneResult.from_dict(values)
    if path is not None and path.exists():
        saved = load_checkpoint(path)
        model.load_state_dict(saved["model"])
        return PruneResult.from_dict(saved["result"])
    result = prune(model, splits, config, cost=cost)
    if path is not None:
        save_checkpoint(path, {"model": model.state_dict(), "result": result.to_dict()})
    return result


def regularize_prune_finetune(
    model: nn.Module,
    splits: Splits,
    regularizer: Regularizer | None,
    train_config: TrainConfig,
    finetune_config: TrainConfig,
    prune_config: PruneConfig | None = None,
    *,
    loss_fn: Head | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = False,
    cost: Callable[[nn.Module], float] | None = None,
    device: torch.device | str | None = None,
    parallel: DataParallel | None = None,
) -> PipelineResult:
    """Run the whole pipeline on ``model`` in place (see the module docstring);
    ``cost`` is what ``codelength`` mode prunes by (see :func:`prune`)."""
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    regularized = train(
        model,
        splits.train,
        splits.val,
        train_config,
        regularizer=regularizer,
        loss_fn=loss_fn,
        checkpoint=folder / "regularized.pt" if folder else None,
        progress=progress,
        description="regularized",
        device=device,
        parallel=parallel,
    )
    pruned, finetuned = prune_and_finetune(
        model, splits, finetune_config, prune_config, loss_fn=loss_fn, folder=folder,
        progress=progress, cost=cost, device=device, parallel=parallel,
    )  # fmt: skip
    return PipelineResult(regularized, pruned, finetuned)


def prune_and_finetune(
    model: nn.Module,
    splits: Splits,
    finetune_config: TrainConfig,
    prune_config: PruneConfig | None = None,
    *,
    loss_fn: Head | None = None,
    folder: Path | None = None,
    progress: bool = False,
    cost: Callable[[nn.Module], float] | None = None,
    device: torch.device | str | None = None,
    parallel: DataParallel | None = None,
) -> tuple[PruneResult, TrainResult]:
    """The pipeline's second half on a trained ``model``, in place: :func:`prune`, zero the
    pruned entries, then fine-tune with the mask frozen (checkpoints in ``folder`` if given)."""
    pruned = _prune_with_checkpoint(
        model, splits, prune_config, folder / "pruned.pt" if folder else None, cost, parallel
    )
    with torch.no_grad():
        pruned.mask.apply(model)
    finetuned = train(
        model,
        splits.train,
        splits.val,
        finetune_config,
        mask=pruned.mask,
        loss_fn=loss_fn,
        checkpoint=folder / "finetuned.pt" if folder else None,
        progress=progress,
        description="fine-tune",
        device=device,
        parallel=parallel,
    )
    return pruned, finetuned
