"""What happens around the training loop: progress bar, checkpoints, logging.

A :class:`Callback` is called with typed values — the phase's config, one epoch's
:class:`EpochLog`, the run's :class:`TrainState` — never with the loop's locals. The loop calls
``on_start`` once, ``on_epoch`` after every epoch it trains, and ``on_end`` once, also when
training fails (to release a terminal, say; ``state.done`` tells whether the run finished).

In a multi-process run the progress bar, the logger and checkpoint writing act on rank 0 only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mdlkit.errors import MdlkitError
from mdlkit.training.checkpoint import load_checkpoint, save_checkpoint
from mdlkit.training.distributed import is_main_process
from mdlkit.training.state import EpochLog, TrainConfig, TrainState

__all__ = ["Callback", "Checkpointer", "EpochLogger", "ProgressBar", "Stateful"]


class Callback:
    """Hooks of a training run; each does nothing unless overridden."""

    def on_start(self, config: TrainConfig, state: TrainState) -> None:
        """Before the first epoch (``state`` may be a resumed run's)."""

    def on_epoch(self, log: EpochLog, state: TrainState) -> None:
        """After each epoch, once ``state`` is updated (and, on the last, final weights loaded)."""

    def on_end(self, state: TrainState) -> None:
        """After the last epoch, or when training stops with an error."""


class Stateful(Protocol):
    """Anything whose state a checkpoint stores: modules, optimizers, regularizers, batches."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any, /) -> Any: ...


class Checkpointer(Callback):
    """Atomic checkpoints of a run: after the first epoch, then after any epoch that ends at least
    ``every_seconds`` after the last write, and after the last epoch.

    A checkpoint holds ``fingerprint``, the :class:`TrainState` and the ``state_dict`` of each of
    ``parts`` under its name. :meth:`restore` loads them back; a checkpoint with another
    fingerprint (another configuration) is refused.
    """

    def __init__(
        self,
        path: str | Path,
        parts: Mapping[str, Stateful],
        fingerprint: str,
        every_seconds: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.parts = dict(parts)
        self.fingerprint = fingerprint
        self.every_seconds = every_seconds
        self._last_write = -math.inf

    def restore(self) -> TrainState:
        """Load the checkpoint into ``parts`` and return its state; a fresh state if none."""
        if not self.path.exists():
            return TrainState()
        saved = load_checkpoint(self.path)
        if saved.get("fingerprint") != self.fingerprint:
            raise MdlkitError(
                f"checkpoint {self.path} was written by a different configuration; "
                "use a new output folder"
            )
        for name, part in self.parts.items():
            part.load_state_dict(saved[name])
        return TrainState.from_dict(saved)

    def on_epoch(self, log: EpochLog, state: TrainState) -> None:
        now = time.monotonic()
        if now - self._last_write < self.every_seconds and not state.done:
            return
        self._last_write = now
        if is_main_process():
            parts = {name: part.state_dict() for name, part in self.parts.items()}
            save_checkpoint(
                self.path, {"fingerprint": self.fingerprint, **state.to_dict(), **parts}
            )


class ProgressBar(Callback):
    """A rich progress bar on stderr: epochs done, validation loss, accuracy, nonzero count."""

    def __init__(self, description: str = "training", enabled: bool = True) -> None:
        self.description = description
        self.enabled = enabled
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def on_start(self, config: TrainConfig, state: TrainState) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not (self.enabled and is_main_process()),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            self.description, total=config.max_epochs, completed=len(state.history), info=""
        )

    def on_epoch(self, log: EpochLog, state: TrainState) -> None:
        if self._bar is not None and self._task is not None:
            info = f"val loss {log.val_loss:.4f}  acc {log.val_accuracy:.4f}  nonzero {log.nonzero}"
            self._bar.update(self._task, advance=1, info=info)

    def on_end(self, state: TrainState) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class EpochLogger(Callback):
    """Calls ``log_epoch`` with each epoch's log (on rank 0 only)."""

    def __init__(self, log_epoch: Callable[[EpochLog], None]) -> None:
        self.log_epoch = log_epoch

    def on_epoch(self, log: EpochLog, state: TrainState) -> None:
        if is_main_process():
            self.log_epoch(log)
