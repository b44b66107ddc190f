"""Pruning, the middle of the pipeline (methods.md): random gradient → TAMADE → random gradient,
the mask frozen, then fine-tuning with it (:func:`prune_and_finetune`).

The whole road from an initialised model to the one that is coded is
:func:`mdlkit.training.shortest_model` (:mod:`mdlkit.training.pipeline`); this module holds its
pruning phase. In a data-parallel run pruning happens on rank 0 (which alone reads and writes
``pruned.pt``) and its weights and mask are broadcast, so every rank fine-tunes the same pruned
model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mdlkit.data.splits import Split, Splits
from mdlkit.errors import MdlkitError
from mdlkit.heads import Head, evaluate
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.pruning.random_gradient import random_gradient_prune
from mdlkit.pruning.tamade import TamadeResult, codelength_threshold, tamade
from mdlkit.training.checkpoint import load_checkpoint, save_checkpoint
from mdlkit.training.distributed import DataParallel
from mdlkit.training.loop import train
from mdlkit.training.state import TrainConfig, TrainResult

__all__ = ["PruneConfig", "PruneResult", "prune", "prune_and_finetune"]


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
    Random gradient pruning sees ``random_batch`` random inputs and, besides them, up to
    ``random_batch`` training and as many validation samples (the ``inputs`` of
    :func:`~mdlkit.pruning.random_gradient_prune`): up to three times the random batch a call.

    TAMADE scores with the plain data loss (cross-entropy, or ½·MSE for regression), which is
    positive, as its relative tolerance requires. In ``codelength`` mode the threshold minimises
    ``cost`` (bits of a pruned version of the model, e.g. its two-part length at the best step
    for that version) instead; the validation scores are only recorded.
    """
    config = config or PruneConfig()
    if config.mode == "codelength" and cost is None:
        raise MdlkitError("pruning by code length needs a cost function (bits of a model)")
    before = count_nonzero(model)
    # Real samples beside the random ones: a unit live on the data is never cut as dangling.
    real = torch.cat([splits.train.x[: config.random_batch], splits.val.x[: config.random_batch]])
    random_gradient_prune(
        model,
        splits.input_shape,
        batch_size=config.random_batch,
        seed=config.seed,
        vocab_size=splits.vocab_size,
        inputs=real,
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
        inputs=real,
    )
    return PruneResult(mask, result, before, count_nonzero(model))


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
    wrap_model: Callable[[nn.Module], nn.Module] | None = None,
    train_split: Split | None = None,
) -> tuple[PruneResult, TrainResult]:
    """The pipeline's second half on a trained ``model``, in place: :func:`prune`, zero the
    pruned entries, then fine-tune with the mask frozen (checkpoints in ``folder`` if given) on
    ``train_split`` (default ``splits.train``; e.g. with a teacher's soft labels for
    ``loss_fn``). Pruning itself scores on ``splits`` with the true labels."""
    pruned = _prune_with_checkpoint(
        model, splits, prune_config, folder / "pruned.pt" if folder else None, cost, parallel
    )
    with torch.no_grad():
        pruned.mask.apply(model)
    finetuned = train(
        model,
        train_split if train_split is not None else splits.train,
        splits.val,
        finetune_config,
        mask=pruned.mask,
        loss_fn=loss_fn,
        checkpoint=folder / "finetuned.pt" if folder else None,
        progress=progress,
        description="fine-tune",
        device=device,
        parallel=parallel,
        wrap_model=wrap_model,
    )
    return pruned, finetuned
