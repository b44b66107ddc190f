"""Distillation: the loss against a closed form, W = 0 as plain training, resuming a distilled
phase, and the soft labels' rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mdlkit import MdlkitError
from mdlkit.data import Split, load_digits
from mdlkit.heads import CategoricalHead, GaussianHead
from mdlkit.models import mlp, model_spec
from mdlkit.pruning import count_nonzero
from mdlkit.regularizers import DRR
from mdlkit.training import (
    Distillation,
    LossSaturation,
    PipelineConfig,
    TrainConfig,
    shortest_model,
    teacher_log_probs,
    train,
)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_loss_is_hintons_mixture_in_closed_form() -> None:
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(7, 5)) * 3, rng.normal(size=(7, 5)) * 3
    y = rng.integers(0, 5, size=7)
    temperature, weight = 3.0, 0.7
    # independent float64 computation: CE(y, softmax(s)), KL(softmax(t/T) || softmax(s/T))
    ce = -_log_softmax(s)[np.arange(7), y]
    log_p, log_q = _log_softmax(t / temperature), _log_softmax(s / temperature)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=1)
    expected = np.mean((1 - weight) * ce + weight * temperature**2 * kl)

    teacher = nn.Identity()
    x = torch.tensor(t, dtype=torch.float32)
    d = Distillation(teacher_log_probs(teacher, x, temperature), temperature, weight)
    target = d.targets(Split(x, torch.tensor(y))).y
    logits = torch.tensor(s, dtype=torch.float32, requires_grad=True)
    loss = d.loss(CategoricalHead())(logits, target)
    # float32 logits and soft labels: agreement to float32 precision
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    # d/ds of T²·KL is T·(softmax(s/T) − p_t) (Hinton et al. 2015, eq. 2), of CE softmax(s) − 1_y
    loss.backward()
    onehot = np.eye(5)[y]
    grad = (1 - weight) * (np.exp(_log_softmax(s)) - onehot) + weight * temperature * (
        np.exp(log_q) - np.exp(log_p)
    )
    assert logits.grad is not None
    np.testing.assert_allclose(logits.grad.numpy(), grad / 7, rtol=1e-4, atol=1e-6)


def test_validation_labels_get_the_plain_loss_and_accuracy() -> None:
    logits, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    head = CategoricalHead()
    d = Distillation(torch.log_softmax(torch.randn(6, 4), dim=1), 2.0, 0.5)
    loss = d.loss(head)
    assert torch.equal(loss(logits, y), head(logits, y))
    packed = d.targets(Split(torch.zeros(6, 1), y)).y
    assert loss.n_correct(logits, packed) == head.n_correct(logits, y)
    assert torch.equal(loss.data_loss(logits, packed), head.data_loss(logits, y))


def _digits_pipeline(distill: Distillation | None) -> nn.Module:
    splits = load_digits(seed=0)
    spec = model_spec("mlp", input_shape=splits.input_shape, n_outputs=10, hidden=(16,))
    torch.manual_seed(0)
    model = spec.build()

    def phase(epochs: int, seed: int) -> TrainConfig:
        return TrainConfig(max_epochs=epochs, batch_size=256, lr=1e-2, seed=seed)

    config = PipelineConfig(
        train=phase(4, 0), finetune=phase(1, 1), grid=phase(1, 2), quant_mode="tolerance",
        distill=distill,
    )  # fmt: skip
    shortest_model(model, spec, splits, CategoricalHead(), DRR(1e-5), config)
    assert count_nonzero(model) > 0  # a model pruned away would compare equal whatever it saw
    return model


def test_teacher_weight_zero_is_plain_training_bit_for_bit() -> None:
    splits = load_digits(seed=0)
    torch.manual_seed(1)
    teacher = mlp([64, 8, 10])
    distill = Distillation(teacher_log_probs(teacher, splits.train.x, 4.0), 4.0, weight=0.0)
    plain, distilled = _digits_pipeline(None), _digits_pipeline(distill)
    for a, b in zip(plain.state_dict().values(), distilled.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # and a teacher that weighs changes the weights (the test above can fail)
    weighted = Distillation(distill.log_probs, 4.0, weight=0.9)
    models = []
    for split, loss in (
        (splits.train, CategoricalHead()),
        (weighted.targets(splits.train), weighted.loss(CategoricalHead())),
    ):
        torch.manual_seed(0)
        models.append(mlp([64, 16, 10]))
        train(models[-1], split, splits.val, TrainConfig(max_epochs=1), loss_fn=loss)
    assert not torch.equal(models[0][0].weight, models[1][0].weight)


class _Killed(Exception):
    pass


def _train_distilled(checkpoint: Path | None, kill_after: int | None = None) -> nn.Module:
    splits = load_digits(seed=0)
    torch.manual_seed(1)
    distill = Distillation(teacher_log_probs(mlp([64, 8, 10]), splits.train.x, 2.0), 2.0, 0.5)
    torch.manual_seed(0)
    model = mlp([64, 16, 10])

    def maybe_kill(log: object) -> None:
        if kill_after is not None and log.epoch + 1 == kill_after:  # type: ignore[attr-defined]
            raise _Killed

    config = TrainConfig(max_epochs=6, batch_size=128, stopping=LossSaturation(window=4))
    train(model, distill.targets(splits.train), splits.val, config, regularizer=DRR(1e-3),
          loss_fn=distill.loss(CategoricalHead()), checkpoint=checkpoint,
          checkpoint_seconds=0.0, on_epoch=maybe_kill)  # fmt: skip
    return model


def test_a_killed_distilled_phase_resumes_to_the_same_weights(tmp_path: Path) -> None:
    reference = _train_distilled(None)
    path = tmp_path / "ckpt.pt"
    with pytest.raises(_Killed):
        _train_distilled(path, kill_after=2)
    resumed = _train_distilled(path)
    for a, b in zip(reference.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    # a checkpoint of a plain phase is not continued with a teacher
    splits = load_digits(seed=0)
    with pytest.raises(MdlkitError, match="different configuration"):
        config = TrainConfig(max_epochs=6, batch_size=128, stopping=LossSaturation(window=4))
        model = mlp([64, 16, 10])
        train(model, splits.train, splits.val, config, regularizer=DRR(1e-3), checkpoint=path)


def test_soft_labels_must_be_the_training_splits_and_class_labels() -> None:
    d = Distillation(torch.log_softmax(torch.zeros(4, 3), dim=1))
    with pytest.raises(MdlkitError, match="cover 4 rows of 3 classes"):
        d.targets(Split(torch.zeros(5, 2), torch.zeros(5, dtype=torch.int64)))
    with pytest.raises(MdlkitError, match="class labels"):
        d.loss(GaussianHead())
    with pytest.raises(MdlkitError, match="teacher weight"):
        Distillation(d.log_probs, weight=1.5)
    with pytest.raises(MdlkitError, match="temperature"):
        Distillation(d.log_probs, temperature=0.0)
