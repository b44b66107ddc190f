"""Training a next-token model on a byte string (or any token sequence) with a regularizer.

:func:`train_byte_model` is the one call: windows of contiguous train / validation / test ranges
(:func:`mdlkit.data.sequence_splits`), the model a :class:`~mdlkit.models.ModelSpec` builds, a
method of :class:`~mdlkit.regularizers.RegularizerSpec` (``none``, ``drr``, ``l1``, ``pmmp``)
and the ordinary loop (:func:`mdlkit.training.train`, Adam, the categorical head). The loss is
the mean next-token cross-entropy in nats per token; the strength α is per token likewise.

Pruning and coding follow as for any model: :func:`mdlkit.training.prune` on
``result.splits`` (TAMADE on the validation loss, random gradient pruning with token inputs),
then :func:`mdlkit.pruning.choose_step` and :func:`mdlkit.coding.encode_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from mdlkit.bits import LN2
from mdlkit.data.sequences import TokenData, sequence_splits
from mdlkit.data.splits import Splits
from mdlkit.devices import PRECISIONS, AutocastForward
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, evaluate
from mdlkit.models.sequence import norm_parameter_names
from mdlkit.models.spec import ModelSpec
from mdlkit.regularizers.base import Regularizer, masked
from mdlkit.regularizers.registry import RegularizerSpec
from mdlkit.regularizers.schedules import LinearWarmup
from mdlkit.stopping import LossSaturation
from mdlkit.training.callbacks import Callback
from mdlkit.training.distributed import DataParallel
from mdlkit.training.loop import train
from mdlkit.training.state import TrainConfig, TrainResult

__all__ = [
    "TrainedByteModel",
    "byte_model_setup",
    "byte_regularizer",
    "precision_wrapper",
    "train_byte_model",
]

_SATURATION = LossSaturation()


@dataclass
class TrainedByteModel:
    """A trained next-token model, the spec it was built from, its data and its training log
    (``result.history``: one :class:`~mdlkit.training.EpochLog` per epoch, losses in nats per
    token)."""

    model: nn.Module
    spec: ModelSpec
    splits: Splits
    result: TrainResult

    def bits_per_token(self, part: Literal["train", "val", "test"] = "test") -> float:
        """Mean −log2 p(next token) over ``part``'s targets: bits per byte for byte data."""
        return evaluate(self.model, getattr(self.splits, part), CategoricalHead()).loss / LN2


