"""Dataset containers and stratified splitting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mdlkit.data.scaling import Scaling
from mdlkit.errors import MdlkitError

__all__ = ["Split", "Splits", "stratified_indices", "stratified_splits", "stratified_subset"]


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one part of a dataset, as tensors.

    ``x`` is float32 with shape ``(n, *input_shape)``; ``y`` is int64 class indices of shape
    ``(n,)`` for classification, or float32 of shape ``(n, outputs)`` for regression. For a
    next-token model both are int64 token ids of shape ``(n, T)`` (windows of a sequence, ``y``
    shifted one token ahead of ``x``: see :mod:`mdlkit.data.sequences`).
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise MdlkitError(
                f"inputs and targets differ in length: {len(self.x)} vs {len(self.y)}"
            )

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test splits of one dataset.

    ``n_classes`` is the number of classes K for classification and ``None`` for regression.
    ``vocab_size`` is set when the inputs are token ids in ``[0, vocab_size)`` (a sequence
    model's, fed to an embedding) and ``None`` when they are real numbers. ``scaling`` is the
    standardization applied to a user's table (:mod:`mdlkit.data.tabular`), fitted on the
    training split; ``None`` for the built-in datasets. ``task_reason`` says, for a user's table,
    which task was chosen and why (one line a command prints).
    """

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int | None
    vocab_size: int | None = None
    scaling: Scaling | None = None
    task_reason: str | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def is_classification(self) -> bool:
        return self.n_classes is not None

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            if len(getattr(self, part)) == 0:
                raise MdlkitError(f"dataset {self.name!r} has an empty {part} split; use more data")
        if self.n_classes is not None:
            for part in ("train", "val", "test"):
                y = getattr(self, part).y
                if int(y.min()) < 0 or int(y.max()) >= self.n_classes:
                    top = self.n_classes - 1
                    raise MdlkitError(
                        f"dataset {self.name!r}: {part} labels must lie in [0, {top}]"
                    )
        if self.vocab_size is not None:
            for part in ("train", "val", "test"):
                x = getattr(self, part).x
                if x.is_floating_point() or int(x.min()) < 0 or int(x.max()) >= self.vocab_size:
                    raise MdlkitError(
                        f"dataset {self.name!r}: {part} inputs must be token ids in "
                        f"[0, {self.vocab_size - 1}]"
                    )


def train_test_split(*arrays: Any, **options: Any) -> list[Any]:
    """scikit-learn's ``train_test_split``, imported on the first call: scikit-learn adds about
    100 MB and a second to a process that never splits a dataset (e.g. ``mdlkit compress``)."""
    from sklearn.model_selection import train_test_split as split

    return list(split(*arrays, **options))


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
    )


def stratified_indices(
    y: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits, stratified by the labels ``y``.

    The splits :func:`stratified_splits` takes (the same rows in the same order for a seed).
    scikit-learn's ``ValueError`` passes through when a class is too small to be stratified.

    >>> train, val, test = stratified_indices(np.arange(10) % 2, val_fraction=0.2,
    ...                                       test_fraction=0.2, seed=0)
    >>> sorted([*train, *val, *test]) == list(range(10)), len(val), len(test)
    (True, 2, 2)
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise MdlkitError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
    rows = np.arange(len(y))
    rest, test, y_rest, _ = train_test_split(
        rows, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1 - test_fraction),
        stratify=y_rest,
        random_state=seed + 1,
    )
    return train, val, test


def stratified_splits(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> Splits:
    """Split a classification dataset into train/val/test, stratified by label, reproducibly.

    >>> x = np.arange(200, dtype=np.float32).reshape(100, 2); y = np.arange(100) % 2
    >>> s = stratified_splits("toy", x, y, n_classes=2, val_fraction=0.2, test_fraction=0.2, seed=0)
    >>> len(s.train), len(s.val), len(s.test)
    (60, 20, 20)
    """
    train, val, test = stratified_indices(
        y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    return Splits(
        name,
        _split(x[train], y[train]),
        _split(x[val], y[val]),
        _split(x[test], y[test]),
        n_classes,
    )


def stratified_subset(split: Split, n: int, *, seed: int) -> Split:
    """``n`` samples of a classification split, drawn with the class proportions kept.

    >>> s = Split(torch.zeros(100, 2), torch.arange(100) % 2)
    >>> sub = stratified_subset(s, 10, seed=0)
    >>> len(sub), int(sub.y.sum())
    (10, 5)
    """
    if not 1 <= n <= len(split):
        raise MdlkitError(f"n_train must lie in [1, {len(split)}] (the training samples), got {n}")
    if n == len(split):
        return split
    y = split.y.numpy()
    try:
        keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    except ValueError as exc:  # fewer samples than classes: no stratified draw exists
        raise MdlkitError(
            f"cannot draw {n} training samples with every class kept ({exc})"
        ) from None
    index = torch.from_numpy(np.sort(keep))
    return Split(split.x[index], split.y[index])
