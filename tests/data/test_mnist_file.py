import random
from pathlib import Path

import numpy as np
import pytest

from mdlkit.data import read_mnist
from mdlkit.errors import MdlkitError


def test_a_damaged_mnist_file_is_refused_never_read_wrong(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 5, 5)).astype(np.uint8)
    y = rng.integers(0, 10, 20).astype(np.uint8)
    path = tmp_path / "m.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    raw, original = path.read_bytes(), read_mnist(path)
    damaged = tmp_path / "damaged.npz"
    refused = 0
    for i in range(200):
        r = random.Random(i)
        data = bytearray(raw)
        if i % 2:
            data = data[: r.randrange(len(data))]
        else:
            data[r.randrange(len(data))] ^= 1 << r.randrange(8)
        damaged.write_bytes(bytes(data))
        try:
            arrays = read_mnist(damaged)
        except MdlkitError:
            refused += 1
            continue
        assert all(np.array_equal(arrays[k], original[k]) for k in original), i
    assert refused > 150


@pytest.mark.parametrize(
    "arrays",
    [
        {"x_train": np.zeros((3, 4, 4)), "y_train": np.array([0, 1, -1])},
        {"x_train": np.zeros((3, 4, 4)), "y_train": np.array([0, 1])},
        {"x_train": np.full((3, 4, 4), 300.0), "y_train": np.array([0, 1, 2])},
        {"x_train": np.zeros((3, 16)), "y_train": np.array([0, 1, 2])},
    ],
)
def test_arrays_that_are_not_mnist_are_refused(tmp_path: Path, arrays: dict) -> None:
    path = tmp_path / "m.npz"
    test = {"x_test": np.zeros((1, 4, 4)), "y_test": np.array([0])}
    np.savez(path, **arrays, **test)
    with pytest.raises(MdlkitError, match="are not images"):
        read_mnist(path)
