"""What a multi-process (DDP) run needs from training, and nothing more.

Under ``torchrun`` every process (rank) runs the same command. :func:`init_from_environment`
joins the process group torchrun describes (gloo on CPUs, NCCL on GPUs) and returns a
:class:`DataParallel` — the one object that :func:`mdlkit.training.train` takes as ``parallel=``:

- batches: every rank draws the same permutation and keeps its own contiguous share of each
  batch (:class:`ShardedBatches`), so the ranks together see exactly the batch one process would;
- the forward pass runs through ``DistributedDataParallel``, whose backward averages the
  gradients of the ranks' mean losses — with equal shares the gradient of the whole batch's mean;
- a learned σ of the head is averaged the same way by hand (it is not inside the DDP module);
  regularizer gradients (DRR, R-L1, PMMP in closed form) depend only on the weights, which are
  identical on every rank, so every rank adds the same numbers after the all-reduce;
- the stopping decision is rank 0's, broadcast (ranks agree even if float noise differed);
- progress, logs and checkpoint writing happen on rank 0 only (:func:`is_main_process`); every
  rank reads the checkpoint when resuming, and a rank that found another one is an error
  (a multi-node run keeps its run folder on a shared filesystem).

Pruning, quantization and coding run once, on rank 0, and their outcome is broadcast
(:meth:`DataParallel.broadcast_module`, :meth:`DataParallel.broadcast_object`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.launch import is_main_process, launched_by_torchrun
from mdlkit.training.batches import Batch, Batches

__all__ = [
    "DataParallel",
    "ShardedBatches",
    "init_from_environment",
    "is_main_process",
    "launched_by_torchrun",
]

T = TypeVar("T")


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


class DataParallel:
    """This process's part in a data-parallel run of ``world_size`` ranks (see the module's
    docstring); ``device`` is where this rank trains.

    Every method is a collective: all ranks call it in the same order.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise MdlkitError("a data-parallel run needs torch.distributed to be initialized")
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = torch.device(device)

    def shard(self, batches: Batches) -> ShardedBatches:
        """This rank's share of every batch of ``batches``."""
        return ShardedBatches(batches, self.rank, self.world_size)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` inside DistributedDataParallel (which first copies rank 0's weights and
        buffers to every rank)."""
        ids = [self.device.index or 0] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def average_gradients(self, params: Sequence[torch.Tensor]) -> None:
        """Replace each gradient by its mean over the ranks (for parameters outside DDP)."""
        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(self.world_size)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Each value summed over the ranks (float64)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(t)
        return [float(v) for v in t.cpu()]

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank."""
        t = torch.tensor([int(flag)], device=self._comm_device)
        dist.broadcast(t, 0)
        return bool(t.item())

    def check_same(self, what: str, value: int) -> None:
        """Raise on every rank unless all ranks hold the same ``value``."""
        t = torch.tensor([value, -value], dtype=torch.int64, device=self._comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        if int(t[0]) != value or int(t[1]) != -value:
            raise MdlkitError(
                f"the ranks disagree on {what} (a checkpoint one rank sees and another does not?); "
                "keep the run folder on a filesystem every node shares"
            )

    @torch.no_grad()
    def broadcast_module(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers copied into ``module`` on every rank."""
        for t in module.state_dict().values():
            if self._comm_device.type == "cpu" and t.device.type != "cpu":
                raise MdlkitError("broadcast_module: gloo needs the module on the CPU")
            dist.broadcast(t, 0)

    def broadcast_object(self, value: T | None) -> T:
        """Rank 0's ``value`` (any picklable object made by this program) on every rank."""
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0, device=self._comm_device)
        return box[0]  # type: ignore[no-any-return]

    def on_main(self, compute: Callable[[], T]) -> T:
        """``compute()`` run on rank 0 only, its result broadcast to every rank. An error on
        rank 0 is raised on every rank (so none waits forever)."""
        outcome: tuple[bool, Any] = (True, None)
        if self.rank == 0:
            try:
                outcome = (True, compute())
            except MdlkitError as error:
                outcome = (False, str(error))
        ok, value = self.broadcast_object(outcome)
        if not ok:
            raise MdlkitError(value)
        return value  # type: ignore[no-any-return]

    def barrier(self) -> None:
        dist.barrier()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def __repr__(self) -> str:
        return f"DataParallel(rank={self.rank}, world_size={self.world_size}, {self.device})"


def init_from_environment(device: torch.device) -> DataParallel | None:
    """Join the process group torchrun describes (its ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``/``PORT`` variables): NCCL when training on CUDA, gloo otherwise. ``None``
    outside torchrun (or with one rank). On CUDA each rank takes the GPU ``LOCAL_RANK``."""
    if not launched_by_torchrun():
        return None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return DataParallel(device)
