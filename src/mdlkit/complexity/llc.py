"""The local learning coefficient λ̂ by Langevin sampling of a localized tempered posterior
(llc.md).

Around a trained point w*, sample p(w) ∝ exp(−nβ·L_n(w) − (γ/2)·‖w − w*‖²) with Langevin steps

    w ← w − (ε/2)·[nβ·∇L_B(w) + γ·(w − w*)] + √ε·ξ,   ξ ~ N(0, I),

and estimate λ̂ = nβ·(E[L_B(w)] − L_n(w*)), the expectation over the draws after burn-in, the
loss being the one of each step's own forward pass (no extra passes). L_n is the mean per-sample
loss in nats; nβ defaults to n / ln n. On the full batch (the default) each step is a proposal
that :class:`~mdlkit.complexity.MALA` keeps or refuses, so the chain samples p exactly and ε only
sets the speed (tuned in the burn-in); with minibatches it is plain SGLD, whose stationary law is
p only as ε → 0. Several chains with their own seeds give the mean and the spread; every setting
is kept with the value, since λ̂ is only comparable at the same settings. Minibatches come from
the training loop's :class:`~mdlkit.training.Batches`.

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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from mdlkit.complexity.loss import LossFn, mean_loss
from mdlkit.complexity.mala import MALA
from mdlkit.complexity.sgld import SGLD
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import head_for
from mdlkit.training.batches import Batches, ShuffledBatches

__all__ = ["LLCResult", "LLCSettings", "estimate_llc"]


@dataclass(frozen=True)
class LLCSettings:
    """Everything λ̂ depends on. ``n_beta`` None → n / ln n; ``batch_size`` None → full batch;
    ``sampler`` "auto" (MALA on the full batch, SGLD with minibatches or a caller's batches),
    "mala" (:class:`~mdlkit.complexity.MALA`), "sgld" or "rmsprop"
    (:class:`~mdlkit.complexity.SGLD` with ``rmsprop=0.99``); ``adapt_step``: MALA tunes ε
    during the burn-in toward its optimal acceptance rate, starting from ``step`` (SGLD keeps
    ``step``).

    The defaults (``benchmarks/results/llc_accuracy.md``, ``llc_deep_linear.md``): full batch —
    minibatch gradient noise heats the chain and λ̂ rises with it —, MALA with its step tuned in
    the burn-in from ε = 1e-4, γ = 1, 4 chains of 1000 + 4000 steps. Plain SGLD at ε = 1e-4
    met the bands on two-layer toys but overshot three- and four-layer deep linear networks by
    12–25 %: the chain drifts along the layers' rescaling symmetry into curvature near SGLD's
    stability limit; MALA's accept test removes that step bias.
    """

    step: float = 1e-4
    gamma: float = 1.0
    n_beta: float | None = None
    chains: int = 4
    burn_in: int = 1000
    draws: int = 4000
    batch_size: int | None = None
    seed: int = 0
    sampler: Literal["auto", "mala", "sgld", "rmsprop"] = "auto"
    adapt_step: bool = True

    def validate(self) -> None:
        if not (self.step > 0 and math.isfinite(self.step)):
            raise MdlkitError(f"the SGLD step must be > 0, got {self.step}")
        if not (self.gamma >= 0 and math.isfinite(self.gamma)):
            raise MdlkitError(f"the localization γ must be >= 0, got {self.gamma}")
        if self.step * self.gamma >= 2:
            raise MdlkitError(
                f"ε·γ = {self.step * self.gamma:g} >= 2 makes SGLD unstable; lower the step "
                "or γ (keep ε·γ well below 1)"
            )
        if self.n_beta is not None and not (self.n_beta > 0 and math.isfinite(self.n_beta)):
            raise MdlkitError(f"nβ must be > 0, got {self.n_beta}")
        if self.chains < 1 or self.draws < 1 or self.burn_in < 0:
            raise MdlkitError("chains and draws must be >= 1 and burn-in >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise MdlkitError(f"batch size must be >= 1, got {self.batch_size}")
        if self.sampler not in ("auto", "mala", "sgld", "rmsprop"):
            raise MdlkitError(
                f"unknown sampler {self.sampler!r}; choose auto, mala, sgld or rmsprop"
            )
        if self.sampler == "mala" and self.batch_size is not None:
            raise MdlkitError(
                "the mala sampler tests each step on the full-batch loss; drop the batch size "
                "or choose the sgld sampler"
            )

    def resolved(self, custom_batches: bool = False) -> LLCSettings:
        """These settings with "auto" replaced by the sampler that runs: MALA on the full
        batch, SGLD when a batch size or a caller's batches are given."""
        if self.sampler != "auto":
            return self
        minibatch = self.batch_size is not None or custom_batches
        return replace(self, sampler="sgld" if minibatch else "mala")


@dataclass(frozen=True)
class LLCResult:
    """λ̂ (mean over chains), its std across chains, each chain's value, each chain's loss
    trace (nats, burn-in included), L_n(w*), nβ, the mean squared distance ‖w − w*‖² over the
    draws, the settings (the sampler resolved), ``warnings`` in words, the step the draws used
    (the geometric mean over chains of MALA's tuned ε; ``settings.step`` for SGLD) and MALA's
    acceptance rate over the draws (nan for SGLD)."""

    llc: float
    std: float
    per_chain: tuple[float, ...]
    traces: tuple[tuple[float, ...], ...]
    initial_loss: float
    n_beta: float
    settings: LLCSettings
    warnings: tuple[str, ...] = field(default=())
    distance: float = 0.0
    seconds: float = 0.0
    step_used: float = math.nan
    acceptance: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """Everything but the traces, JSON-ready."""
        return {
            "llc": self.llc,
            "std": self.std,
            "per_chain": list(self.per_chain),
            "initial_loss": self.initial_loss,
            "n_beta": self.n_beta,
            "distance": self.distance,
            "seconds": self.seconds,
            "step_used": self.step_used,
            "acceptance": None if math.isnan(self.acceptance) else self.acceptance,
            "settings": asdict(self.settings),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _ChainRun:
    """One chain: its loss trace, mean ‖w − w*‖² over the draws, the step of its draws and
    MALA's acceptance rate over them (nan for SGLD)."""

    trace: list[float]
    distance: float
    step: float
    acceptance: float


def _chain(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn,
    settings: LLCSettings,
    n_beta: float,
    chain: int,
    batches: Callable[[int], Batches],
    advance: Callable[[], None] = lambda: None,
) -> _ChainRun:
    """One chain of ``settings.sampler`` (resolved: mala, sgld or rmsprop)."""
    sampler = copy.deepcopy(model)
    sampler.train(False)
    seed = settings.seed + 1000 * chain
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in sampler.parameters() if p.requires_grad]
    center = [p.detach().clone() for p in params]
    trace: list[float] = []
    distance = 0.0
    total = settings.burn_in + settings.draws

    def record(value: float) -> None:
        nonlocal distance
        if not math.isfinite(value):
            raise MdlkitError(
                f"chain {chain}: the loss became {value} after {len(trace)} steps; "
                f"the step {settings.step:g} is too large — lower it"
            )
        if len(trace) >= settings.burn_in:
            with torch.no_grad():
                distance += sum(
                    float((p - c).square().sum()) for p, c in zip(params, center, strict=True)
                )
        trace.append(value)
        advance()

    if settings.sampler == "mala":
        adapt = settings.burn_in if settings.adapt_step else 0
        mala = MALA(params, step=settings.step, n_beta=n_beta, gamma=settings.gamma,
                    adapt=adapt, generator=generator)  # fmt: skip

        def closure() -> torch.Tensor:
            mala.zero_grad(set_to_none=True)
            loss = loss_fn(sampler(data.x), data.y)
            loss.backward()
            return loss

        while len(trace) < total:
            record(mala.step(closure))
        return _ChainRun(trace, distance / settings.draws, mala.step_size, mala.acceptance)
    rmsprop = 0.99 if settings.sampler == "rmsprop" else None
    opt = SGLD(params, step=settings.step, n_beta=n_beta, gamma=settings.gamma,
               rmsprop=rmsprop, generator=generator)  # fmt: skip
    source = batches(seed)
    while len(trace) < total:
        for x, y in source.epoch(data):
            loss = loss_fn(sampler(x), y)
            record(float(loss.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if len(trace) == total:
                break
    return _ChainRun(trace, distance / settings.draws, settings.step, math.nan)


def _diagnose(
    traces: list[list[float]],
    initial: float,
    settings: LLCSettings,
    llc: float,
    d: int,
    distance: float,
    acceptance: float = math.nan,
) -> list[str]:
    """Warnings in words. ``localizer`` is the localizer's share of equipartition: at
    stationarity E[(w − w*)·∇U] = d for the potential U = nβ·L + (γ/2)‖w − w*‖², of which the
    localizer takes γ·E‖w − w*‖²; near 1, the loss confines almost nothing."""
    localizer = settings.gamma * distance / d
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
    if settings.burn_in and draws.shape[1] >= 2:
        late = draws[:, draws.shape[1] // 2 :].mean()
        early = draws[:, : draws.shape[1] // 2].mean()
        if abs(late - early) > 0.25 * max(abs(late - initial), 1e-12):
            warnings.append("the trace has not settled: use more burn-in or draws")
    if llc > 1.1 * d / 2:  # 10 % above: a regular model's λ̂ scatters around d/2 itself
        warnings.append(
            f"λ̂ = {llc:.3g} exceeds d/2 = {d / 2:g}, the most any model with d = {d} parameters "
            "can have: the step is too large (or the chains have not settled)"
        )
    if acceptance < 0.15:
        warnings.append(
            f"MALA kept only {100 * acceptance:.0f} % of its proposals: the chains barely "
            "moved — lower the step (or keep adapt_step on)"
        )
    if localizer > 0.9:
        warnings.append(
            f"the localizer dominates: it takes {100 * localizer:.0f} % of the sampler's "
            "equipartition (γ·E‖w − w*‖² / d), so λ̂ measures γ more than the loss — lower γ"
        )
    return warnings


def _geometric_mean(values: list[float]) -> float:
    """exp(mean ln v); exactly the value when all are equal (a step that was not tuned)."""
    if len(set(values)) == 1:
        return values[0]
    return math.exp(float(np.mean(np.log(values))))


def _progress_bar(total: int, enabled: bool) -> Progress:
    return Progress(
        TextColumn("LLC sampling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


def estimate_llc(
    model: nn.Module,
    data: Split,
    loss_fn: LossFn | None = None,
    *,
    settings: LLCSettings | None = None,
    batches: Callable[[int], Batches] | None = None,
    progress: bool = False,
    device: torch.device | str | None = None,
) -> LLCResult:
    """λ̂ of ``model`` (at its current weights, w*) on ``data`` — the training samples.

    ``loss_fn(output, target)`` is the mean loss in nats (default: the head the targets call
    for, :func:`~mdlkit.heads.head_for`). ``batches(seed)`` gives a chain the training loop's
    :class:`~mdlkit.training.Batches` (default: :class:`~mdlkit.training.ShuffledBatches` of
    ``settings.batch_size`` seeded by the chain's seed, ``settings.seed + 1000·chain``). The
    model itself is not changed. Each chain is a deterministic function of its seed, so the
    result does not depend on the order chains run in. ``progress`` shows a bar on stderr.
    ``device``: where the chains run (a copy of the model and of ``data`` go there; the noise is
    drawn on the CPU, so a chain's random numbers do not depend on the device).
    """
    settings = settings or LLCSettings()
    settings.validate()
    if len(data) < 2:
        raise MdlkitError("LLC estimation needs at least 2 samples")
    settings = settings.resolved(custom_batches=batches is not None)
    if settings.sampler == "mala" and batches is not None:
        raise MdlkitError(
            "the mala sampler tests each step on the full-batch loss; with your own batches "
            "choose the sgld sampler"
        )
    loss_fn = loss_fn if loss_fn is not None else head_for(data)
    if device is not None:
        model = copy.deepcopy(model).to(device)
        data = Split(data.x.to(device), data.y.to(device))
        if isinstance(loss_fn, nn.Module):
            loss_fn = copy.deepcopy(loss_fn).to(device)
    if batches is None:
        size = settings.batch_size
        batches = lambda seed: ShuffledBatches(size, seed)  # noqa: E731
    n = len(data)
    n_beta = settings.n_beta if settings.n_beta is not None else n / math.log(n)
    initial = mean_loss(model, data, loss_fn)
    if not math.isfinite(initial):
        raise MdlkitError(f"the loss at w* is {initial}; the model or the data is broken")
    started = time.perf_counter()
    steps = settings.burn_in + settings.draws
    with _progress_bar(settings.chains * steps, progress) as bar:
        task = bar.add_task("", total=settings.chains * steps)
        runs = [
            _chain(model, data, loss_fn, settings, n_beta, c, batches, lambda: bar.advance(task))
            for c in range(settings.chains)
        ]
    traces = [run.trace for run in runs]
    distance = float(np.mean([run.distance for run in runs]))
    per_chain = tuple(n_beta * (float(np.mean(t[settings.burn_in :])) - initial) for t in traces)
    llc = float(np.mean(per_chain))
    d = sum(p.numel() for p in model.parameters() if p.requires_grad)
    acceptance = float(np.mean([run.acceptance for run in runs]))
    return LLCResult(
        llc=llc,
        std=float(np.std(per_chain)),
        per_chain=per_chain,
        traces=tuple(tuple(t) for t in traces),
        initial_loss=initial,
        n_beta=n_beta,
        settings=settings,
        warnings=tuple(_diagnose(traces, initial, settings, llc, d, distance, acceptance)),
        distance=distance,
        seconds=time.perf_counter() - started,
        step_used=_geometric_mean([run.step for run in runs]),
        acceptance=acceptance,
    )
