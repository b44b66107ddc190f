"""The plain values of training: its settings, one epoch's log, a phase's result, and the progress
of a run in progress — each with the dict form a checkpoint or a results file stores.

Every dict form holds only numbers, strings, lists, dicts and tensors, so a checkpoint of it reads
back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from mdlkit.errors import MdlkitError
from mdlkit.stopping import LossSaturation

__all__ = ["EpochLog", "TrainConfig", "TrainResult", "TrainState"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and stopping settings of one training phase.

    ``batch_size=None`` means full batch; ``lr`` is the learning rate of the default optimizer;
    ``seed`` seeds the default batch order (model initialisation is the caller's).
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

    >>> log = EpochLog(0, 0.5, 0.6, 0.7, 0.9, 100, 80)
    >>> EpochLog.from_dict(log.to_dict()) == log
    True
    """

    epoch: int
    train_loss: float
    val_loss: float
    val_objective: float
    val_accuracy: float
    nonzero: int
    above_001: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EpochLog:
        return cls(**values)


@dataclass
class TrainResult:
    """What a phase did: its per-epoch log, which epoch's weights were kept, why it stopped,
    and how many optimizer steps it took."""

    history: list[EpochLog]
    best_epoch: int
    saturated: bool
    steps: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "saturated": self.saturated,
            "steps": self.steps,
            "history": [e.to_dict() for e in self.history],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainResult:
        return cls(
            [EpochLog.from_dict(e) for e in values["history"]],
            values["best_epoch"],
            values["saturated"],
            values["steps"],
        )


@dataclass
class TrainState:
    """The progress of a run: everything a checkpoint holds besides the state of the model,
    optimizer, loss, regularizer and batch order (each of which keeps its own ``state_dict``).

    ``best_state`` is the model's state dict at ``best_epoch``, whose validation data loss (nats)
    was ``best_loss``; ``best_head`` the head's (its learned σ) at the same epoch; ``step``
    counts optimizer steps; ``done`` is set once the run has ended and its final weights are in
    place.

    >>> state = TrainState(history=[EpochLog(0, 0.5, 0.6, 0.7, 0.9, 100, 80)], step=9)
    >>> TrainState.from_dict(state.to_dict()) == state
    True
    """

    history: list[EpochLog] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_head: dict[str, torch.Tensor] | None = None
    best_loss: float = math.inf
    best_epoch: int = -1
    step: int = 0
    done: bool = False
    saturated: bool = False

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["history"] = [e.to_dict() for e in self.history]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        mine = {f.name: values[f.name] for f in fields(cls)}
        mine["history"] = [EpochLog.from_dict(e) for e in mine["history"]]
        return cls(**mine)

    def result(self) -> TrainResult:
        """The phase's outcome so far."""
        return TrainResult(list(self.history), self.best_epoch, self.saturated, self.step)
