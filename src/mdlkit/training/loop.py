"""The training loop: Adam, shuffled minibatches, a regularizer, a frozen mask, early stopping,
and checkpoints that make a killed run resume to the same result.

Randomness: minibatch order comes from a generator seeded by ``TrainConfig.seed``; model
initialisation is the caller's (seed torch before building the model).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.evaluation import DataLoss, evaluate
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.regularizers.base import NamedParams, Regularizer
from mdlkit.training.checkpoint import load_checkpoint, save_checkpoint
from mdlkit.training.stopping import LossSaturation

__all__ = ["EpochLog", "TrainConfig", "TrainResult", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and stopping settings of one training phase.

    ``batch_size=None`` means full batch.
    """

    max_epochs: int = 200
    batch_size: int | None = 64
    lr: float = 1e-3
    seed: int = 0
    stopping: LossSaturation | None = field(default_factory=LossSaturation)
    keep_best: bool = True

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise MdlkitError("training needs max_epochs >= 1 and batch_size >= 1")
        if not self.lr > 0:
            raise MdlkitError(f"the learning rate must be > 0, got {self.lr}")


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


@dataclass
class _State:
    """Everything of a run in progress that a checkpoint must hold."""

    history: list[EpochLog] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_loss: float = math.inf
    best_epoch: int = -1
    step: int = 0
    done: bool = False
    saturated: bool = False


