"""The local learning coefficient λ̂ by SGLD on a localized tempered posterior (llc.md).

Around a trained point w*, sample p(w) ∝ exp(−nβ·L_n(w) − (γ/2)·‖w − w*‖²) with SGLD steps

    w ← w − (ε/2)·[nβ·∇L_B(w) + γ·(w − w*)] + √ε·ξ,   ξ ~ N(0, I),

and estimate λ̂ = nβ·(E[L_B(w)] − L_n(w*)), the expectation over the draws after burn-in, the
minibatch loss being the one of each step's own forward pass (no extra passes). L_n is the mean
per-sample loss in nats; nβ defaults to n / ln n. Several chains with their own seeds give the
mean and the spread; every setting is kept with the value, since λ̂ is only comparable at the
same settings. Batches come from the training loop's :class:`~mdlkit.training.Batches`.

>>> import torch
>>> from mdlkit.data import Split
>>> x = torch.randn(400, 3, generator=torch.Generator().manual_seed(0))
>>> model = torch.nn.Linear(3, 1, bias=False)
>>> settings = LLCSettings(step=1e-4, chains=2, burn_in=20, draws=40)
>>> result = estimate_llc(model, Split(x, x @ torch.ones(3, 1)), settings=settings)
>>> len(result.per_chain), len(result.traces[0])
(2, 60)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import head_for
from mdlkit.training.batches import ShuffledBatches

__all__ = ["SGLD", "LLCResult", "LLCSettings", "estimate_llc"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SGLD(torch.optim.Optimizer):
    """One SGLD step per :meth:`step` on gradients of the MEAN minibatch loss:
    w ← w − (ε/2)·[nβ·g + γ·(w − w*)] + noise·√ε·ξ (``noise=0`` is plain gradient descent with
    step ε·nβ/2 on the loss plus the localizer). w* is the parameters' value at construction.
    """

    def __init__(
        self,
        params: Any,
        *,
        step: float,
        n_beta: float,
        gamma: float,
        noise: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(params, {"step": step, "n_beta": n_beta, "gamma": gamma, "noise": noise})
        self.generator = generator
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["center"] = p.detach().clone()

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            eps, nb, gamma, noise = group["step"], group["n_beta"], group["gamma"], group["noise"]
            for p in group["params"]:
                drift = gamma * (p - self.state[p]["center"])
                if p.grad is not None:
                    drift = drift + nb * p.grad
                p.add_(drift, alpha=-eps / 2)
                if noise:
                    xi = torch.randn(p.shape, generator=self.generator, dtype=p.dtype)
                    p.add_(xi, alpha=noise * math.sqrt(eps))


@dataclass(frozen=True)
class LLCSettings:
    """Everything λ̂ depends on. ``n_beta`` None → n / ln n; ``batch_size`` None → full batch."""

    step: float = 1e-4
    gamma: float = 100.0
    n_beta: float | None = None
    chains: int = 4
    burn_in: int = 200
    draws: int = 400
    batch_size: int | None = 64
    seed: int = 0

    def validate(self) -> None:
        if not (self.step > 0 and math.isfinite(self.step)):
            raise MdlkitError(f"the SGLD step must be > 0, got {self.step}")
        if not self.gamma >= 0:
            raise MdlkitError(f"the localization γ must be >= 0, got {self.gamma}")
        if self.step * self.gamma >= 2:
            raise MdlkitError(
                f"ε·γ = {self.step * self.gamma:g} >= 2 makes SGLD unstable; lower the step "
                "or γ (keep ε·γ well below 1)"
            )
        if self.n_beta is not None and not self.n_beta > 0:
            raise MdlkitError(f"nβ must be > 0, got {self.n_beta}")
        if self.chains < 1 or self.draws < 1 or self.burn_in < 0:
            raise MdlkitError("chains and draws must be >= 1 and burn-in >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise MdlkitError(f"batch size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class LLCResult:
    """λ̂ (mean over chains), its std across chains, each chain's value, each chain's loss
    trace (nats, burn-in included), L_n(w*), nβ and the settings; ``warnings`` in words."""

    llc: float
    std: float
    per_chain: tuple[float, ...]
    traces: tuple[tuple[float, ...], ...]
    initial_loss: float
    n_beta: float
    settings: LLCSettings
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "llc": self.llc,
            "std": self.std,
            "per_chain": list(self.per_chain),
            "initial_loss": self.initial_loss,
            "n_beta": self.n_beta,
            "settings": asdict(self.settings),
            "warnings": list(self.warnings),
        }


@torch.no_grad()
def _mean_loss(model: nn.Module, data: Split, loss_fn: LossFn, chunk: int = 1024) -> float:
    """L_n over all of ``data`` in fixed chunks: the same number for every chain."""
    total = 0.0
    for start in range(0, len(data), chunk):
        x, y = data.x[start : start + chunk], data.y[start : start + chunk]
        total += float(loss_fn(model(x), y)) * len(x)
    return total / len(data)


def _chain(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn,
    settings: LLCSettings,
    n_beta: float,
    chain: int,
) -> list[float]:
    sampler = copy.deepcopy(model)
    sampler.train(False)
    seed = settings.seed + 1000 * chain
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in sampler.parameters() if p.requires_grad]
    opt = SGLD(params, step=settings.step, n_beta=n_beta, gamma=settings.gamma,
               generator=generator)  # fmt: skip
    batches = ShuffledBatches(settings.batch_size, seed)
    trace: list[float] = []
    total = settings.burn_in + settings.draws
    while len(trace) < total:
        for x, y in batches.epoch(data):
            loss = loss_fn(sampler(x), y)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise MdlkitError(
                    f"chain {chain}: the loss became {value} after {len(trace)} SGLD steps; "
                    f"the step {settings.step:g} is too large — lower it"
                )
            trace.append(value)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if len(trace) == total:
                break
    return trace


def _diagnose(traces: list[list[float]], initial: float, settings: LLCSettings) -> list[str]:
    warnings = []
    draws = np.array([t[settings.burn_in :] for t in traces])
    if float(draws.mean()) < initial:
        warnings.append(
            "the sampled loss lies below L_n(w*): w* is not a local minimum (train longer) "
            "or the step is too large"
        )
    spread = np.median(np.abs(draws - np.median(draws)))
    if float(np.max(draws)) > float(np.median(draws)) + 20 * max(float(spread), 1e-12):
        warnings.append("the loss trace has spikes: the step may be too large")
    if settings.burn_in and len(traces[0]) > settings.burn_in:
        late = draws[:, draws.shape[1] // 2 :].mean()
        early = draws[:, : max(1, draws.shape[1] // 2)].mean()
        if abs(late - early) > 0.25 * max(abs(late - initial), 1e-12):
            warnings.append("the trace has not settled: use more burn-in or draws")
    return warnings


def estimate_llc(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn | None = None,
    *,
    settings: LLCSettings | None = None,
) -> LLCResult:
    """λ̂ of ``model`` (at its current weights, w*) on ``data`` — the training samples.

    ``loss_fn(output, target)`` is the mean loss in nats (default: the head the targets call
    for, :func:`~mdlkit.heads.head_for`). The model itself is not changed. A chain is a
    deterministic function of its seed (``settings.seed + 1000·chain``), so the result does not
    depend on the order chains run in.
    """
    settings = settings or LLCSettings()
    settings.validate()
    if len(data) < 2:
        raise MdlkitError("LLC estimation needs at least 2 samples")
    loss_fn = loss_fn if loss_fn is not None else head_for(data)
    n = len(data)
    n_beta = settings.n_beta if settings.n_beta is not None else n / math.log(n)
    initial = _mean_loss(model, data, loss_fn)
    if not math.isfinite(initial):
        raise MdlkitError(f"the loss at w* is {initial}; the model or the data is broken")
    traces = [_chain(model, data, loss_fn, settings, n_beta, c) for c in range(settings.chains)]
    per_chain = tuple(n_beta * (float(np.mean(t[settings.burn_in :])) - initial) for t in traces)
    return LLCResult(
        llc=float(np.mean(per_chain)),
        std=float(np.std(per_chain)),
        per_chain=per_chain,
        traces=tuple(tuple(t) for t in traces),
        initial_loss=initial,
        n_beta=n_beta,
        settings=settings,
        warnings=tuple(_diagnose(traces, initial, settings)),
    )
