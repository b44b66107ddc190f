"""Where training batches come from: one epoch of ``(x, y)`` tensors at a time.

The loop asks a :class:`Batches` object for each epoch's batches and stores its ``state_dict`` in
the checkpoint, so a resumed run continues the same order. The default,
:class:`ShuffledBatches`, is a fresh random permutation per epoch; a sequence model can supply
windows of a byte stream instead, and :class:`mdlkit.training.distributed.ShardedBatches` gives
each process of a DDP run its share of every batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch

from mdlkit.data.splits import Split

__all__ = ["Batch", "Batches", "ShuffledBatches"]

Batch = tuple[torch.Tensor, torch.Tensor]
"""Model inputs and targets of one optimizer step."""


@runtime_checkable
class Batches(Protocol):
    """One epoch of training batches at a time, with a state that a checkpoint can hold."""

    def epoch(self, split: Split) -> Iterator[Batch]:
        """The batches of the next epoch over ``split`` (advances any random state)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue the same order ({} if nothing)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class ShuffledBatches:
    """Shuffled minibatches: ``torch.randperm(n)`` per epoch from a generator seeded by ``seed``.

    ``batch_size=None`` gives one full batch per epoch (still in permuted order, which keeps the
    generator's sequence the same whatever the batch size). The last batch may be smaller.

    >>> split = Split(torch.arange(5.0)[:, None], torch.arange(5))
    >>> [len(x) for x, _ in ShuffledBatches(2, seed=0).epoch(split)]
    [2, 2, 1]
    """

    def __init__(self, batch_size: int | None, seed: int = 0) -> None:
        self.batch_size = batch_size
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, split: Split) -> Iterator[Batch]:
        n = len(split)
        size = self.batch_size or n
        order = torch.randperm(n, generator=self.generator)
        for start in range(0, n, size):
            idx = order[start : start + size]
            yield split.x[idx], split.y[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return f"ShuffledBatches(batch_size={self.batch_size}, seed={self.seed})"
