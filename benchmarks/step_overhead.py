"""Time per training step with each regularizer, divided by plain training's, in one run.

LeNet-300-100 on MNIST-sized random data (batch 500, Adam), interleaved repetitions so that
drifts of the machine hit every method alike. Targets (issue 3): DRR and R-L1 ≤ 1.05×,
PMMP ≤ 1.3×.

Run: ``.venv/bin/python benchmarks/step_overhead.py``; writes ``results/step_overhead.md``.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch
from _publish import publish
from torch.nn import functional as F

from mdlkit.models import lenet_300_100
from mdlkit.regularizers import DRR, L1, PMMP, Regularizer

STEPS = 30
REPEATS = 7


def _make(kind: str) -> Callable[[], Regularizer | None]:
    factories: dict[str, Callable[[], Regularizer | None]] = {
        "plain": lambda: None,
        "DRR": lambda: DRR(1e-4),
        "R-L1 (subgradient)": lambda: L1(1e-5),
        "R-L1 (proximal)": lambda: L1(1e-5, proximal=True),
        "PMMP": lambda: PMMP(1e-5),
        "PMMP + FPP": lambda: PMMP(1e-5, fictitious_play=True),
    }
    return factories[kind]


def time_steps(kind: str, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds per step, the same loop body as mdlkit.training.train."""
    torch.manual_seed(0)
    model = lenet_300_100()
    reg = _make(kind)()
    named = list(model.named_parameters())
    extra = reg.extra_parameters(named) if reg is not None else []
    opt = torch.optim.Adam([p for _, p in named] + extra, lr=1e-3, fused=True)
    start = 0.0
    for step in range(STEPS + 3):
        if step == 3:  # warm-up steps excluded
            start = time.perf_counter()
        idx = slice((step * 500) % 45000, (step * 500) % 45000 + 500)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        if reg is not None:
            term = reg.loss_term(named, step)
            if term is not None:
                loss = loss + term
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if reg is not None:
            reg.add_gradient(named, step)
        opt.step()
        if reg is not None:
            reg.after_step(named, step)
    return (time.perf_counter() - start) / STEPS


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(45000, 784, generator=gen)
    y = torch.randint(0, 10, (45000,), generator=gen)
    kinds = ["plain", "DRR", "R-L1 (subgradient)", "R-L1 (proximal)", "PMMP", "PMMP + FPP"]
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(REPEATS):
        for kind in kinds:
            samples[kind].append(time_steps(kind, x, y))
    plain = statistics.median(samples["plain"])
    lines = [
        "# Time per training step relative to plain training",
        "",
        "LeNet-300-100, batch 500, fused Adam (as mdlkit.training.train); "
        f"median of {REPEATS} interleaved repeats of {STEPS} "
        f"steps. Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. "
        "Command: `.venv/bin/python benchmarks/step_overhead.py`",
        "",
        "| method | ms / step | ratio to plain |",
        "|---|---|---|",
    ]
    for kind in kinds:
        median = statistics.median(samples[kind])
        lines.append(f"| {kind} | {1e3 * median:.2f} | {median / plain:.3f} |")
    text = "\n".join(lines) + "\n"
    publish("step_overhead.md", text)


if __name__ == "__main__":
    main()
