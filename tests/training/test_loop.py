import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.data import Split, load_digits
from mdlkit.heads import CategoricalHead, Evaluation
from mdlkit.models import mlp, model_spec
from mdlkit.pruning.masks import Mask
from mdlkit.pruning.tamade import TamadeResult
from mdlkit.regularizers import DRR
from mdlkit.training import (
    EpochLog,
    PipelineConfig,
    PipelineResult,
    PruneResult,
    TrainConfig,
    TrainResult,
    shortest_model,
    train,
)
from mdlkit.training.batches import Batch, ShuffledBatches
from mdlkit.training.callbacks import Callback
from mdlkit.training.checkpoint import load_checkpoint, save_checkpoint
from mdlkit.training.distributed import ShardedBatches, is_main_process
from mdlkit.training.state import TrainState

_LOG = EpochLog(3, 0.5, 0.625, 0.75, 0.875, 100, 80)


def _assert_states_equal(a: TrainState, b: TrainState) -> None:
    assert a.history == b.history
    assert (a.best_loss, a.best_epoch, a.step, a.done, a.saturated) == (
        b.best_loss,
        b.best_epoch,
        b.step,
        b.done,
        b.saturated,
    )
    assert (a.best_state is None) == (b.best_state is None)
    if a.best_state is not None and b.best_state is not None:
        assert a.best_state.keys() == b.best_state.keys()
        assert all(torch.equal(a.best_state[k], b.best_state[k]) for k in a.best_state)


def test_train_state_round_trips_through_a_checkpoint_file(tmp_path: Path) -> None:
    state = TrainState(
        history=[_LOG, EpochLog(4, 0.25, 0.5, 0.5, 1.0, 90, 70)],
        best_state=mlp([3, 2]).state_dict(),
        best_loss=0.5,
        best_epoch=4,
        step=17,
        done=True,
        saturated=True,
    )
    save_checkpoint(tmp_path / "c.pt", state.to_dict())  # read back with weights_only=True
    _assert_states_equal(TrainState.from_dict(load_checkpoint(tmp_path / "c.pt")), state)
    _assert_states_equal(TrainState.from_dict(TrainState().to_dict()), TrainState())


def test_result_types_round_trip_through_their_dict_form(tmp_path: Path) -> None:
    result = TrainResult([_LOG], best_epoch=3, saturated=False, steps=40)
    assert TrainResult.from_dict(result.to_dict()) == result
    keep = {"0.weight": torch.tensor([[True, False]]), "0.bias": torch.tensor([True])}
    tamade = TamadeResult(0.125, Evaluation(0.5, 0.75), Evaluation(0.5078125, 0.75), 23)
    pruning = PruneResult(Mask(keep), tamade, nonzero_before=3, nonzero_after=2)
    phases = {"regularized": result, "finetuned": TrainResult([], -1, True, 0)}
    pipeline = PipelineResult(phases, pruning, step=0.25, step_bits=123.5)
    save_checkpoint(tmp_path / "p.pt", pipeline.to_dict())
    again = PipelineResult.from_dict(load_checkpoint(tmp_path / "p.pt"))
    assert again.phases == phases and (again.step, again.step_bits) == (0.25, 123.5)
    assert again.pruning.tamade == tamade
    assert (again.pruning.nonzero_before, again.pruning.nonzero_after) == (3, 2)
    assert all(torch.equal(again.pruning.mask.keep[k], keep[k]) for k in keep)


