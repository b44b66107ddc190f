"""Bring-your-own tables: scikit-learn's bundled datasets and ``.npz``/``.csv``/``.parquet`` files.

A source is ``sklearn:NAME`` (one of :data:`SKLEARN_DATASETS`, no download) or the path of a file:

- ``.npz``: arrays ``x`` (n, ...) and ``y`` (n,) or (n, outputs); or ``x_train``, ``y_train``,
  ``x_test``, ``y_test``, whose test arrays stay the test split (validation is split off the
  train part). ``x`` is flattened to (n, d). Never unpickled (``allow_pickle=False``).
- ``.csv`` and ``.parquet`` (read by pandas; parquet needs pyarrow): one row per sample, numeric
  feature columns and a ``target`` column.

The task is classification for text, bool, categorical and integer targets and regression for
float targets, unless ``task`` says otherwise. Class labels become 0..K-1 in ``np.unique`` order
(their names are kept); regression targets become float32 (n, outputs). Classification splits are
stratified, regression splits a seeded shuffle (60/20/20 by default). Features, and regression
targets, are standardized with the training split's mean and std (:class:`Scaling`, attached to
the :class:`Splits`).

>>> s = load_tabular("sklearn:iris", seed=0)
>>> (len(s.train), len(s.val), len(s.test)), s.n_classes, s.scaling.class_names
((90, 30, 30), 3, ('setosa', 'versicolor', 'virginica'))
>>> load_tabular("sklearn:diabetes").train.y.shape
torch.Size([266, 1])

Reading the sources is :mod:`mdlkit.data.table_sources`; every problem with a source is a
one-line :class:`MdlkitError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from mdlkit.data.messages import n_rows, one_line, refuse_rows
from mdlkit.data.scaling import Scaling
from mdlkit.data.splits import Split, Splits, stratified_indices, train_test_split
from mdlkit.data.table import Table, TargetKind
from mdlkit.data.table_sources import (
    FILE_SUFFIXES,
    SKLEARN_DATASETS,
    SKLEARN_PREFIX,
    check_source,
    is_tabular,
    read_table,
    read_target,
)
from mdlkit.errors import MdlkitError

__all__ = [
    "FILE_SUFFIXES",
    "SKLEARN_DATASETS",
    "SKLEARN_PREFIX",
    "TASKS",
    "Task",
    "check_tabular",
    "is_tabular",
    "load_tabular",
    "tabular_task",
]

Task = Literal["auto", "classification", "regression"]
TASKS: tuple[str, ...] = ("auto", "classification", "regression")
_MIN_CLASS_ROWS = 3  # one each for train, validation and test


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise MdlkitError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _resolve_task(
    kind: TargetKind, outputs: int, task: str, name: str, target: str
) -> Literal["classification", "regression"]:
    _check_task(task)
    if kind == "text" and outputs > 1:
        raise MdlkitError(
            f"{name}: target has {outputs} columns of text labels; give one label per row"
        )
    if task == "auto":
        return "classification" if kind != "float" and outputs == 1 else "regression"
    if task == "regression" and kind == "text":
        raise MdlkitError(
            f"{name}: target {target!r} holds text labels, which cannot be regressed; "
            "use --task classification"
        )
    if task == "classification" and outputs > 1:
        raise MdlkitError(
            f"{name}: target has {outputs} columns; classification needs one label per row "
            "(use --task regression)"
        )
    return "classification" if task == "classification" else "regression"


def _task_of(table: Table, task: str, name: str) -> Literal["classification", "regression"]:
    return _resolve_task(table.kind, table.outputs, task, name, ", ".join(table.target_names))


def _task_reason(table: Table, task: str, decided: str) -> str:
    """One line: the task and why (``--task`` given, or what the target column holds)."""
    target = ", ".join(table.target_names)
    if task != "auto":
        return f"task: {decided} (--task {task})"
    if decided == "classification":
        other = "" if table.kind == "text" else "; --task regression treats them as numbers"
        return f"task: classification (target {target!r} holds {table.kind} labels{other})"
    values = np.unique(table.y[np.isfinite(table.y)]) if table.outputs == 1 else np.zeros(0)
    if 1 < len(values) <= 20:
        return (
            f"task: regression (target {target!r} holds real numbers, {len(values)} distinct: "
            f"{values.min():g} … {values.max():g}; --task classification treats them as classes)"
        )
    return f"task: regression (target {target!r} holds real numbers)"


def _subset(
    train: np.ndarray, labels: np.ndarray | None, n_train: int | None, seed: int, name: str
) -> np.ndarray:
    if n_train is None or n_train == len(train):
        return train
    if not 1 <= n_train <= len(train):
        raise MdlkitError(
            f"n_train must lie in [1, {len(train)}] (the training rows of {name}), got {n_train}"
        )
    if labels is None:
        return train[:n_train]
    try:
        keep, _ = train_test_split(
            train, train_size=n_train, stratify=labels[train], random_state=seed + 2
        )
    except ValueError as exc:
        raise MdlkitError(
            f"cannot draw {n_train} training rows of {name} with every class kept ({one_line(exc)})"
        ) from None
    return np.asarray(keep)


def _classes(table: Table, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels 0..K-1 in ``np.unique`` order and the class names."""
    values, labels = np.unique(table.y.reshape(len(table.y)), return_inverse=True)
    if table.label_names is not None and table.kind == "integer":
        class_names = tuple(table.label_names[int(v)] for v in values)
    else:
        class_names = tuple(
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in values.tolist()
        )
    target = ", ".join(table.target_names)
    if len(values) < 2:
        raise MdlkitError(
            f"{name}: target {target!r} has a single class ({class_names[0]!r}); "
            "classification needs at least two"
        )
    return labels.reshape(-1).astype(np.int64), class_names


