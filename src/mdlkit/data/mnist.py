"""MNIST read from a local ``.npz`` file (never downloaded).

The file holds ``x_train (60000, 28, 28) uint8``, ``y_train``, ``x_test (10000, 28, 28)``,
``y_test`` (the layout of Keras' ``mnist.npz``). The path comes from the argument or from the
environment variable ``MDLKIT_MNIST``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from mdlkit.data.splits import Splits, _split, train_test_split
from mdlkit.errors import MdlkitError

__all__ = ["MNIST_ENV", "load_mnist", "read_mnist", "resolve_mnist_path"]

MNIST_ENV = "MDLKIT_MNIST"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def resolve_mnist_path(path: str | os.PathLike[str] | None) -> Path:
    """The MNIST file to read: ``path`` if given, else ``$MDLKIT_MNIST``; it must exist."""
    raw = path if path is not None else os.environ.get(MNIST_ENV)
    if raw is None:
        raise MdlkitError(f"no MNIST file given; pass --mnist-path FILE.npz or set {MNIST_ENV}")
    resolved = Path(raw).expanduser()
    if not resolved.is_file():
        raise MdlkitError(f"MNIST file not found: {resolved}; pass the path of an mnist.npz file")
    return resolved


def read_mnist(path: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """The four arrays of the file, checked: images (N, H, W) with values in [0, 255], labels
    (N,) integers ≥ 0, as many labels as images. One-line :class:`MdlkitError` otherwise."""
    resolved = resolve_mnist_path(path)
    try:
        with np.load(resolved, allow_pickle=False) as f:
            missing = [k for k in _KEYS if k not in f.files]
            if missing:
                raise MdlkitError(f"{resolved} lacks arrays {missing}; expected keys {list(_KEYS)}")
            arrays = {k: f[k] for k in _KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, MdlkitError):
            raise
        raise MdlkitError(f"cannot read {resolved} as an .npz file ({exc})") from None
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        bad = (
            x.ndim != 3
            or y.ndim != 1
            or len(x) != len(y)
            or not len(y)
            or not np.issubdtype(y.dtype, np.integer)
            or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating))
        )
        if bad or int(y.min()) < 0 or not (float(x.min()) >= 0 and float(x.max()) <= 255):
            raise MdlkitError(
                f"{resolved}: x_{part}/y_{part} are not images (N, H, W) in [0, 255] with N "
                "integer labels >= 0; give an mnist.npz in the Keras layout"
            )
    return arrays


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    n_val: int = 5000,
    n_train: int | None = None,
    flatten: bool = True,
) -> Splits:
    """MNIST with pixels in [0, 1]; validation drawn (stratified) from the official training set.

    The official 10k test set is the test split. ``n_val`` images of the 60k training set form the
    validation split; the training split is the rest, or a stratified subset of ``n_train`` of it
    (the paper's 45k/5k/10k setting is ``n_train=45000``).
    """
    arrays = read_mnist(path)

    def prep(images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32) / 255.0
        return x.reshape(len(x), -1) if flatten else x[:, None, :, :]

    x_all, y_all = prep(arrays["x_train"]), arrays["y_train"].astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x_all, y_all, test_size=n_val, stratify=y_all, random_state=seed
    )
    if n_train is not None and n_train < len(x_train):
        x_train, _, y_train, _ = train_test_split(
            x_train, y_train, train_size=n_train, stratify=y_train, random_state=seed + 1
        )
    return Splits(
        "mnist",
        _split(x_train, y_train),
        _split(x_val, y_val),
        _split(prep(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
        10,
    )
