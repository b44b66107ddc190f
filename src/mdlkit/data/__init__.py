"""Datasets: scikit-learn digits (default), MNIST from a local file, teacher-student."""

from __future__ import annotations

from mdlkit.data.digits import load_digits
from mdlkit.data.mnist import MNIST_ENV, load_mnist, resolve_mnist_path
from mdlkit.data.splits import Split, Splits, stratified_splits
from mdlkit.data.teacher_student import make_teacher, teacher_student
from mdlkit.errors import MdlkitError

__all__ = [
    "DATASETS",
    "MNIST_ENV",
    "Split",
    "Splits",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "make_teacher",
    "resolve_mnist_path",
    "stratified_splits",
    "teacher_student",
]

DATASETS = ("digits", "mnist", "teacher-student")


def load_dataset(name: str, *, seed: int = 0, mnist_path: str | None = None) -> Splits:
    """Load a dataset by name (one of :data:`DATASETS`) with default settings."""
    if name == "digits":
        return load_digits(seed=seed)
    if name == "mnist":
        return load_mnist(mnist_path, seed=seed)
    if name == "teacher-student":
        return teacher_student(seed=seed)
    raise MdlkitError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
