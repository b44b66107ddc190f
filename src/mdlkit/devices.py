"""Where a model trains: ``auto``, ``cpu``, ``cuda`` (``cuda:N``) or ``mps``, checked once.

Training (fits, sequence models, the learners of online codes) and LLC sampling run on the chosen
device; everything that turns a model into bits — quantization, pruning decisions, the weight
codec, every head's probabilities for coding — runs on the CPU in float32 (then float64), so an
encoder and a decoder on different machines compute identical distributions whatever device
trained the model (:func:`mdlkit.training.train` hands the model back on the CPU).

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from mdlkit.errors import MdlkitError

__all__ = ["DEVICES", "PRECISIONS", "AutocastForward", "resolve_device", "torch_threads"]

DEVICES = ("auto", "cpu", "cuda", "mps")
"""The names ``--device`` takes (``cuda:N`` picks one GPU)."""
PRECISIONS = ("fp32", "bf16")
"""Training precisions of the sequence models (:class:`AutocastForward`)."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """The device called ``name``; ``auto`` is CUDA if present, else MPS, else the CPU.

    Raises :class:`MdlkitError` (one line: what is missing and what to do) for a device this
    machine does not have, before anything runs.

    >>> resolve_device("auto").type in ("cpu", "cuda", "mps")
    True
    """
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise MdlkitError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise MdlkitError(
                "--device cuda: this machine has no CUDA device (or torch was built without "
                "CUDA); use --device cpu or auto"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise MdlkitError(
                f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices"
            )
    if kind == "mps" and not _mps_available():
        raise MdlkitError("--device mps: Apple's MPS backend is not available; use cpu or auto")
    return torch.device(name)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """``n`` torch threads inside the block, the previous count restored after it. Float sums
    depend on the thread count, so code whose numbers must repeat (coding loops, sweep jobs)
    fixes it.

    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class AutocastForward(nn.Module):
    """``model``'s forward pass under autocast: ``precision="bf16"`` runs matrix products in
    bfloat16 on ``device_type`` (for GPUs; weights, gradients and optimizer state stay float32)
    and hands back float32 outputs, so the loss is computed in float32; ``"fp32"`` changes
    nothing. Training only: coding always evaluates the plain model in float32 on the CPU.

    >>> layer = nn.Linear(2, 2)
    >>> AutocastForward(layer, "cpu", "bf16")(torch.ones(1, 2)).dtype
    torch.float32
    """

    def __init__(self, model: nn.Module, device_type: str, precision: str = "bf16") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise MdlkitError(f"unknown precision {precision!r}; use fp32 or bf16")
        self.model = model
        self.device_type = device_type
        self.enabled = precision == "bf16"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.enabled):
            out = self.model(x)
        return out.float()
