"""The two-part mode of the file compressor: a pruned, quantized transformer sent with the data.

The seed paper's setting (Barth & von Petersenn, 2025): train a byte-level transformer on the
file with DRR or R-L1 (or PMMP, or plainly), prune it (random gradient → TAMADE → random
gradient, then fine-tune with the mask frozen), quantize it at the step of the shortest two-part
code — the one pipeline every model of mdlkit goes through (:func:`mdlkit.training.shortest_model`)
— write the weight file (``.mdlw``), DECODE it, and range-code the file with the decoded model.
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
from typing import Any, Literal

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
from mdlkit.regularizers.registry import METHODS
from mdlkit.stopping import LossSaturation
from mdlkit.training import (
    PipelineConfig,
    PruneConfig,
    TrainConfig,
    byte_model_setup,
    byte_regularizer,
    codec_bits_per_nonzero,
    description_length_alpha,
    precision_wrapper,
    shortest_model,
)
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
    method, the number of training bytes and ``bits_per_nonzero`` = c, the weight codec's bits
    per nonzero weight; ``None`` there measures c on the initialised model, as ``fit`` does).
    c = 12 is the default because on this transformer the measured c (7.8 bits at init) gives
    longer archives: 39,493 vs 38,805 bytes on the 100 KB tinyshakespeare prefix at level 1,
    since DRR's penalty 1 − e^(−β|θ|) is far below 1 for weights of a transformer's scale (an
    archive pays ~9.8 bits per nonzero weight, and the surrogate needs more). ``prune_delta`` is
    TAMADE's relative loss tolerance. The step is the one of the shortest two-part code
    (``quant_mode="codelength"``) or the largest within ``quant_delta`` of the validation loss
    (``"tolerance"``); ``grid_epochs`` > 0 fine-tunes on its grid afterwards (off by default:
    after the code-length step it lengthened the same archive by 238 bytes). ``threads`` is the
    torch thread count of training (one: reproducible, and fastest on a busy 2-core machine);
    coding always uses one. ``train=False`` sends an all-zero model (every byte at 8 bits), for
    inputs too small to learn from.
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
    bits_per_nonzero: float | None = 12.0
    prune_delta: float = 0.01
    quant_mode: Literal["codelength", "tolerance"] = "codelength"
    quant_delta: float = 0.005
    grid_epochs: int = 0
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


def default_alpha(
    method: str, n_train: int, beta: float = 5.0, bits_per_nonzero: float = 12.0
) -> float:
    """α per byte from the description length (:func:`mdlkit.training.description_length_alpha`):
    a nonzero weight costs c = ``bits_per_nonzero`` bits in the weight file, so penalising it by
    c · ln 2 nats over ``n_train`` bytes balances model and data bits. DRR's penalty per weight
    is at most 1 and PMMP's is γ ≤ 1; R-L1 charges |θ| (≈ 0.05 for a typical weight here), so it
    gets β times DRR's α (the two agree near θ = 0)."""
    base = description_length_alpha(max(n_train, 1), bits_per_nonzero)
    return {"none": 0.0, "drr": base, "pmmp": base, "l1": beta * base}[method]


def _zero_model(spec: ModelSpec) -> nn.Module:
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model


def _pipeline(plan: TwoPartPlan, method: str, seed: int) -> PipelineConfig:
    """The phases of :func:`mdlkit.training.shortest_model` for ``plan``: no pruning for
    ``"none"``; fine-tuning (pruned, then on the grid) at half the learning rate."""

    def phase(epochs: int, lr: float, seed: int, keep_best: bool = True) -> TrainConfig:
        return TrainConfig(
            max_epochs=epochs, batch_size=plan.batch_size, lr=lr, seed=seed,
            stopping=LossSaturation(), keep_best=keep_best,
        )  # fmt: skip

    return PipelineConfig(
        train=phase(plan.epochs, plan.lr, seed),
        finetune=phase(plan.finetune_epochs, plan.lr / 2, seed + 1) if method != "none" else None,
        prune=PruneConfig(delta=plan.prune_delta, seed=seed),
        quant_mode=plan.quant_mode,
        quant_tolerance=plan.quant_delta,
        grid=phase(plan.grid_epochs, plan.lr / 2, seed + 2, keep_best=False)
        if plan.grid_epochs > 0
        else None,
    )


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
    """The one pipeline (:func:`mdlkit.training.shortest_model`) on a byte transformer: the
    model before quantization, the step of the shortest code, the splits and the figures."""
    spec = plan.spec()
    where = torch.device(device) if device is not None else None
    wrap = precision_wrapper(precision, where or (parallel.device if parallel else None))
    model, splits = byte_model_setup(
        data, spec, seed=seed, context=plan.context, val_fraction=plan.val_fraction,
        test_fraction=plan.test_fraction,
    )  # fmt: skip
    n_train = round(len(data) * (1 - plan.val_fraction - plan.test_fraction))
    bits_per_nonzero = plan.bits_per_nonzero
    if plan.alpha is None and bits_per_nonzero is None:
        # c measured on the initialised model, before training draws a random number
        bits_per_nonzero = codec_bits_per_nonzero(model, spec)
    alpha = (
        plan.alpha
        if plan.alpha is not None
        else default_alpha(method, n_train, plan.beta, bits_per_nonzero or 12.0)
    )
    warmup_epochs = min(plan.warmup_epochs, plan.epochs - 1)
    steps_per_epoch = -(-len(splits.train) // plan.batch_size)
    regularizer = byte_regularizer(
        model, method, alpha, beta=plan.beta, warmup_steps=warmup_epochs * steps_per_epoch
    )
    result = shortest_model(
        model, spec, splits, CategoricalHead(), regularizer, _pipeline(plan, method, seed),
        progress=progress, device=where, parallel=parallel, wrap_model=wrap,
    )  # fmt: skip
    first = result.phases["regularized" if regularizer is not None else "plain"]
    report: dict[str, Any] = {
        "alpha": alpha,
        "codec_bits_per_nonzero": bits_per_nonzero,
        "epochs": len(first.history),
        "regularized_val_bits_per_byte": first.history[first.best_epoch].val_loss / LN2,
        "step_bits": result.step_bits,
    }
    if result.pruning is not None:
        report.update(
            nonzero_regularized=result.pruning.nonzero_before,
            nonzero_pruned=result.pruning.nonzero_after,
            tamade_threshold=result.pruning.tamade.threshold,
            finetune_epochs=len(result.phases["finetuned"].history),
        )
    if "grid" in result.phases:
        report["grid_epochs"] = len(result.phases["grid"].history)
    return model, result.step, splits, report


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
