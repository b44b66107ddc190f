from pathlib import Path

import numpy as np
import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.data import load_dataset, load_digits, load_mnist, make_teacher, teacher_student
from mdlkit.models import mlp


def test_digits_splits_are_stratified_and_reproducible() -> None:
    a, b = load_digits(seed=0), load_digits(seed=0)
    assert (len(a.train), len(a.val), len(a.test)) == (1077, 360, 360)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert a.train.x.dtype == torch.float32 and float(a.train.x.max()) <= 1.0
    for part in (a.train, a.val, a.test):
        share = np.bincount(part.y.numpy(), minlength=10) / len(part)
        assert np.all(np.abs(share - 0.1) < 0.015)
    c = load_digits(seed=1)
    assert not torch.equal(a.train.y, c.train.y)


def test_teacher_is_the_transformed_default_init() -> None:
    teacher = make_teacher(seed=4)
    torch.manual_seed(4)
    raw = mlp([2, 5, 8, 1], "tanh")
    assert torch.equal(teacher[0].weight, 2 * raw[0].weight + 1)
    assert torch.equal(teacher[2].weight, 2 * raw[2].weight)
    assert torch.equal(teacher[4].weight, raw[4].weight)


def test_teacher_student_sizes_noise_and_distinct_draws() -> None:
    s = teacher_student(30, noise=0.0, seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (30, 1000, 5000)
    assert s.n_classes is None and s.input_shape == (2,)
    assert float(s.train.x.abs().max()) <= 1.0
    with torch.no_grad():
        assert torch.equal(make_teacher(0)(s.test.x), s.test.y)  # σ = 0: exactly the teacher
    assert not torch.equal(s.val.x[:30], s.train.x)
    noisy = teacher_student(2000, noise=0.1, seed=0)
    with torch.no_grad():
        residual = noisy.train.y - make_teacher(0)(noisy.train.x)
    assert float(residual.std()) == pytest.approx(0.1, rel=0.06)


def test_missing_mnist_path_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MDLKIT_MNIST", raising=False)
    with pytest.raises(MdlkitError, match="no MNIST file given"):
        load_mnist(None)
    with pytest.raises(MdlkitError, match="not found"):
        load_mnist(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(MdlkitError, match="lacks arrays"):
        load_mnist(bad)


def test_mnist_layout_from_a_small_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "mini.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (600, 28, 28), dtype=np.uint8),
        y_train=np.arange(600, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        y_test=np.arange(100, dtype=np.uint8) % 10,
    )
    s = load_mnist(path, n_val=100)
    assert (len(s.train), len(s.val), len(s.test)) == (500, 100, 100)
    assert s.input_shape == (784,) and float(s.train.x.max()) <= 1.0


def test_real_mnist_file(mnist_path: Path) -> None:
    s = load_mnist(mnist_path, n_train=45000)
    assert (len(s.train), len(s.val), len(s.test)) == (45000, 5000, 10000)


def test_unknown_dataset() -> None:
    with pytest.raises(MdlkitError, match="unknown dataset"):
        load_dataset("cifar")


def test_digits_n_train_is_a_stratified_subset_and_too_many_is_an_error() -> None:
    full = load_digits(seed=0)
    sub = load_dataset("digits", seed=0, n_train=200)
    assert len(sub.train) == 200
    assert torch.equal(sub.val.x, full.val.x) and torch.equal(sub.test.y, full.test.y)
    # Stratified: every class keeps its share of the 1,077 training labels to within one sample.
    share = torch.bincount(full.train.y, minlength=10).double() * 200 / len(full.train)
    assert (torch.bincount(sub.train.y, minlength=10) - share).abs().max() <= 1
    with pytest.raises(MdlkitError, match="n_train must lie in"):
        load_dataset("digits", n_train=5000)
