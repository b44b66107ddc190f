"""The training loop: an optimizer over shuffled minibatches, a regularizer, a frozen mask, early
stopping, and checkpoints that make a killed run resume to the same result.

The pieces a different run needs are arguments with today's behaviour as defaults: the optimizer
(``optimizer=``, fused Adam), the batches (``batches=``, a seeded random permutation per epoch),
what the forward pass runs through (``wrap_model=``, e.g. DDP) and what happens after each epoch
(``callbacks=``), the device (``device=``) and the ranks of a data-parallel run (``parallel=``,
see :mod:`mdlkit.training.distributed`). Randomness: minibatch order comes from a generator
seeded by ``TrainConfig.seed``; model initialisation is the caller's (seed torch before building
the model).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import Head, evaluate, head_for
from mdlkit.pruning.masks import Mask, count_nonzero
from mdlkit.regularizers.base import NamedParams, Regularizer
from mdlkit.training.batches import Batches, ShuffledBatches
from mdlkit.training.callbacks import Callback, Checkpointer, EpochLogger, ProgressBar, Stateful
from mdlkit.training.distributed import DataParallel
from mdlkit.training.optimizers import OptimizerFactory, fused_adam
from mdlkit.training.state import EpochLog, TrainConfig, TrainResult, TrainState

__all__ = ["EpochLog", "TrainConfig", "TrainResult", "train"]


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    config: TrainConfig,
    *,
    regularizer: Regularizer | None = None,
    mask: Mask | None = None,
    loss_fn: Head | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 30.0,
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: bool = False,
    description: str = "training",
    optimizer: OptimizerFactory = fused_adam,
    batches: Batches | None = None,
    wrap_model: Callable[[nn.Module], nn.Module] | None = None,
    callbacks: Sequence[Callback] = (),
    device: torch.device | str | None = None,
    parallel: DataParallel | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the best (or last) snapshot.

    Args:
        regularizer: its penalty is added to the mean batch loss; its own variables (PMMP) are
            optimized with the model.
        mask: applied before training and after every optimizer step (pruned stays zero).
        loss_fn: the head: ``loss_fn(output, target)`` → mean loss in nats; its parameters (a
            learned σ) are trained too. Default: :func:`mdlkit.heads.head_for` the split
            (cross-entropy for class labels, ½ squared error for real targets).
        checkpoint: a file written after the first epoch, then after any epoch that ends at
            least ``checkpoint_seconds`` after the last write, and at the end; if it exists,
            training resumes from it and ends exactly as an uninterrupted run would. Resume with
            the same ``optimizer`` and ``batches`` as the run that wrote it.
        on_epoch: called with each epoch's log after its checkpoint is written.
        progress: show a progress bar on stderr, titled ``description``.
        optimizer: builds the optimizer over the model's parameters, the regularizer's variables
            and the loss's parameters, in that order (default: fused Adam at ``config.lr``).
        batches: the training batches of each epoch (default: shuffled minibatches of
            ``config.batch_size`` in an order seeded by ``config.seed``).
        wrap_model: what the training forward pass runs through, e.g. ``DistributedDataParallel``;
            masks, snapshots, checkpoints and validation use ``model`` itself.
        callbacks: called after the checkpoint and the progress bar, before ``on_epoch``.
        device: where to train (batches are moved there one at a time); the model and the head
            are handed back on the CPU, where everything that codes runs. ``None``: where the
            model is, and nothing is moved.
        parallel: this rank of a data-parallel run: ``batches`` are sharded, the forward pass
            (after ``wrap_model``) runs through DDP, a learned σ's gradient is averaged, the
            training loss is summed over ranks and rank 0's stopping decision is every rank's.
            Every rank must make the same call; its ``device`` is the default ``device``.

    The monitored quantity is the validation objective: mean data loss plus the penalty. The best
    snapshot is compared at the CURRENT strength (its penalty is recomputed), so a strength
    schedule does not make early, unregularized weights look best. Training stops when the
    objective has saturated and the regularizer reports convergence, or at ``max_epochs``.
    """
    if len(train_split) == 0 or len(val_split) == 0:
        raise MdlkitError("cannot train on an empty dataset; check the data and the split sizes")
    loss_fn = loss_fn if loss_fn is not None else head_for(train_split)
    if device is None and parallel is not None:
        device = parallel.device
    if device is not None:  # before the optimizer and PMMP's variables see the parameters
        model.to(device)
        loss_fn.to(device)
    named = list(model.named_parameters())
    extra = regularizer.extra_parameters(named) if regularizer is not None else []
    opt = optimizer([p for _, p in named] + extra + list(loss_fn.parameters()), config)
    batches = batches if batches is not None else ShuffledBatches(config.batch_size, config.seed)
    forward = wrap_model(model) if wrap_model is not None else model
    if parallel is not None:
        forward = parallel.wrap(forward)
        # Checkpoints store the inner batches' state (the same on every rank).
        batches = parallel.shard(batches)

    # What a checkpoint stores besides the TrainState, each under its name.
    parts: dict[str, Stateful] = {
        "model": model,
        "optimizer": opt,
        "loss_fn": loss_fn,
        "batches": batches,
    }
    if regularizer is not None:
        parts["regularizer"] = regularizer
    hooks: list[Callback] = []
    state = TrainState()
    if checkpoint is not None:
        fingerprint = f"{config!r}|{regularizer!r}|n={len(train_split)}"
        if key := loss_fn.checkpoint_key():  # e.g. a teacher's soft labels
            fingerprint += f"|{key}"
        checkpointer = Checkpointer(checkpoint, parts, fingerprint, checkpoint_seconds)
        state = checkpointer.restore()
        if parallel is not None:
            parallel.check_same(f"the epochs done in {checkpoint}", len(state.history))
        hooks.append(checkpointer)
    hooks.append(ProgressBar(description, enabled=progress))
    hooks.extend(callbacks)
    if on_epoch is not None:
        hooks.append(EpochLogger(on_epoch))
    if mask is not None:
        mask.apply(model)

    for hook in hooks:
        hook.on_start(config, state)
    try:
        for epoch in range(len(state.history), 0 if state.done else config.max_epochs):
            forward.train()
            total, seen = 0.0, 0
            for x, y in batches.epoch(train_split):
                if device is not None:
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = loss_fn(forward(x), y)
                objective = loss
                if regularizer is not None:
                    term = regularizer.loss_term(named, state.step)
                    if term is not None:
                        objective = loss + term
                if not torch.isfinite(objective):
                    value = float(objective.detach())
                    raise MdlkitError(
                        f"{description}: the loss became {value} at epoch {epoch}; "
                        "lower the learning rate or the strength (the last good checkpoint is kept)"
                    )
                opt.zero_grad(set_to_none=True)
                objective.backward()  # under DDP: returns with the gradients averaged
                if parallel is not None:
                    parallel.average_gradients(list(loss_fn.parameters()))
                if regularizer is not None:
                    regularizer.add_gradient(named, state.step)
                opt.step()
                if regularizer is not None:
                    regularizer.after_step(named, state.step)
                if mask is not None:
                    mask.apply(model)
                total += float(loss.detach()) * len(x)
                seen += len(x)
                state.step += 1
            if parallel is not None:
                total, seen_all = parallel.sum([total, seen])
                seen = int(seen_all)
            if seen == 0:
                raise MdlkitError(f"{description}: the batches of epoch {epoch} were empty")

            log = _epoch_log(
                model, named, val_split, loss_fn, regularizer, state.step, epoch, total / seen
            )
            if not math.isfinite(log.val_objective):
                raise MdlkitError(
                    f"{description}: the validation loss became {log.val_objective} at epoch "
                    f"{epoch}; lower the learning rate (the last good checkpoint is kept)"
                )
            state.history.append(log)
            if config.keep_best:
                _keep_if_best(model, loss_fn, named, regularizer, state)
            state.saturated = (
                config.stopping is not None
                and config.stopping.should_stop([e.val_objective for e in state.history])
                and (regularizer is None or regularizer.converged(named))
            )
            if parallel is not None:
                state.saturated = parallel.agree(state.saturated)
            state.done = state.saturated or epoch + 1 == config.max_epochs
            if state.done:
                _finish(model, loss_fn, state, config)
            for hook in hooks:
                hook.on_epoch(log, state)
            if state.done:
                break
    finally:
        for hook in hooks:
            hook.on_end(state)
    if device is not None:
        model.to("cpu")
        loss_fn.to("cpu")
    return state.result()


