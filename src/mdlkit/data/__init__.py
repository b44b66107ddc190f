"""Datasets: scikit-learn digits (default), MNIST from a local file, teacher-student, and users'
own tables (``sklearn:NAME``, ``.npz``/``.csv``/``.parquet`` files, standardized: :class:`Scaling`);
by name through :func:`load_dataset`. Windows of a byte stream for next-token models:
:func:`sequence_splits`."""

from __future__ import annotations

from mdlkit.data.digits import load_digits
from mdlkit.data.mnist import MNIST_ENV, load_mnist, read_mnist, resolve_mnist_path
from mdlkit.data.registry import (
    DATASETS,
    check_dataset,
    dataset_task,
    image_shape,
    is_regression,
    load_dataset,
)
from mdlkit.data.scaling import Scaling
from mdlkit.data.sequences import TokenData, as_tokens, sequence_splits, sequence_windows
from mdlkit.data.splits import Split, Splits, stratified_splits
from mdlkit.data.tabular import SKLEARN_DATASETS, TASKS, Task, load_tabular
from mdlkit.data.teacher_student import make_teacher, teacher_student

__all__ = [
    "DATASETS",
    "MNIST_ENV",
    "SKLEARN_DATASETS",
    "TASKS",
    "Scaling",
    "Split",
    "Splits",
    "Task",
    "TokenData",
    "as_tokens",
    "check_dataset",
    "dataset_task",
    "image_shape",
    "is_regression",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_tabular",
    "make_teacher",
    "read_mnist",
    "resolve_mnist_path",
    "sequence_splits",
    "sequence_windows",
    "stratified_splits",
    "teacher_student",
]
