"""Ordinary least squares of one measure on another, with R²."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mdlkit.errors import MdlkitError

__all__ = ["LinearFit", "linear_fit"]


@dataclass(frozen=True)
class LinearFit:
    """Least squares y ≈ slope·x + intercept over ``n`` points, and R² = 1 − SS_res / SS_tot
    (NaN when y is constant: there is nothing to explain; slope NaN when x is constant)."""

    slope: float
    intercept: float
    r2: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def linear_fit(x: Sequence[float], y: Sequence[float]) -> LinearFit:
    """Ordinary least squares of ``y`` on ``x`` with an intercept.

    slope = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², intercept = ȳ − slope·x̄,
    R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)².

    >>> fit = linear_fit([0, 1, 2, 3], [1, 3, 5, 7.5])
    >>> round(fit.slope, 3), round(fit.intercept, 3), round(fit.r2, 4)
    (2.15, 0.9, 0.9968)
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise MdlkitError(f"x and y must be equally long lists, got {xs.shape} and {ys.shape}")
    n = len(xs)
    if n < 2:
        return LinearFit(math.nan, math.nan, math.nan, n)
    dx, dy = xs - xs.mean(), ys - ys.mean()
    sxx, syy = float(dx @ dx), float(dy @ dy)
    if sxx == 0:
        return LinearFit(math.nan, math.nan, math.nan, n)
    slope = float(dx @ dy) / sxx
    intercept = float(ys.mean()) - slope * float(xs.mean())
    residual = ys - (slope * xs + intercept)
    r2 = 1 - float(residual @ residual) / syy if syy > 0 else math.nan
    return LinearFit(slope, intercept, r2, n)
