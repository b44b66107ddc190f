"""The loss-saturation stopping rule of methods.md.

Every ``check_every`` epochs, once past ``min_epochs``: take the last ``window`` validation losses,
split them into an older and a newer half with means m_old and m_new, smooth each half with an
Epanechnikov kernel smoother and let s_old, s_new be the standard deviations of the residuals.
The loss has saturated iff ``m_old − m_new ≤ min(s_old, s_new) + 1e-10``: it no longer falls by
more than its own noise.

>>> import numpy as np
>>> rule = LossSaturation(window=20, min_epochs=20)
>>> falling = list(np.linspace(2.0, 1.0, 40))
>>> rule.should_stop(falling)
False
>>> flat = list(1.0 + 0.01 * np.random.default_rng(0).standard_normal(40))
>>> rule.should_stop(flat)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlkit.errors import MdlkitError

__all__ = ["LossSaturation", "epanechnikov_smooth", "is_saturated"]


def epanechnikov_smooth(values: Sequence[float] | np.ndarray, bandwidth: float) -> np.ndarray:
    """Nadaraya–Watson smoothing over the index with K(u) = ¾(1 − u²) on |u| < 1, u = Δi / h."""
    y = np.asarray(values, dtype=np.float64)
    idx = np.arange(len(y), dtype=np.float64)
    u = (idx[:, None] - idx[None, :]) / bandwidth
    weights = np.where(np.abs(u) < 1.0, 0.75 * (1.0 - u**2), 0.0)
    return (weights @ y) / weights.sum(axis=1)


def is_saturated(window: Sequence[float], bandwidth: float = 5.0) -> bool:
    """Apply the saturation test to one window of losses (oldest first)."""
    y = np.asarray(window, dtype=np.float64)
    half = len(y) // 2
    old, new = y[len(y) - 2 * half : len(y) - half], y[len(y) - half :]
    s_old = float(np.std(old - epanechnikov_smooth(old, bandwidth)))
    s_new = float(np.std(new - epanechnikov_smooth(new, bandwidth)))
    return float(old.mean() - new.mean()) <= min(s_old, s_new) + 1e-10


@dataclass(frozen=True)
class LossSaturation:
    """When to stop: the validation loss has saturated (see module docstring).

    Args:
        window: how many recent epochs the test looks at (≥ 4, split in two halves).
        check_every: test every this many epochs.
        min_epochs: never stop before this many epochs.
        bandwidth: Epanechnikov bandwidth h in epochs (neighbours closer than h get weight).
    """

    window: int = 20
    check_every: int = 1
    min_epochs: int = 20
    bandwidth: float = 5.0

    def __post_init__(self) -> None:
        if self.window < 4 or self.check_every < 1 or self.min_epochs < 0 or self.bandwidth <= 0:
            raise MdlkitError(
                "stopping rule needs window >= 4, check_every >= 1, min_epochs >= 0, bandwidth > 0"
            )

    def should_stop(self, losses: Sequence[float]) -> bool:
        """Whether training should stop after ``len(losses)`` epochs."""
        epochs = len(losses)
        if epochs < max(self.min_epochs, self.window) or epochs % self.check_every:
            return False
        return is_saturated(losses[-self.window :], self.bandwidth)
