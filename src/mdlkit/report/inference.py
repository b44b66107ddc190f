"""What a network costs at inference on this machine: parameters, file bytes, latency and peak
memory, measured side by side for several networks on the same inputs.

- **Latency**: seconds per forward call (``torch.inference_mode``, eval mode, the process's
  torch threads), the median over ``calls`` timed calls after 5 warm-up calls. The networks
  take turns in ``rounds`` rounds, so a load on the machine that comes and goes hits them
  alike.
- **Peak memory**: the bytes of the parameters and buffers, plus the most bytes that torch's
  CPU allocator held for the forward pass at once (allocations minus frees, in the order the
  profiler recorded them; the input is not counted).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from rich.table import Table
from torch import nn

__all__ = ["InferenceCost", "inference_table", "latencies", "peak_memory"]


@dataclass(frozen=True)
class InferenceCost:
    """One network's figures (seconds and bytes)."""

    name: str
    parameters: int
    file_bytes: int | None
    latency: dict[int, float]
    """batch size → median seconds per forward call"""
    peak_bytes: int
    """parameters and buffers plus the forward pass's peak allocation, at the largest batch"""


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null: the profiler's C++ side prints start/stop lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@torch.inference_mode()
def peak_memory(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of ``model``'s parameters and buffers plus the peak bytes its forward pass on
    ``x`` allocates (measured by torch's profiler)."""
    from torch.autograd.profiler import profile

    model.eval()
    model(x)  # first-call allocations (e.g. kernels' caches) are not the model's
    with _quiet_stderr(), profile(profile_memory=True, use_kineto=False) as prof:
        model(x)
    running = peak = 0
    for event in sorted(prof.function_events, key=lambda e: e.time_range.start):
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    state = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in state) + peak


@torch.inference_mode()
def latencies(
    models: Sequence[nn.Module], x: torch.Tensor, *, calls: int = 100, rounds: int = 5
) -> list[float]:
    """The median seconds per call of each model on ``x``, the models taking turns."""
    for model in models:
        model.eval()
        for _ in range(5):
            model(x)
    times: list[list[float]] = [[] for _ in models]
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for model, kept in zip(models, times, strict=True):
            for _ in range(per_round):
                start = time.perf_counter()
                model(x)
                kept.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _time(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def inference_table(costs: Sequence[InferenceCost], title: str = "") -> Table:
    """One row per network, and the first network's figures over each other's as ratios."""
    table = Table(title=title or None)
    batches = sorted(costs[0].latency)
    table.add_column("")
    table.add_column("parameters", justify="right")
    table.add_column("file bytes", justify="right")
    for b in batches:
        table.add_column(f"latency, batch {b}", justify="right")
    table.add_column(f"peak memory, batch {batches[-1]}", justify="right")
    base = costs[0]
    for c in costs:
        file = "—" if c.file_bytes is None else f"{c.file_bytes:,}"
        times = [_time(c.latency[b]) for b in batches]
        table.add_row(c.name, f"{c.parameters:,}", file, *times, f"{c.peak_bytes:,} B")
    for c in costs[1:]:
        ratio = [f"{base.latency[b] / c.latency[b]:.1f}× faster" for b in batches]
        files = (
            f"{base.file_bytes / c.file_bytes:.1f}× smaller"
            if base.file_bytes and c.file_bytes
            else "—"
        )
        table.add_row(
            f"{base.name} / {c.name}",
            f"{base.parameters / max(c.parameters, 1):.1f}× fewer",
            files,
            *ratio,
            f"{base.peak_bytes / c.peak_bytes:.1f}× less",
        )
    return table
