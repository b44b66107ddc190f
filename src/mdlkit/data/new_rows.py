"""New rows for a fitted model: a user's ``.csv``, ``.parquet`` or ``.npz`` file read with fit's
checks and standardized with the run's own :class:`~mdlkit.data.scaling.Scaling`.

A CSV or parquet file needs the feature columns the model was fitted on, found by name (their
order and any other column do not matter); an ``.npz`` file gives ``x`` (or ``x_test``) with
as many columns, in the training order. If the file also holds the targets (the run's target
column, or ``y``/``y_test``), they are read too, so a prediction can be scored: class labels
become the run's class indices (a label the model never saw becomes -1), regression targets stay
in the file's units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mdlkit.data.csv_parquet_files import frame_rows
from mdlkit.data.messages import refuse_rows
from mdlkit.data.npz_files import npz_rows
from mdlkit.data.scaling import Scaling
from mdlkit.data.table_sources import source_file
from mdlkit.errors import MdlkitError

__all__ = ["NewRows", "read_new_rows"]


@dataclass(frozen=True)
class NewRows:
    """The rows of a file, ready for the model, and their targets if the file has them."""

    x: torch.Tensor
    """(n, d) float32 features standardized with the training rows' mean and std"""
    targets: np.ndarray | None
    """class indices (n,) int64, -1 for a label unknown to the model; or regression targets
    (n, outputs) float64 in the file's units; None when the file has no targets"""

    @property
    def unknown_labels(self) -> int:
        """How many rows have a class label the model was not trained on."""
        if self.targets is None or self.targets.dtype != np.int64:
            return 0
        return int((self.targets < 0).sum())


def _class_indices(y: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """Labels as the run's class indices, compared as fit names them (``str`` of the value,
    as :func:`numpy.unique` then ``tolist`` gives it); -1 for an unknown label."""
    index = {name: k for k, name in enumerate(class_names)}
    values = y.reshape(len(y)).tolist()
    return np.array([index.get(str(v), -1) for v in values], dtype=np.int64)


def _regression_targets(y: np.ndarray, scaling: Scaling, name: str) -> np.ndarray:
    outputs = len(scaling.target_names)
    if y.dtype.kind not in "biuf":
        raise MdlkitError(
            f"{name}: the target {', '.join(scaling.target_names)!r} holds text; the model "
            "predicts numbers (drop the column to predict only)"
        )
    values = y.astype(np.float64).reshape(len(y), -1)
    if values.shape[1] != outputs:
        raise MdlkitError(
            f"{name}: the targets have {values.shape[1]} columns, the model predicts {outputs}"
        )
    refuse_rows(
        np.asarray(~np.isfinite(values).all(axis=1)),
        f"{name}: the target has NaN or infinite values",
        "drop those rows (or the target)",
    )
    return values


def read_new_rows(name: str, scaling: Scaling) -> NewRows:
    """The rows of the file ``name`` for a model fitted with ``scaling``; every problem (a
    missing file, a missing feature column, text, NaN or infinity in a feature, a value too
    far out to standardize) is a one-line :class:`MdlkitError`."""
    if name.startswith("sklearn:"):
        raise MdlkitError(f"{name}: give the new rows as a .csv, .parquet or .npz file")
    path, suffix = source_file(name)
    features = scaling.feature_names
    if suffix == ".npz":
        x, y = npz_rows(path, name)
        if x.shape[1] != len(features):
            raise MdlkitError(
                f"{name}: x has {x.shape[1]} features per row, the model was fitted on "
                f"{len(features)}"
            )
    else:
        target = scaling.target_names[0] if len(scaling.target_names) == 1 else None
        x, y = frame_rows(path, suffix, name, features, target)
    targets = None
    if y is not None:
        if scaling.class_names is not None:
            targets = _class_indices(y, scaling.class_names)
        else:
            targets = _regression_targets(y, scaling, name)
    return NewRows(torch.from_numpy(scaling.scale_x(x)), targets)
