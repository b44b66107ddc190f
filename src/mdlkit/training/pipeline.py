"""The one pipeline from an initialised model to the model that is coded (methods.md).

1. Training until the validation objective saturates (or ``max_epochs``): with a regularizer
   (DRR, R-L1, PMMP) the phase is ``regularized``, without one ``plain``.
2. If ``config.finetune`` is given: random gradient pruning → a threshold (the shortest two-part
   code, or TAMADE's tolerance) → random gradient pruning → mask frozen → fine-tuning without
   any penalty (:func:`~mdlkit.training.pruning.prune_and_finetune`).
3. The quantization step: the one of the shortest two-part code (``quant_mode="codelength"``,
   :func:`~mdlkit.pruning.cheapest_step` over :func:`~mdlkit.training.costs.two_part_bits`), or
   the largest within a validation-loss tolerance.
4. If ``config.grid`` is given: fine-tuning through the rounding to that step (straight through,
   :class:`~mdlkit.training.QuantizedForward`), the mask still frozen.

With ``config.distill`` (a teacher's soft labels, :mod:`mdlkit.training.distill`) every training
phase trains on them beside the true labels; the pruning threshold, the step and every length
in bits still use the true labels alone (the teacher is a training aid, not part of the code).

Every caller — ``fit``, ``select``, the experiments and the compressor's two-part mode — passes
its settings here; the costs it minimises are computed here, from the model's spec, its head and
the training split, so no caller hands a closure down. With a ``checkpoint_dir`` every phase
checkpoints (``regularized.pt`` or ``plain.pt``, ``pruned.pt``, ``finetuned.pt``, ``grid.pt``):
a killed run called again with the same arguments resumes where it stopped and ends with the
same weights as an uninterrupted run. ``device`` and ``parallel`` go to every training phase;
in a data-parallel run the pruning threshold and the step are rank 0's, broadcast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from torch import nn

from mdlkit.data.splits import Splits
from mdlkit.heads import Head, evaluate
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.quantize import cheapest_step, choose_step
from mdlkit.regularizers.base import Regularizer
from mdlkit.training.costs import two_part_bits
from mdlkit.training.distill import Distillation
from mdlkit.training.distributed import DataParallel
from mdlkit.training.loop import train
from mdlkit.training.pruning import PruneConfig, PruneResult, prune_and_finetune
from mdlkit.training.quantized import QuantizedForward
from mdlkit.training.state import TrainConfig, TrainResult

__all__ = ["PipelineConfig", "PipelineResult", "shortest_model", "step_and_bits"]

T = TypeVar("T")
Wrap = Callable[[nn.Module], nn.Module]


@dataclass(frozen=True)
class PipelineConfig:
    """The phases of :func:`shortest_model` and their settings.

    Attributes:
        train: the first phase (regularized, or plain without a regularizer).
        finetune: fine-tuning after pruning; ``None``: no pruning at all.
        prune: how the threshold is found (``mode="codelength"``: the shortest two-part code).
        quant_mode: ``"codelength"``: the step of the shortest two-part code; ``"tolerance"``:
            the largest step whose validation loss is within ``quant_tolerance`` (relative).
        quant_tolerance: the relative loss tolerance of ``quant_mode="tolerance"``.
        grid: fine-tuning on the quantization grid; ``None``: none.
        distill: a teacher's soft labels on the training split, trained on in every phase;
            ``None``: the true labels alone.
    """

    train: TrainConfig
    finetune: TrainConfig | None = None
    prune: PruneConfig = field(default_factory=PruneConfig)
    quant_mode: Literal["codelength", "tolerance"] = "codelength"
    quant_tolerance: float = 0.005
    grid: TrainConfig | None = None
    distill: Distillation | None = None


@dataclass
class PipelineResult:
    """What the pipeline did: each training phase's log (``regularized`` or ``plain``, then
    ``finetuned`` and ``grid`` where they ran), the pruning outcome, the quantization step Δ and
    the two-part length in bits (:func:`~mdlkit.training.costs.two_part_bits`) it was chosen
    with, before any fine-tuning on the grid."""

    phases: dict[str, TrainResult]
    pruning: PruneResult | None
    step: float
    step_bits: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "phases": {name: phase.to_dict() for name, phase in self.phases.items()},
            "pruning": self.pruning.to_dict() if self.pruning is not None else None,
            "step": self.step,
            "step_bits": self.step_bits,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PipelineResult:
        pruning = values["pruning"]
        return cls(
            {name: TrainResult.from_dict(v) for name, v in values["phases"].items()},
            PruneResult.from_dict(pruning) if pruning is not None else None,
            float(values["step"]),
            float(values["step_bits"]),
        )


def step_and_bits(
    model: nn.Module,
    spec: ModelSpec,
    splits: Splits,
    head: Head,
    mode: Literal["codelength", "tolerance"] = "codelength",
    tolerance: float = 0.005,
) -> tuple[float, float]:
    """The quantization step Δ of ``model`` and its two-part length in bits at Δ (the training
    targets under ``head``): the step of the shortest code, or the largest step within the
    validation-loss ``tolerance``. ``model`` is not changed."""

    def bits_at(m: nn.Module, step: float) -> float:
        return two_part_bits(m, spec, step, head, splits.train)

    if mode == "codelength":
        return cheapest_step(model, bits_at)
    step = choose_step(model, lambda m: evaluate(m, splits.val), delta=tolerance)
    return step, bits_at(model, step)


def shortest_model(
    model: nn.Module,
    spec: ModelSpec,
    splits: Splits,
    head: Head,
    regularizer: Regularizer | None,
    config: PipelineConfig,
    *,
    checkpoint_dir: str | Path | None = None,
    progress: bool = False,
    device: torch.device | str | None = None,
    parallel: DataParallel | None = None,
    wrap_model: Wrap | None = None,
) -> PipelineResult:
    """Run the pipeline (see the module docstring) on ``model`` in place: at the end its
    weights are those to quantize at ``result.step`` and code.

    ``head`` is the loss of every phase and the distribution of the data part of every length
    the pipeline minimises; ``spec`` is what the weight codec writes. ``wrap_model`` wraps the
    forward pass of every phase (e.g. bf16 autocast); the grid phase wraps the quantized model.
    """
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    first = "regularized" if regularizer is not None else "plain"
    # What the training phases fit: the true labels, or beside them a teacher's soft labels.
    train_split, train_loss = splits.train, head
    if config.distill is not None:
        train_split, train_loss = config.distill.targets(splits.train), config.distill.loss(head)
    phases = {
        first: train(
            model,
            train_split,
            splits.val,
            config.train,
            regularizer=regularizer,
            loss_fn=train_loss,
            checkpoint=folder / f"{first}.pt" if folder else None,
            progress=progress,
            description=first,
            device=device,
            parallel=parallel,
            wrap_model=wrap_model,
        )
    }

    def measure(m: nn.Module) -> tuple[float, float]:
        return step_and_bits(m, spec, splits, head, config.quant_mode, config.quant_tolerance)

    pruning: PruneResult | None = None
    if config.finetune is not None:
        pruning, phases["finetuned"] = prune_and_finetune(
            model, splits, config.finetune, config.prune, loss_fn=train_loss, folder=folder,
            train_split=train_split,
            progress=progress, device=device, parallel=parallel, wrap_model=wrap_model,
            # each pruned version at the step that suits IT: one step chosen on the unpruned
            # model would be far too coarse for a model with a few weights left
            cost=lambda m: measure(m)[1],
        )  # fmt: skip
    step, bits = _on_main(parallel, lambda: measure(model))
    if config.grid is not None:
        # The step is often coarse; fine-tuning through the rounding recovers what it costs.
        def on_grid(m: nn.Module) -> nn.Module:
            quantized = QuantizedForward(m, step)
            return wrap_model(quantized) if wrap_model is not None else quantized

        phases["grid"] = train(
            model,
            train_split,
            splits.val,
            config.grid,
            mask=pruning.mask if pruning is not None else None,
            loss_fn=train_loss,
            checkpoint=folder / "grid.pt" if folder else None,
            progress=progress,
            description="on the grid",
            wrap_model=on_grid,
            device=device,
            parallel=parallel,
        )
    return PipelineResult(phases, pruning, step, bits)


def _on_main(parallel: DataParallel | None, compute: Callable[[], T]) -> T:
    """``compute()`` here, or on rank 0 of a data-parallel run with the result broadcast."""
    return compute() if parallel is None else parallel.on_main(compute)
