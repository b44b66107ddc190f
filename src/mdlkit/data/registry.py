"""Datasets by name: which exist, what their inputs look like, checking options, loading.

A name is one of the built-in :data:`DATASETS`, ``sklearn:NAME`` (one of
:data:`~mdlkit.data.tabular.SKLEARN_DATASETS`) or the path of a user's ``.npz``, ``.csv`` or
``.parquet`` file (:mod:`mdlkit.data.tabular`; CSV and parquet need ``target``).

>>> DATASETS
('digits', 'mnist', 'teacher-student')
>>> load_dataset("digits", images=True).input_shape
(1, 8, 8)
>>> load_dataset("cifar")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: unknown dataset 'cifar'; choose one of digits, mnist, ...sklearn:NAME...
"""

from __future__ import annotations

import os
from typing import Literal

from mdlkit.data.digits import load_digits
from mdlkit.data.mnist import load_mnist, resolve_mnist_path
from mdlkit.data.splits import Splits
from mdlkit.data.tabular import (
    SKLEARN_DATASETS,
    SKLEARN_PREFIX,
    Task,
    check_tabular,
    is_tabular,
    load_tabular,
    tabular_task,
)
from mdlkit.data.teacher_student import teacher_student
from mdlkit.errors import MdlkitError

__all__ = [
    "DATASETS",
    "SKLEARN_DATASETS",
    "check_dataset",
    "dataset_task",
    "image_shape",
    "is_regression",
    "load_dataset",
]

DATASETS = ("digits", "mnist", "teacher-student")

# Inputs as images (channels, height, width); teacher-student inputs are points in [-1, 1]².
_IMAGE_SHAPES: dict[str, tuple[int, int, int] | None] = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "teacher-student": None,
}
_TEACHER_STUDENT_N = 300


def _builtin(name: str) -> bool:
    """Whether ``name`` is a built-in dataset (False: a tabular source); unknown names raise."""
    if name in DATASETS:
        return True
    if is_tabular(name):
        return False
    hint = f"; did you mean {SKLEARN_PREFIX}{name}?" if name in SKLEARN_DATASETS else ""
    raise MdlkitError(
        f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}, "
        f"{SKLEARN_PREFIX}NAME or a .npz/.csv/.parquet file{hint}"
    )


def _builtin_options(name: str, target: str | None, task: str) -> None:
    if target is not None:
        raise MdlkitError(f"--target applies only to .csv and .parquet files, not to {name}")
    if task != "auto":
        raise MdlkitError(f"--task applies only to your own data, not to {name}")


def image_shape(name: str) -> tuple[int, int, int] | None:
    """The (channels, height, width) of a dataset's images, or None if its inputs are points
    (always for ``sklearn:NAME`` and files: their rows are flat feature vectors)."""
    return _IMAGE_SHAPES[name] if _builtin(name) else None


def dataset_task(
    name: str, *, target: str | None = None, task: Task = "auto"
) -> Literal["classification", "regression"]:
    """Classification or regression, as :func:`load_dataset` would load ``name``.

    For a file this reads its target (an npz's ``y`` arrays, one column of a CSV or parquet),
    which costs a pass over a CSV; once the data is loaded, ``splits.n_classes is None`` says
    the same for free.

    >>> dataset_task("teacher-student"), dataset_task("sklearn:diabetes")
    ('regression', 'regression')
    """
    if _builtin(name):
        _builtin_options(name, target, task)
        return "regression" if name == "teacher-student" else "classification"
    return tabular_task(name, target=target, task=task)


def is_regression(name: str, *, target: str | None = None, task: Task = "auto") -> bool:
    """Whether the targets are real numbers (coded at a precision) rather than class labels:
    :func:`dataset_task` is ``"regression"`` (for a file it reads the target)."""
    return dataset_task(name, target=target, task=task) == "regression"


def check_dataset(
    name: str,
    *,
    mnist_path: str | os.PathLike[str] | None = None,
    n_train: int | None = None,
    noise: float = 0.01,
    target: str | None = None,
    task: Task = "auto",
) -> None:
    """Raise :class:`MdlkitError` if :func:`load_dataset` would refuse these options, before
    anything is loaded (the MNIST file must exist; it is not read here). For a user's file this
    reads at most its header: its list of arrays, columns or schema (``target`` must be one)."""
    if _builtin(name):
        _builtin_options(name, target, task)
    else:
        check_tabular(name, target=target, task=task)
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
    target: str | None = None,
    task: Task = "auto",
) -> Splits:
    """Load a dataset by name (one of :data:`DATASETS`, ``sklearn:NAME`` or a file), split
    reproducibly by ``seed``.

    ``n_train`` is N for teacher-student (default 300) and a stratified subset size of the
    training split for MNIST, digits and classification tables (the first ``n_train`` shuffled
    training rows for regression tables); ``noise`` is the teacher-student noise σ.
    ``images=True`` gives (1, H, W) images for CNNs instead of flat vectors. ``target`` is the
    target column of a CSV or parquet file and ``task`` overrides the task detected from the
    target's type (see :mod:`mdlkit.data.tabular`); tables come standardized, with
    ``splits.scaling`` set.
    """
    check_dataset(
        name, mnist_path=mnist_path, n_train=n_train, noise=noise, target=target, task=task
    )
    if images and image_shape(name) is None:
        raise MdlkitError(f"{name} has no images; its inputs are points")
    if not _builtin(name):
        return load_tabular(name, target=target, task=task, seed=seed, n_train=n_train)
    if name == "mnist":
        return load_mnist(mnist_path, seed=seed, n_train=n_train, flatten=not images)
    if name == "teacher-student":
        return teacher_student(n_train or _TEACHER_STUDENT_N, noise=noise, seed=seed)
    return load_digits(seed=seed, flatten=not images, n_train=n_train)