def _fingerprint(config: TrainConfig, regularizer: Regularizer | None, n: int) -> str:
    return f"{config!r}|{regularizer!r}|n={n}"


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    config: TrainConfig,
    *,
    regularizer: Regularizer | None = None,
    mask: Mask | None = None,
    loss_fn: nn.Module | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 30.0,
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: bool = False,
    description: str = "training",
) -> TrainResult:
    """Train ``model`` in place; on return it holds the best (or last) snapshot.

    Args:
        regularizer: its penalty is added to the mean batch loss; its own variables (PMMP) are
            optimized with the model.
        mask: applied before training and after every optimizer step (pruned stays zero).
        loss_fn: ``loss_fn(output, target)`` → mean loss in nats; its parameters (e.g. a learned
            σ) are trained too. Default: cross-entropy / ½·MSE.
        checkpoint: a file written after the first epoch, then after any epoch that ends at
            least ``checkpoint_seconds`` after the last write, and at the end; if it exists,
            training resumes from it and ends exactly as an uninterrupted run would.
        on_epoch: called with each epoch's log after its checkpoint is written.

    The monitored quantity is the validation objective: mean data loss plus the penalty. The best
    snapshot is compared at the CURRENT strength (its penalty is recomputed), so a strength
    schedule does not make early, unregularized weights look best. Training stops when the
    objective has saturated and the regularizer reports convergence, or at ``max_epochs``.
    """
    if len(train_split) == 0 or len(val_split) == 0:
        raise MdlkitError("cannot train on an empty dataset; check the data and the split sizes")
    loss_fn = loss_fn if loss_fn is not None else DataLoss()
    named = list(model.named_parameters())
    extra = regularizer.extra_parameters(named) if regularizer is not None else []
    # The fused Adam kernel is several times faster on CPU for the same update rule.
    optimizer = torch.optim.Adam(
        [p for _, p in named] + extra + list(loss_fn.parameters()), lr=config.lr, fused=True
    )
    gen = torch.Generator().manual_seed(config.seed)
    n = len(train_split)
    batch = config.batch_size or n
    fingerprint = _fingerprint(config, regularizer, n)
    state = _State()
    if checkpoint is not None and Path(checkpoint).exists():
        saved = load_checkpoint(checkpoint)
        if saved["fingerprint"] != fingerprint:
            raise MdlkitError(
                f"checkpoint {checkpoint} was written by a different configuration; "
                "use a new output folder"
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        loss_fn.load_state_dict(saved["loss_fn"])
        if regularizer is not None:
            regularizer.load_state_dict(saved["regularizer"])
        gen.set_state(saved["generator"])
        state = _State(
            history=[EpochLog(**e) for e in saved["history"]],
            best_state=saved["best_state"],
            best_loss=saved["best_loss"],
            best_epoch=saved["best_epoch"],
            step=saved["step"],
            done=saved["done"],
            saturated=saved["saturated"],
        )
    if mask is not None:
        mask.apply(model)

    last_save = -math.inf

    def save() -> None:
        nonlocal last_save
        now = time.monotonic()
        if checkpoint is None or (now - last_save < checkpoint_seconds and not state.done):
            return
        last_save = now
        payload: dict[str, Any] = {
            "fingerprint": fingerprint,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "loss_fn": loss_fn.state_dict(),
            "regularizer": regularizer.state_dict() if regularizer is not None else {},
            "generator": gen.get_state(),
            "history": [asdict(e) for e in state.history],
            "best_state": state.best_state,
            "best_loss": state.best_loss,
            "best_epoch": state.best_epoch,
            "step": state.step,
            "done": state.done,
            "saturated": state.saturated,
        }
        save_checkpoint(checkpoint, payload)

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
        task = bar.add_task(
            description, total=config.max_epochs, completed=len(state.history), info=""
        )
        for epoch in range(len(state.history), config.max_epochs if not state.done else 0):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                loss = loss_fn(model(train_split.x[idx]), train_split.y[idx])
                objective = loss
                if regularizer is not None:
                    term = regularizer.loss_term(named, state.step)
                    if term is not None:
                        objective = loss + term
                if not torch.isfinite(objective):
                    value = float(objective.detach())
                    raise MdlkitError(
                        f"{description}: the loss became {value} at epoch {epoch}; "
                        "lower the learning rate or the strength (the last good checkpoint is kept)"
                    )
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                if regularizer is not None:
                    regularizer.add_gradient(named, state.step)
                optimizer.step()
                if regularizer is not None:
                    regularizer.after_step(named, state.step)
                if mask is not None:
                    mask.apply(model)
                total += float(loss.detach()) * len(idx)
                state.step += 1
            ev = evaluate(model, val_split, loss_fn)
            objective_now = ev.loss + _penalty(regularizer, named, state.step)
            if not math.isfinite(objective_now):
                raise MdlkitError(
                    f"{description}: the validation loss became {objective_now} at epoch {epoch}; "
                    "lower the learning rate (the last good checkpoint is kept)"
                )
            log = EpochLog(
                epoch,
                total / n,
                ev.loss,
                objective_now,
                ev.accuracy,
                count_nonzero(model),
                sum(int((p.detach().abs() >= 0.01).sum()) for _, p in named),
            )
            state.history.append(log)
            if config.keep_best:
                if state.best_state is not None:
                    best_params = [(k, state.best_state[k]) for k, _ in named]
                    best_objective = state.best_loss + _penalty(
                        regularizer, best_params, state.step
                    )
                else:
                    best_objective = math.inf
                if objective_now <= best_objective:
                    state.best_state = copy.deepcopy(model.state_dict())
                    state.best_loss, state.best_epoch = ev.loss, epoch
            state.saturated = (
                config.stopping is not None
                and config.stopping.should_stop([e.val_objective for e in state.history])
                and (regularizer is None or regularizer.converged(named))
            )
            state.done = state.saturated or epoch + 1 == config.max_epochs
            if state.done:
                _finish(model, state, config)
            save()
            bar.update(
                task,
                advance=1,
                info=f"val loss {ev.loss:.4f}  acc {ev.accuracy:.4f}  nonzero {log.nonzero}",
            )
            if on_epoch is not None:
                on_epoch(log)
            if state.done:
                break
    return TrainResult(state.history, state.best_epoch, state.saturated, state.step)


def _finish(model: nn.Module, state: _State, config: TrainConfig) -> None:
    """Load the best snapshot if it is better than the last epoch."""
    last = state.history[-1].epoch
    if config.keep_best and state.best_state is not None and state.best_epoch != last:
        model.load_state_dict(state.best_state)
    else:
        state.best_epoch = last