def _penalty(regularizer: Regularizer | None, params: NamedParams, step: int) -> float:
    if regularizer is None:
        return 0.0
    with torch.no_grad():
        value = regularizer.penalty(params, step)
    return 0.0 if value is None else float(value)


def _epoch_log(
    model: nn.Module,
    named: NamedParams,
    val_split: Split,
    loss_fn: Head,
    regularizer: Regularizer | None,
    step: int,
    epoch: int,
    train_loss: float,
) -> EpochLog:
    """Validate ``model`` after ``step`` optimizer steps and count its weights."""
    ev = evaluate(model, val_split, loss_fn, objective=True)
    return EpochLog(
        epoch,
        train_loss,
        ev.loss,
        ev.loss + _penalty(regularizer, named, step),
        ev.accuracy,
        count_nonzero(model),
        sum(int((p.detach().abs() >= 0.01).sum()) for _, p in named),
    )


def _keep_if_best(
    model: nn.Module,
    head: Head,
    named: NamedParams,
    regularizer: Regularizer | None,
    state: TrainState,
) -> None:
    """Snapshot the model and its head (a learned σ belongs to the same epoch's weights) if the
    objective is at most the best snapshot's at today's strength."""
    log = state.history[-1]
    if state.best_state is not None:
        best_params = [(k, state.best_state[k]) for k, _ in named]
        best_objective = state.best_loss + _penalty(regularizer, best_params, state.step)
    else:
        best_objective = math.inf
    if log.val_objective <= best_objective:
        state.best_state = copy.deepcopy(model.state_dict())
        state.best_head = copy.deepcopy(head.state_dict())
        state.best_loss, state.best_epoch = log.val_loss, log.epoch


def _finish(model: nn.Module, head: Head, state: TrainState, config: TrainConfig) -> None:
    """Load the best snapshot (model and head) if it is better than the last epoch."""
    last = state.history[-1].epoch
    if config.keep_best and state.best_state is not None and state.best_epoch != last:
        model.load_state_dict(state.best_state)
        if state.best_head is not None:
            head.load_state_dict(state.best_head)
    else:
        state.best_epoch = last