def test_default_pieces_are_fused_adam_over_a_seeded_permutation() -> None:
    """The loop's defaults give exactly the weights of a hand-written Adam loop (bit for bit)."""
    splits = load_digits(seed=0)
    config = TrainConfig(max_epochs=3, batch_size=128, lr=2e-3, seed=5, stopping=None)
    torch.manual_seed(0)
    model = mlp([64, 16, 10])
    result = train(model, splits.train, splits.val, replace(config, keep_best=False))

    torch.manual_seed(0)
    reference = mlp([64, 16, 10])
    optimizer = torch.optim.Adam(reference.parameters(), lr=2e-3, fused=True)
    generator = torch.Generator().manual_seed(5)
    x, y, n = splits.train.x, splits.train.y, len(splits.train)
    for _ in range(3):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, 128):
            idx = order[start : start + 128]
            loss = F.cross_entropy(reference(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    assert result.steps == 3 * math.ceil(n / 128)
    assert [e.epoch for e in result.history] == [0, 1, 2]


class _FullBatch:
    """The whole split as one batch, counting epochs (a stateless custom batch iterator)."""

    def __init__(self) -> None:
        self.epochs = 0

    def epoch(self, split: Split) -> Iterator[Batch]:
        self.epochs += 1
        yield split.x, split.y

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _sgd(params: Sequence[torch.Tensor], config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=config.lr)


def test_custom_batches_and_sgd_give_gradient_descent_on_least_squares() -> None:
    """Full-batch SGD on ½·MSE of a linear model is w ← w − η·Xᵀ(Xw + b − y)/n, b ← b − η·mean(r).

    Tolerance 1e-12: float64 throughout, the two computations differ only in rounding order.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=gen, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.1
    split = Split(x, y)
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    w, b = model.weight.detach().clone().T, model.bias.detach().clone()
    batches = _FullBatch()
    config = TrainConfig(max_epochs=25, lr=0.1, stopping=None, keep_best=False)
    result = train(model, split, split, config, optimizer=_sgd, batches=batches)
    for _ in range(25):
        residual = x @ w + b - y
        w, b = w - 0.1 * x.T @ residual / 16, b - 0.1 * residual.mean(0)
    assert batches.epochs == 25 and result.steps == 25
    torch.testing.assert_close(model.weight.detach().T, w, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.bias.detach(), b, rtol=0, atol=1e-12)


class _Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.starts, self.ends, self.epochs = 0, 0, list[int]()
        self.stop_after = stop_after

    def on_start(self, config: TrainConfig, state: TrainState) -> None:
        self.starts += 1

    def on_epoch(self, log: EpochLog, state: TrainState) -> None:
        assert state.history[-1] is log
        self.epochs.append(log.epoch)
        if log.epoch == self.stop_after:
            raise KeyboardInterrupt

    def on_end(self, state: TrainState) -> None:
        self.ends += 1


def _digits_run(path: Path | None, callbacks: Sequence[Callback], **kwargs: Any) -> nn.Module:
    splits = load_digits(seed=0)
    torch.manual_seed(0)
    model = mlp([64, 16, 10])
    config = TrainConfig(max_epochs=5, batch_size=256, stopping=None)
    train(
        model,
        splits.train,
        splits.val,
        config,
        checkpoint=path,
        checkpoint_seconds=0.0,
        callbacks=callbacks,
        **kwargs,
    )
    return model


def test_callbacks_see_every_epoch_once_across_a_resume(tmp_path: Path) -> None:
    killed = _Recorder(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        _digits_run(tmp_path / "c.pt", [killed])
    assert (killed.starts, killed.epochs, killed.ends) == (1, [0, 1], 1)
    resumed = _Recorder()
    _digits_run(tmp_path / "c.pt", [resumed])
    assert (resumed.starts, resumed.epochs, resumed.ends) == (1, [2, 3, 4], 1)


def test_the_rank_zero_guard_and_what_it_keeps_from_other_ranks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_main_process()  # torch.distributed is not initialized here
    monkeypatch.setattr("mdlkit.training.callbacks.is_main_process", lambda: False)
    logged: list[EpochLog] = []
    recorder = _Recorder()
    _digits_run(tmp_path / "c.pt", [recorder], on_epoch=logged.append, progress=True)
    assert not (tmp_path / "c.pt").exists() and logged == []
    assert recorder.epochs == [0, 1, 2, 3, 4]  # a caller's own callbacks run on every rank


def test_sharded_batches_split_every_batch_among_the_ranks() -> None:
    split = Split(torch.arange(10.0)[:, None], torch.arange(10))
    whole = [y for _, y in ShuffledBatches(4, seed=1).epoch(split)]
    shards = [
        [y for _, y in ShardedBatches(ShuffledBatches(4, seed=1), rank, 3).epoch(split)]
        for rank in range(3)
    ]
    for i, batch in enumerate(whole):
        assert torch.equal(torch.cat([s[i] for s in shards]), batch)


class _Counting(nn.Module):
    """A wrapper that only counts forward passes (as DDP wraps a model without changing it)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)


def test_wrap_model_carries_the_training_forward_pass_and_changes_nothing() -> None:
    wrappers: list[_Counting] = []

    def wrap(model: nn.Module) -> nn.Module:
        wrappers.append(_Counting(model))
        return wrappers[-1]

    plain = _digits_run(None, [])
    wrapped = _digits_run(None, [], wrap_model=wrap)
    assert wrappers[0].calls == 5 * math.ceil(len(load_digits(seed=0).train) / 256)
    assert all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), wrapped.parameters(), strict=True)
    )


def test_a_finished_pipeline_resumes_from_its_checkpoints_to_the_same_result(
    tmp_path: Path,
) -> None:
    splits = load_digits(seed=0)
    config = TrainConfig(max_epochs=2, batch_size=256, stopping=None)
    phases = PipelineConfig(train=config, finetune=config, grid=config)
    spec = model_spec("mlp", input_shape=(64,), n_outputs=10, hidden=(16,))

    def run() -> tuple[nn.Module, PipelineResult]:
        torch.manual_seed(0)
        model = spec.build()
        head = CategoricalHead()
        return model, shortest_model(
            model, spec, splits, head, DRR(1e-3), phases, checkpoint_dir=tmp_path
        )

    first_model, first = run()
    names = ("regularized.pt", "pruned.pt", "finetuned.pt", "grid.pt")
    assert all((tmp_path / name).exists() for name in names)
    assert list(first.phases) == ["regularized", "finetuned", "grid"]
    again_model, again = run()
    assert again.phases == first.phases and (again.step, again.step_bits) == (
        first.step,
        first.step_bits,
    )
    assert again.pruning.tamade == first.pruning.tamade
    keep, keep_again = first.pruning.mask.keep, again.pruning.mask.keep
    assert all(torch.equal(keep[k], keep_again[k]) for k in keep)
    assert all(
        torch.equal(a, b)
        for a, b in zip(first_model.parameters(), again_model.parameters(), strict=True)
    )