def train_byte_model(
    data: TokenData,
    spec: ModelSpec,
    *,
    method: Literal["none", "drr", "l1", "pmmp"] = "drr",
    alpha: float = 1e-4,
    beta: float = 5.0,
    epochs: int = 20,
    seed: int = 0,
    context: int | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    warmup_epochs: int = 1,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    regularize_norms: bool = False,
    stopping: LossSaturation | None = _SATURATION,
    progress: bool = False,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    parallel: DataParallel | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainedByteModel:
    """Train the model ``spec`` builds on next-token prediction over ``data``.

    Args:
        data: bytes, or token ids below the model's ``vocab_size``.
        spec: e.g. ``ModelSpec("byte_transformer", {...})`` or ``ModelSpec("byte_rnn", {...})``.
        method: the regularizer (``"none"`` trains plainly).
        alpha: its strength α ≥ 0 per token (the penalty is added to the mean loss per token),
            reached linearly over the first ``warmup_epochs`` epochs.
        beta: DRR's sharpness β.
        epochs: at most this many epochs (fewer if ``stopping`` finds the loss saturated).
        seed: seeds the model's initial weights and the batch order.
        context: tokens per training window (default: the model's ``context``, else 64).
        batch_size: windows per optimizer step.
        lr: Adam's learning rate.
        val_fraction, test_fraction: the contiguous tail ranges held out (validation, then test).
        regularize_norms: also regularize LayerNorm gains and shifts (off: they are scales, not
            connections).
        stopping: the loss-saturation rule, or None for exactly ``epochs`` epochs.
        progress: show a progress bar.
        device: where to train (see :func:`mdlkit.training.train`; the model comes back on the
            CPU).
        precision: ``"bf16"`` trains under bfloat16 autocast (for GPUs,
            :class:`mdlkit.devices.AutocastForward`), ``"fp32"`` in float32.
        parallel: this rank of a data-parallel run (torchrun): each rank takes its share of every
            batch of windows (see :mod:`mdlkit.training.distributed`).
        callbacks: called after every epoch (see :class:`mdlkit.training.Callback`).

    The model keeps the epoch with the best validation objective (:func:`mdlkit.training.train`).

    >>> from mdlkit.models import ModelSpec
    >>> spec = ModelSpec("byte_rnn", {"d_embed": 8, "d_hidden": 32})
    >>> trained = train_byte_model(
    ...     b"abracadabra " * 200, spec, method="l1", epochs=5, context=16, lr=1e-2
    ... )
    >>> trained.bits_per_token("test") < 4.0  # a uniform code over bytes costs 8 bits
    True
    >>> len(trained.result.history), trained.splits.train.x.shape  # epochs; windows × context
    (5, torch.Size([119, 16]))
    """
    if epochs < 1 or warmup_epochs < 0:
        raise MdlkitError("epochs must be >= 1 and warmup_epochs >= 0")
    where = torch.device(device) if device is not None else None
    if where is None and parallel is not None:
        where = parallel.device
    wrap = precision_wrapper(precision, where)
    model, splits = byte_model_setup(
        data, spec, seed=seed, context=context, val_fraction=val_fraction,
        test_fraction=test_fraction,
    )  # fmt: skip
    steps_per_epoch = -(-len(splits.train) // batch_size)
    regularizer = byte_regularizer(
        model, method, alpha, beta=beta, warmup_steps=warmup_epochs * steps_per_epoch,
        regularize_norms=regularize_norms,
    )  # fmt: skip
    config = TrainConfig(
        max_epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, stopping=stopping
    )
    result = train(
        model,
        splits.train,
        splits.val,
        config,
        regularizer=regularizer,
        loss_fn=CategoricalHead(),
        progress=progress,
        description=f"{spec.kind} ({method})",
        device=where,
        parallel=parallel,
        callbacks=callbacks,
        wrap_model=wrap,
    )
    return TrainedByteModel(model, spec, splits, result)


def precision_wrapper(
    precision: str, device: torch.device | None
) -> Callable[[nn.Module], nn.Module] | None:
    """The training loop's ``wrap_model`` for ``precision``: bf16 autocast on ``device``'s kind
    (:class:`mdlkit.devices.AutocastForward`), or None for float32."""
    if precision not in PRECISIONS:
        raise MdlkitError(f"unknown precision {precision!r}; use fp32 or bf16")
    if precision != "bf16":
        return None
    kind = (device or torch.device("cpu")).type
    return lambda m: AutocastForward(m, kind, precision)


def byte_model_setup(
    data: TokenData,
    spec: ModelSpec,
    *,
    seed: int = 0,
    context: int | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> tuple[nn.Module, Splits]:
    """What training a next-token model starts from: the model ``spec`` builds under ``seed``
    and the windows of ``context`` tokens (default: the model's, else 64) of the contiguous
    train / validation / test ranges (:func:`mdlkit.data.sequence_splits`)."""
    vocab_size = int(spec.kwargs.get("vocab_size", 256))
    if context is None:
        context = int(spec.kwargs.get("context", 64))
    model_context = spec.kwargs.get("context")
    if model_context is not None and context > model_context:
        raise MdlkitError(f"context {context} is longer than the model's ({model_context})")
    splits = sequence_splits(
        data,
        context,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        vocab_size=vocab_size,
    )
    torch.manual_seed(seed)
    return spec.build(), splits


def byte_regularizer(
    model: nn.Module,
    method: str,
    alpha: float,
    *,
    beta: float = 5.0,
    warmup_steps: int = 0,
    regularize_norms: bool = False,
) -> Regularizer | None:
    """The regularizer of a next-token model: ``method`` at strength ``alpha`` per token,
    reached linearly over ``warmup_steps`` optimizer steps, LayerNorm gains and shifts exempt
    (they are scales, not connections) unless ``regularize_norms``; None for ``"none"``."""
    regularizer = RegularizerSpec(method, alpha=alpha, beta=beta).build(
        LinearWarmup(alpha, warmup_steps=warmup_steps)
    )
    if regularizer is not None and not regularize_norms:
        exempt = norm_parameter_names(model)
        regularizer = masked(regularizer, lambda name, _: name not in exempt)
    return regularizer
