"""scikit-learn's built-in 8×8 digits (1,797 images, 10 classes): the default dataset.

It ships inside scikit-learn, so it needs no download and no local file.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mdlkit.data.splits import Splits, stratified_splits, stratified_subset

__all__ = ["load_digits"]


def load_digits(
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    flatten: bool = True,
    n_train: int | None = None,
) -> Splits:
    """Digits with pixels scaled to [0, 1] (raw values are 0..16): 64 features, or 1×8×8 images
    with ``flatten=False`` (for CNNs).

    Split stratified by class; the default 60/20/20 gives 1077/360/360 samples. ``n_train``
    keeps a stratified subset of that many training samples (validation and test unchanged).
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # imported when used: heavy

    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float32) / 16.0
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    splits = stratified_splits(
        "digits",
        x,
        y,
        n_classes=10,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )
    if n_train is None or n_train == len(splits.train):
        return splits
    return replace(splits, train=stratified_subset(splits.train, n_train, seed=seed + 2))
