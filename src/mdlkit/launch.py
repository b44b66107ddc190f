"""How this process was started: on its own, or as one rank of a ``torchrun`` job.

Both answers come from the environment torchrun sets and from the modules already imported,
never from importing torch: a command that trains nothing (``mdlkit compress`` in its online
mode, every ``--help``) finds out that it runs alone at no cost. Joining the process group and
training data-parallel is :mod:`mdlkit.training.distributed`'s.

>>> launched_by_torchrun(), is_main_process()
(False, True)
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

__all__ = ["is_main_process", "launched_by_torchrun", "process_group"]


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def process_group() -> ModuleType | None:
    """``torch.distributed`` if this process has joined a process group, else None (a group
    exists only once torch.distributed has been imported, so it is not imported here)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def is_main_process() -> bool:
    """True unless this process belongs to a process group and its rank is not 0."""
    group = process_group()
    return group is None or group.get_rank() == 0
