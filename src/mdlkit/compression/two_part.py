"""The two-part mode of the file compressor: a pruned, quantized transformer sent with the data.

The seed paper's setting (Barth & von Petersenn, 2025): train a byte-level transformer on the
file with DRR or R-L1 (or PMMP, or plainly), prune it (random gradient → TAMADE → random
gradient, then fine-tune with the mask frozen), choose the quantization step by a loss tolerance,
write the weight file (``.mdlw``), DECODE it, and range-code the file with the decoded model.
The description length is the weight file plus the coded data, both real bytes.

This module chooses the model (:func:`plan_two_part`: size, context, training budget per level)
and trains it (:func:`fit_two_part`); the weight file and the chunks are written by
:func:`~mdlkit.compression.chunk_codec.encode_two_part` (read by
:func:`~mdlkit.compression.chunk_codec.decode_two_part`), the settings and sizes are
:mod:`~mdlkit.compression.two_part_code`'s.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from mdlkit.bits import LN2
from mdlkit.coding.weights import decode_model
from mdlkit.compression.chunk_codec import ProbabilityHook, default_chunk, encode_two_part
from mdlkit.compression.two_part_code import TwoPartCode
from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, evaluate
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning import choose_step, count_nonzero
from mdlkit.regularizers.registry import METHODS
from mdlkit.stopping import LossSaturation
from mdlkit.training import PruneConfig, TrainConfig, prune_and_finetune, train_byte_model
from mdlkit.training.distributed import DataParallel

__all__ = ["TwoPartPlan", "default_alpha", "fit_two_part", "plan_two_part"]


@dataclass(frozen=True)
class _Level:
    d_model: int
    n_layers: int
    context: int
    tokens: int  # training budget: bytes seen in the regularized phase (epochs × train bytes)
    max_epochs: int


# Sized on this project's 2-core machine (one training thread): level 1 trains on 100 KB in
# under a minute.
_LEVELS = {
    1: _Level(d_model=64, n_layers=2, context=64, tokens=1_500_000, max_epochs=16),
    2: _Level(d_model=96, n_layers=2, context=128, tokens=4_000_000, max_epochs=24),
    3: _Level(d_model=128, n_layers=3, context=128, tokens=12_000_000, max_epochs=40),
}
_MIN_TRAIN = 2048  # below this many bytes no model is trained (an all-zero model: uniform)


@dataclass(frozen=True)
class TwoPartPlan:
    """How the model of a two-part code is made: its size, training, pruning and coding.

    ``alpha`` is the regularization strength per byte (``None``: :func:`default_alpha` for the
    method and the number of training bytes). ``prune_delta`` is TAMADE's relative loss
    tolerance, ``quant_delta`` the quantization step's. ``threads`` is the torch thread count
    of training (one: reproducible, and fastest on a busy 2-core machine); coding always uses
    one. ``train=False`` sends an all-zero model (every byte at 8 bits), for inputs too small
    to learn from.
    """

    d_model: int
    n_layers: int
    n_heads: int
    context: int
    epochs: int
    finetune_epochs: int
    stride: int
    chunk: int
    batch_size: int = 8
    lr: float = 4e-3
    alpha: float | None = None
    beta: float = 5.0
    warmup_epochs: int = 1
    val_fraction: float = 0.05
    test_fraction: float = 0.02
    prune_delta: float = 0.01
    quant_delta: float = 0.005
    threads: int = 1
    train: bool = True

    def spec(self) -> ModelSpec:
        return ModelSpec(
            "byte_transformer",
            {
                "context": self.context,
                "d_model": self.d_model,
                "n_layers": self.n_layers,
                "n_heads": self.n_heads,
            },
        )


def plan_two_part(length: int, level: int = 2) -> TwoPartPlan:
    """The plan for ``length`` bytes at ``level`` (1 fast … 3 slower and better).

    The level sets width, depth, context and a training budget in bytes seen (so a small file
    gets more epochs, up to a cap); a small file gets a narrower model (d_model halved until the
    parameters are at most twice the file's bytes: pruning removes most of them) and a shorter
    context; below 2 KiB no model is trained.

    >>> plan_two_part(100_000, level=1).d_model, plan_two_part(3_000, level=1).d_model
    (64, 16)
    >>> plan_two_part(100_000, level=1).epochs
    16
    """
    if level not in _LEVELS:
        raise MdlkitError(f"level must be one of {sorted(_LEVELS)}, got {level!r}")
    if length < 0:
        raise MdlkitError(f"length must be >= 0, got {length}")
    lv = _LEVELS[level]
    chunk = default_chunk(length)
    if length < _MIN_TRAIN:
        return TwoPartPlan(16, 1, 1, 16, 1, 1, stride=16, chunk=chunk, train=False)
    d_model, context = lv.d_model, lv.context
    # ~12·d² parameters per layer plus 2·256·d for the embedding and the output layer
    while d_model > 16 and lv.n_layers * 12 * d_model**2 + 512 * d_model > 2 * length:
        d_model //= 2
    # the validation range must hold a few windows
    while context > 16 and 0.05 * length < 4 * (context + 1):
        context //= 2
    epochs = max(1, min(lv.max_epochs, round(lv.tokens / (0.93 * length))))
    return TwoPartPlan(
        d_model=d_model,
        n_layers=lv.n_layers,
        n_heads=max(1, min(4, d_model // 16)),
        context=context,
        epochs=epochs,
        finetune_epochs=max(1, epochs // 5),
        stride=context // 2,
        chunk=chunk,
    )


def default_alpha(method: str, n_train: int, beta: float = 5.0) -> float:
    """α per byte: a nonzero weight costs about 12 bits (≈ 8.3 nats) in the weight file, so
    penalising it by that much over ``n_train`` bytes balances model and data bits. DRR's
    penalty per weight is at most 1 and PMMP's is γ ≤ 1; R-L1 charges |θ| (≈ 0.05 for a
    typical weight here), so it gets β times DRR's α (the two agree near θ = 0)."""
    base = 12 * LN2 / max(n_train, 1)
    return {"none": 0.0, "drr": base, "pmmp": base, "l1": beta * base}[method]


