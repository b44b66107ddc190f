"""A source read into memory (:class:`Table`) and what its target values are (:data:`TargetKind`).

>>> target_kind(np.array(["a", "b"]), "y", "f.npz"), target_kind(np.array([0.5]), "y", "f.npz")
('text', 'float')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mdlkit.errors import MdlkitError

__all__ = ["Table", "TargetKind", "target_kind"]

# What a target's values are: text (also categorical), bool, integer or float numbers.
TargetKind = Literal["text", "bool", "integer", "float"]


@dataclass(frozen=True)
class Table:
    """A source read into memory: features, raw targets and their names.

    When ``n_test`` > 0 the last ``n_test`` rows are the source's own test split.
    """

    x: np.ndarray  # (n, d) float64, finite
    y: np.ndarray  # (n,) or (n, outputs)
    kind: TargetKind
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    label_names: tuple[str, ...] | None = None  # names of integer labels 0, 1, ... (sklearn)
    n_test: int = 0

    @property
    def outputs(self) -> int:
        """Target values per row (1 for class labels)."""
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])


def target_kind(y: np.ndarray, key: str, name: str) -> TargetKind:
    """The kind of an array of targets by its dtype; ``key`` and ``name`` (the array and the
    source) name it in the error for any other dtype."""
    kind = y.dtype.kind
    if kind in "US":
        return "text"
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    raise MdlkitError(
        f"{name}: array {key!r} has dtype {y.dtype}; targets must be numbers or text labels"
    )
