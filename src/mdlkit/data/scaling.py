"""Standardization of tabular data, fitted on the training split and kept with the splits.

A :class:`Scaling` records what was done to a table's columns so that model outputs can be put
back in the file's units and the same transform applied to new rows. It is plain data:
:meth:`Scaling.to_dict` is JSON-safe and :meth:`Scaling.from_dict` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from mdlkit.errors import MdlkitError

__all__ = ["Scaling"]


def _standardize(
    values: np.ndarray, mean: Sequence[float], std: Sequence[float], names: Sequence[str], what: str
) -> np.ndarray:
    """``(values - mean) / std`` as float32; a value that float32 cannot hold is an error."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = (values - np.asarray(mean)) / np.asarray(std)
    too_far = ~(np.abs(z) <= np.finfo(np.float32).max)
    if too_far.any():
        row, col = np.argwhere(too_far)[0]
        raise MdlkitError(
            f"{what} {names[col]!r} has a value ({values[row, col]:g}) too far from the training "
            "rows' range to standardize in float32; rescale or drop it"
        )
    return z.astype(np.float32)


def _stats(
    values: np.ndarray, names: Sequence[str], what: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-column mean and standard deviation (ddof 0); a constant column gets std 1."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=0)
        std = values.std(axis=0)
    for j, (m, s) in enumerate(zip(mean, std, strict=True)):
        if not (np.isfinite(m) and np.isfinite(s)):
            raise MdlkitError(
                f"{what} {names[j]!r} has values too large to standardize; rescale that column"
            )
    std = np.where(std > 0, std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


@dataclass(frozen=True)
class Scaling:
    """Feature (and, for regression, target) standardization computed on the training rows.

    ``feature_mean``/``feature_std`` hold one entry per feature column (a constant column has
    std 1). For regression ``target_mean``/``target_std`` hold one entry per output and
    ``class_names`` is None; for classification the target is not scaled (both None) and
    ``class_names[k]`` is the file's label of class index ``k``.

    >>> s = Scaling.fit(np.array([[1.0, 5.0], [3.0, 5.0]]), feature_names=("a", "b"),
    ...                 target_names=("y",), class_names=("no", "yes"))
    >>> s.feature_mean, s.feature_std
    ((2.0, 5.0), (1.0, 1.0))
    >>> s.scale_x([[3.0, 6.0]]).tolist()
    [[1.0, 1.0]]
    >>> Scaling.from_dict(s.to_dict()) == s
    True
    """

    feature_names: tuple[str, ...]
    feature_mean: tuple[float, ...]
    feature_std: tuple[float, ...]
    target_names: tuple[str, ...]
    target_mean: tuple[float, ...] | None = None
    target_std: tuple[float, ...] | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        d = len(self.feature_names)
        if len(self.feature_mean) != d or len(self.feature_std) != d:
            raise MdlkitError(f"scaling: {d} feature names but a different number of means/stds")
        if (self.target_mean is None) != (self.target_std is None):
            raise MdlkitError("scaling: target mean and std must both be given or both be None")
        if self.target_mean is not None and self.target_std is not None:
            k = len(self.target_names)
            if len(self.target_mean) != k or len(self.target_std) != k:
                raise MdlkitError(f"scaling: {k} target names but a different number of stats")
            if self.class_names is not None:
                raise MdlkitError("scaling: a regression target has no class names")
        if any(not s > 0 for s in (*self.feature_std, *(self.target_std or ()))):
            raise MdlkitError("scaling: standard deviations must be > 0")

    @classmethod
    def fit(
        cls,
        x_train: npt.ArrayLike,
        y_train: npt.ArrayLike | None = None,
        *,
        feature_names: Sequence[str],
        target_names: Sequence[str],
        class_names: Sequence[str] | None = None,
    ) -> Scaling:
        """Mean and std of each column of the training rows ``x_train`` (n, d); of the
        regression targets ``y_train`` (n, outputs) too when given."""
        x = np.asarray(x_train, dtype=np.float64)
        mean, std = _stats(x.reshape(len(x), -1), feature_names, "feature column")
        y_mean = y_std = None
        if y_train is not None:
            y = np.asarray(y_train, dtype=np.float64)
            y_mean, y_std = _stats(y.reshape(len(y), -1), target_names, "target")
        return cls(
            tuple(feature_names),
            mean,
            std,
            tuple(target_names),
            y_mean,
            y_std,
            None if class_names is None else tuple(class_names),
        )

    @property
    def is_regression(self) -> bool:
        return self.target_mean is not None

    def scale_x(self, x: npt.ArrayLike) -> np.ndarray:
        """Standardized float32 features of rows ``x`` (n, d) in the file's units."""
        raw = np.asarray(x, dtype=np.float64).reshape(-1, len(self.feature_mean))
        return _standardize(
            raw, self.feature_mean, self.feature_std, self.feature_names, "feature column"
        )

    def unscale_x(self, x: npt.ArrayLike) -> np.ndarray:
        """Features back in the file's units (float64)."""
        z = np.asarray(x, dtype=np.float64)
        return z * np.asarray(self.feature_std) + np.asarray(self.feature_mean)

    def scale_y(self, y: npt.ArrayLike) -> np.ndarray:
        """Standardized float32 regression targets (n, outputs)."""
        if self.target_mean is None or self.target_std is None:
            raise MdlkitError("scaling: classification targets are class indices, not scaled")
        raw = np.asarray(y, dtype=np.float64).reshape(-1, len(self.target_mean))
        return _standardize(raw, self.target_mean, self.target_std, self.target_names, "target")

    def unscale_y(self, y: npt.ArrayLike) -> np.ndarray:
        """Regression targets or predictions back in the file's units (float64, (n, outputs))."""
        if self.target_mean is None or self.target_std is None:
            raise MdlkitError("scaling: classification targets are class indices, not scaled")
        z = np.asarray(y, dtype=np.float64).reshape(-1, len(self.target_mean))
        return z * np.asarray(self.target_std) + np.asarray(self.target_mean)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists of str and float, or None)."""
        return {
            f.name: None if getattr(self, f.name) is None else list(getattr(self, f.name))
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaling:
        """The scaling :meth:`to_dict` wrote (also after a JSON round trip)."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names[:4] if data.get(n) is None]
        if unknown or missing:
            raise MdlkitError(f"scaling record: unknown keys {unknown}, missing keys {missing}")
        try:
            values: dict[str, Any] = {}
            for n in names:
                v = data.get(n)
                if v is None:
                    values[n] = None
                elif not isinstance(v, list | tuple):
                    raise TypeError(f"{n} must be a list, got {type(v).__name__}")
                elif n.endswith("_names"):
                    values[n] = tuple(str(s) for s in v)
                else:
                    values[n] = tuple(float(s) for s in v)
        except (TypeError, ValueError) as exc:
            raise MdlkitError(f"scaling record: bad values ({exc})") from None
        return cls(**values)
