"""What a multi-process (DDP) run needs from training, and nothing more.

A DDP run calls :func:`mdlkit.training.train` on every rank with
``batches=ShardedBatches(ShuffledBatches(batch_size, seed))`` — every rank draws the same
permutation and keeps its own slice of each batch — and ``wrap_model=DistributedDataParallel``,
which averages the gradients. Progress, logging and checkpoint writing happen on rank 0 only
(:func:`is_main_process`); every rank reads the checkpoint when resuming.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch.distributed as dist

from mdlkit.data.splits import Split
from mdlkit.training.batches import Batch, Batches

__all__ = ["ShardedBatches", "is_main_process"]


def is_main_process() -> bool:
    """True unless torch.distributed is initialized and this process's rank is not 0.

    >>> is_main_process()
    True
    """
    return not (dist.is_available() and dist.is_initialized() and dist.get_rank() != 0)


class ShardedBatches:
    """Rank ``rank``'s contiguous share (1/``world_size``) of every batch of ``inner``.

    ``rank`` and ``world_size`` default to torch.distributed's. With equal shares, averaging the
    ranks' mean-loss gradients gives the gradient of the whole batch's mean loss. A batch smaller
    than ``world_size`` leaves some ranks an empty share; choose batch sizes divisible by it.

    >>> import torch
    >>> from mdlkit.training.batches import ShuffledBatches
    >>> split = Split(torch.arange(4.0)[:, None], torch.arange(4))
    >>> inner = ShuffledBatches(None, seed=0)
    >>> [y.tolist() for _, y in ShardedBatches(inner, rank=1, world_size=2).epoch(split)]
    [[3, 2]]
    """

    def __init__(self, inner: Batches, rank: int | None = None, world_size: int | None = None):
        initialized = dist.is_available() and dist.is_initialized()
        self.inner = inner
        self.rank = rank if rank is not None else (dist.get_rank() if initialized else 0)
        self.world_size = (
            world_size if world_size is not None else (dist.get_world_size() if initialized else 1)
        )

    def epoch(self, split: Split) -> Iterator[Batch]:
        for batch in self.inner.epoch(split):
            x, y = (t.tensor_split(self.world_size)[self.rank] for t in batch)
            yield x, y

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)

    def __repr__(self) -> str:
        return f"ShardedBatches({self.inner!r}, rank={self.rank}, world_size={self.world_size})"
