"""Checkpoint files: written atomically, read without unpickling arbitrary objects.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts saved with ``torch.save``
and read back with ``torch.load(weights_only=True)``, which refuses anything else. Writing goes to
a temporary file that replaces the old checkpoint only once complete, so a kill at any moment
leaves the last good checkpoint intact.

A model's weights alone (parameters and buffers, no optimizer or loop state) are written as
safetensors by :func:`save_weights`: a plain tensor file any tool reads, with no pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically

__all__ = [
    "CHECKPOINT_VERSION",
    "load_checkpoint",
    "load_weights",
    "save_checkpoint",
    "save_weights",
]

# 2: a run's batch order is stored under "batches", a prune result under "result".
CHECKPOINT_VERSION = 2


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (plus a format version) to ``path``."""
    write_atomically(path, lambda tmp: torch.save({"version": CHECKPOINT_VERSION, **state}, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so in one line
        raise MdlkitError(f"cannot read checkpoint {path}: {exc}".splitlines()[0]) from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise MdlkitError(f"{path} is not an mdlkit checkpoint of version {CHECKPOINT_VERSION}")
    return state


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Atomically write ``model``'s parameters and buffers (its state dict) as safetensors.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> save_weights(nn.Linear(3, 2), path)
    >>> other = nn.Linear(3, 2)
    >>> load_weights(other, path)
    >>> sorted(load_file(str(path))) == sorted(other.state_dict())
    True
    """
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    write_atomically(path, lambda tmp: save_file(tensors, str(tmp)))


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load the weights :func:`save_weights` wrote into ``model`` (of the same architecture)."""
    model.load_state_dict(load_file(str(path)))
