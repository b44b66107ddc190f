"""Datasets by name: which exist, what their inputs look like, checking options, loading.

>>> DATASETS
('digits', 'mnist', 'teacher-student')
>>> load_dataset("digits", images=True).input_shape
(1, 8, 8)
>>> load_dataset("cifar")
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: unknown dataset 'cifar'; choose one of digits, mnist, teacher-student
"""

from __future__ import annotations

import os

from mdlkit.data.digits import load_digits
from mdlkit.data.mnist import load_mnist, resolve_mnist_path
from mdlkit.data.splits import Splits
from mdlkit.data.teacher_student import teacher_student
from mdlkit.errors import MdlkitError

__all__ = ["DATASETS", "check_dataset", "image_shape", "is_regression", "load_dataset"]

DATASETS = ("digits", "mnist", "teacher-student")

# Inputs as images (channels, height, width); teacher-student inputs are points in [-1, 1]².
_IMAGE_SHAPES: dict[str, tuple[int, int, int] | None] = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "teacher-student": None,
}
_TEACHER_STUDENT_N = 300


def _known(name: str) -> str:
    if name not in DATASETS:
        raise MdlkitError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def image_shape(name: str) -> tuple[int, int, int] | None:
    """The (channels, height, width) of a dataset's images, or None if its inputs are points."""
    return _IMAGE_SHAPES[_known(name)]


def is_regression(name: str) -> bool:
    """Whether the targets are real numbers (coded at a precision) rather than class labels."""
    return _known(name) == "teacher-student"


def check_dataset(
    name: str,
    *,
    mnist_path: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    noise: float = 0.01,
) -> None:
    """Raise :class:`MdlkitError` if :func:`load_dataset` would refuse these options, before
    anything is loaded (the MNIST file must exist; it is not read here)."""
    _known(name)
    if name == "mnist":
        resolve_mnist_path(mnist_path)
    if n_train is not None and n_train < 1:
        raise MdlkitError(f"n_train must be >= 1, got {n_train}")
    if not noise >= 0:
        raise MdlkitError(f"noise must be >= 0, got {noise}")


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    mnist_path: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    noise: float = 0.01,
    images: bool = False,
) -> Splits:
    """Load a dataset by name (one of :data:`DATASETS`), split reproducibly by ``seed``.

    ``n_train`` is N for teacher-student (default 300) and a stratified subset size of the
    training split for MNIST and digits; ``noise`` is the teacher-student noise σ.
    ``images=True`` gives (1, H, W) images for CNNs instead of flat vectors.
    """
    check_dataset(name, mnist_path=mnist_path, n_train=n_train, noise=noise)
    if images and image_shape(name) is None:
        raise MdlkitError(f"{name} has no images; its inputs are points")
    if name == "mnist":
        return load_mnist(mnist_path, seed=seed, n_train=n_train, flatten=not images)
    if name == "teacher-student":
        return teacher_student(n_train or _TEACHER_STUDENT_N, noise=noise, seed=seed)
    return load_digits(seed=seed, flatten=not images, n_train=n_train)
