"""The training loop: Adam, shuffled minibatches, a regularizer, a frozen mask, early stopping.

Randomness: minibatch order comes from a generator seeded by ``TrainConfig.seed``; model
initialisation is the caller's (seed torch before building the model).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.evaluation import data_loss, evaluate
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.regularizers.base import NamedParams, Regularizer
from mdlkit.training.stopping import LossSaturation

__all__ = ["EpochLog", "TrainConfig", "TrainResult", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and stopping settings of one training phase."""

    max_epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    stopping: LossSaturation | None = field(default_factory=LossSaturation)
    keep_best: bool = True

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise MdlkitError("training needs max_epochs >= 1, batch_size >= 1 and lr > 0")


@dataclass(frozen=True)
class EpochLog:
    """One epoch: losses in nats per sample; the objective adds the penalty at that step.

    ``nonzero`` counts exactly nonzero parameters; ``above_001`` those with |θ| ≥ 0.01, which shows
    the progress of a penalty that drives weights towards zero without reaching it.
    """

    epoch: int
    train_loss: float
    val_loss: float
    val_objective: float
    val_accuracy: float
    nonzero: int
    above_001: int


@dataclass
class TrainResult:
    """What a phase did: its per-epoch log, which epoch's weights were kept, why it stopped."""

    history: list[EpochLog]
    best_epoch: int
    saturated: bool
    steps: int

    def to_dict(self) -> dict[str, object]:
        return {
            "best_epoch": self.best_epoch,
            "saturated": self.saturated,
            "steps": self.steps,
            "history": [asdict(e) for e in self.history],
        }


def _penalty(regularizer: Regularizer | None, params: NamedParams, step: int) -> float:
    if regularizer is None:
        return 0.0
    with torch.no_grad():
        value = regularizer.penalty(params, step)
    return 0.0 if value is None else float(value)


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    config: TrainConfig,
    *,
    regularizer: Regularizer | None = None,
    mask: Mask | None = None,
    progress: bool = False,
    description: str = "training",
) -> TrainResult:
    """Train ``model`` in place; on return it holds the best (or last) snapshot.

    The monitored quantity is the validation objective: mean data loss plus the regularizer's
    penalty. The best snapshot is compared at the CURRENT strength (its penalty is recomputed), so
    a strength schedule does not make early, unregularized weights look best. A ``mask`` is
    applied before training and after every optimizer step.
    """
    if len(train_split) == 0 or len(val_split) == 0:
        raise MdlkitError("cannot train on an empty dataset; check the data and the split sizes")
    named = list(model.named_parameters())
    optimizer = torch.optim.Adam([p for _, p in named], lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    if mask is not None:
        mask.apply(model)
    history: list[EpochLog] = []
    best_state: dict[str, torch.Tensor] | None = None
    best_loss, best_epoch, step, saturated = math.inf, -1, 0, False
    n = len(train_split)

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=config.max_epochs, info="")
        for epoch in range(config.max_epochs):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, config.batch_size):
                idx = order[start : start + config.batch_size]
                loss = data_loss(model(train_split.x[idx]), train_split.y[idx])
                objective = loss
                if regularizer is not None:
                    penalty = regularizer.penalty(named, step)
                    if penalty is not None:
                        objective = loss + penalty
                if not torch.isfinite(objective):
                    raise MdlkitError(
                        f"{description}: the loss became {float(objective)} at epoch "
                        f"{epoch}; lower the learning rate or the strength"
                    )
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                optimizer.step()
                if regularizer is not None:
                    regularizer.after_step(named, step)
                if mask is not None:
                    mask.apply(model)
                total += float(loss.detach()) * len(idx)
                step += 1
            ev = evaluate(model, val_split)
            objective_now = ev.loss + _penalty(regularizer, named, step)
            history.append(
                EpochLog(
                    epoch,
                    total / n,
                    ev.loss,
                    objective_now,
                    ev.accuracy,
                    count_nonzero(model),
                    sum(int((p.detach().abs() >= 0.01).sum()) for _, p in named),
                )
            )
            if config.keep_best:
                if best_state is not None:
                    best_params = [(k, best_state[k]) for k, _ in named]
                    best_objective = best_loss + _penalty(regularizer, best_params, step)
                else:
                    best_objective = math.inf
                if objective_now <= best_objective:
                    best_state = copy.deepcopy(model.state_dict())
                    best_loss, best_epoch = ev.loss, epoch
            bar.update(
                task,
                advance=1,
                info=f"val loss {ev.loss:.4f}  acc {ev.accuracy:.4f}  nonzero "
                f"{history[-1].nonzero}",
            )
            if config.stopping is not None and config.stopping.should_stop(
                [e.val_objective for e in history]
            ):
                saturated = True
                break
    if config.keep_best and best_state is not None and best_epoch != history[-1].epoch:
        model.load_state_dict(best_state)
    else:
        best_epoch = history[-1].epoch
    return TrainResult(history, best_epoch, saturated, step)