def _check_class_rows(
    labels: np.ndarray,
    class_names: Sequence[str],
    minimum: int,
    name: str,
    kind: TargetKind,
    where: str,
) -> None:
    """Every class present in ``labels`` needs ``minimum`` rows to be stratified."""
    counts = np.bincount(labels, minlength=len(class_names))
    counts = np.where(counts > 0, counts, np.iinfo(np.int64).max)
    k = int(np.argmin(counts))
    if counts[k] < minimum:
        hint = "; if the target is a quantity, use --task regression" if kind != "text" else ""
        raise MdlkitError(
            f"{name}: class {class_names[k]!r} has only {n_rows(int(counts[k]))}{where}; every "
            f"class needs at least {minimum} for a stratified split: add rows or drop it{hint}"
        )


def _classification_indices(
    table: Table,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    fractions: tuple[float, float],
    seed: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    val_fraction, test_fraction = fractions
    n, k = len(labels), len(class_names)
    n_dev = n - table.n_test
    try:
        if table.n_test:
            _check_class_rows(labels[:n_dev], class_names, 2, name, table.kind, " in y_train")
            train, val = train_test_split(
                np.arange(n_dev),
                test_size=val_fraction,
                stratify=labels[:n_dev],
                random_state=seed,
            )
            return np.asarray(train), np.asarray(val), np.arange(n_dev, n)
        _check_class_rows(labels, class_names, _MIN_CLASS_ROWS, name, table.kind, "")
        return stratified_indices(
            labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
        )
    except ValueError as exc:
        if isinstance(exc, MdlkitError):
            raise
        rows = f"{n_dev} training rows" if table.n_test else f"{n} rows"
        raise MdlkitError(
            f"{name}: too few rows for a stratified split: {rows} of {k} classes; the "
            f"validation{'' if table.n_test else ' and test'} split needs a row of every class "
            f"({one_line(exc, 80)})"
        ) from None


def _regression_indices(
    table: Table, *, fractions: tuple[float, float], seed: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    val_fraction, test_fraction = fractions
    n = len(table.y)
    n_dev = n - table.n_test
    rng = np.random.default_rng(seed)
    if table.n_test:
        if n_dev < 2:
            raise MdlkitError(
                f"{name}: x_train has {n_dev} row; training and validation need at least 2"
            )
        perm = rng.permutation(n_dev)
        n_val = min(max(1, round(val_fraction * n_dev)), n_dev - 1)
        return perm[n_val:], perm[:n_val], np.arange(n_dev, n)
    if n < 3:
        raise MdlkitError(f"{name} has {n_rows(n)}; a train/validation/test split needs at least 3")
    perm = rng.permutation(n)
    n_test = min(max(1, round(test_fraction * n)), n - 2)
    n_val = min(max(1, round(val_fraction * n)), n - n_test - 1)
    return perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]


def _splits(
    name: str,
    table: Table,
    *,
    task: str,
    seed: int,
    n_train: int | None,
    fractions: tuple[float, float],
) -> Splits:
    val_fraction, test_fraction = fractions
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise MdlkitError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
    targets: np.ndarray
    decided = _task_of(table, task, name)
    if decided == "classification":
        labels, class_names = _classes(table, name)
        train, val, test = _classification_indices(
            table, labels, class_names, fractions=fractions, seed=seed, name=name
        )
        train = _subset(train, labels, n_train, seed, name)
        scaling = Scaling.fit(
            table.x[train],
            feature_names=table.feature_names,
            target_names=table.target_names,
            class_names=class_names,
        )
        targets, n_classes = labels, len(class_names)
    else:
        y = table.y.reshape(len(table.y), -1).astype(np.float64)
        refuse_rows(
            np.asarray(~np.isfinite(y).all(axis=1)),
            f"{name}: target {', '.join(table.target_names)!r} has NaN or infinite values",
            "drop those rows",
        )
        train, val, test = _regression_indices(table, fractions=fractions, seed=seed, name=name)
        train = _subset(train, None, n_train, seed, name)
        scaling = Scaling.fit(
            table.x[train],
            y[train],
            feature_names=table.feature_names,
            target_names=table.target_names,
        )
        targets, n_classes = y, None

    def part(rows: np.ndarray) -> Split:
        y_rows = targets[rows] if n_classes is not None else scaling.scale_y(targets[rows])
        return Split(torch.from_numpy(scaling.scale_x(table.x[rows])), torch.from_numpy(y_rows))

    reason = _task_reason(table, task, decided)
    return Splits(
        name, part(train), part(val), part(test), n_classes, scaling=scaling, task_reason=reason
    )


def check_tabular(name: str, *, target: str | None = None, task: str = "auto") -> None:
    """Raise :class:`MdlkitError` if ``name`` cannot be a tabular source, reading no more than
    a file's header (an npz's list of arrays, a CSV's first line, a parquet schema)."""
    _check_task(task)
    check_source(name, target=target)


def tabular_task(
    name: str, *, target: str | None = None, task: str = "auto"
) -> Literal["classification", "regression"]:
    """Classification or regression, as :func:`load_tabular` would decide, reading only the
    target (an npz's ``y`` arrays, one column of a table).

    >>> tabular_task("sklearn:wine"), tabular_task("sklearn:wine", task="regression")
    ('classification', 'regression')
    """
    _check_task(task)
    kind, outputs = read_target(name, target=target)
    return _resolve_task(kind, outputs, task, name, target or "y")


def load_tabular(
    name: str,
    *,
    target: str | None = None,
    task: str = "auto",
    seed: int = 0,
    n_train: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Splits:
    """Read a tabular source, split it reproducibly by ``seed`` and standardize it.

    ``target`` is the target column of a CSV or parquet file; ``task`` overrides the detected
    task; ``n_train`` keeps a (stratified, for classification) subset of the training split.
    Scaling is fitted on the final training split only. For the npz ``x_train``/``x_test``
    layout the test split is the file's test arrays, in order, and ``val_fraction`` of the
    training arrays form the validation split.
    """
    _check_task(task)
    table = read_table(name, target)
    return _splits(
        name, table, task=task, seed=seed, n_train=n_train, fractions=(val_fraction, test_fraction)
    )