def _zero_model(spec: ModelSpec) -> nn.Module:
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model


def _train(
    data: bytes,
    plan: TwoPartPlan,
    method: str,
    seed: int,
    progress: bool,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    parallel: DataParallel | None = None,
) -> tuple[nn.Module, float, Any, dict[str, Any]]:
    """Regularize → prune → fine-tune (no pruning for ``"none"``) → quantization step: the
    model before quantization, the step, the splits and the training figures."""
    spec = plan.spec()
    n_train = round(len(data) * (1 - plan.val_fraction - plan.test_fraction))
    alpha = plan.alpha if plan.alpha is not None else default_alpha(method, n_train, plan.beta)
    trained = train_byte_model(
        data,
        spec,
        method=method,  # type: ignore[arg-type]
        alpha=alpha,
        beta=plan.beta,
        epochs=plan.epochs,
        seed=seed,
        context=plan.context,
        batch_size=plan.batch_size,
        lr=plan.lr,
        warmup_epochs=min(plan.warmup_epochs, plan.epochs - 1),
        val_fraction=plan.val_fraction,
        test_fraction=plan.test_fraction,
        progress=progress,
        device=device,
        precision=precision,
        parallel=parallel,
    )
    model, splits, history = trained.model, trained.splits, trained.result.history
    report: dict[str, Any] = {
        "alpha": alpha,
        "epochs": len(history),
        "regularized_val_bits_per_byte": history[trained.result.best_epoch].val_loss / LN2,
        "nonzero_regularized": count_nonzero(model),
    }
    if method != "none":
        pruned, finetuned = prune_and_finetune(
            model,
            splits,
            TrainConfig(
                max_epochs=plan.finetune_epochs,
                batch_size=plan.batch_size,
                lr=plan.lr / 2,
                seed=seed + 1,
                stopping=LossSaturation(),
            ),
            PruneConfig(delta=plan.prune_delta, seed=seed),
            loss_fn=CategoricalHead(),
            progress=progress,
            device=device,
            parallel=parallel,
        )
        report.update(
            nonzero_pruned=pruned.nonzero_after,
            tamade_threshold=pruned.tamade.threshold,
            finetune_epochs=len(finetuned.history),
        )
    step = choose_step(model, lambda m: evaluate(m, splits.val), delta=plan.quant_delta)
    return model, step, splits, report


def fit_two_part(
    data: bytes,
    *,
    level: int = 2,
    method: str = "drr",
    seed: int = 0,
    progress: bool = False,
    plan: TwoPartPlan | None = None,
    probabilities: ProbabilityHook | None = None,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    parallel: DataParallel | None = None,
) -> TwoPartCode:
    """Train, prune, quantize and encode a transformer for ``data``, then code ``data`` with the
    decoded model (see :mod:`~mdlkit.compression.chunk_codec`).

    Args:
        data: the file's bytes (any length, also 0).
        level: 1 fast … 3 slower and better (:func:`plan_two_part`).
        method: ``"drr"``, ``"l1"`` (R-L1), ``"pmmp"`` or ``"none"`` (no penalty and no pruning,
            only quantization).
        seed: seeds the initial weights and the batch order.
        progress: progress bars for the training phases.
        plan: overrides the level's plan.
        probabilities: a debugging hook that sees every probability row used (see
            :data:`ProbabilityHook`).
        device, precision, parallel: where and how the transformer trains (see
            :func:`mdlkit.training.train_byte_model`); coding runs on the CPU in float32 always.
            In a data-parallel run pruning is rank 0's (broadcast); the step choice and the
            encoding are deterministic and run on every rank, and the caller's rank 0 writes.

    The result's ``report`` holds the plan, α, epochs, nonzero counts after each phase and the
    seconds of training and of encoding.
    """
    if method not in METHODS:
        raise MdlkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    data = bytes(data)
    plan = plan if plan is not None else plan_two_part(len(data), level)
    started = time.perf_counter()
    report: dict[str, Any] = {"method": method, "level": level, "plan": asdict(plan)}
    splits = None
    if plan.train:
        with torch_threads(plan.threads):
            model, step, splits, figures = _train(
                data, plan, method, seed, progress, device, precision, parallel
            )
        report.update(figures)
    else:
        model, step = _zero_model(plan.spec()), 1.0
        report["method"] = "none (too little data: an all-zero model, uniform bytes)"
    report["train_seconds"] = time.perf_counter() - started
    coding_started = time.perf_counter()
    code = encode_two_part(
        model,
        plan.spec(),
        step,
        data,
        stride=plan.stride,
        context=plan.context,
        chunk=plan.chunk,
        probabilities=probabilities,
    )
    report["encode_seconds"] = time.perf_counter() - coding_started
    test_bits = None
    if splits is not None:
        with torch_threads(plan.threads):
            decoded = decode_model(code.model)
            test_bits = evaluate(decoded, splits.test, CategoricalHead()).loss / LN2
    return dataclasses.replace(code, test_bits_per_byte=test_bits, report=report)
