"""Strength schedules: a regularization strength as a function of the optimizer step.

Any strength argument accepts a plain float (a constant) or a :class:`Schedule`.

>>> warm = LinearWarmup(1e-3, warmup_steps=10, delay_steps=5)
>>> [warm(s) for s in (0, 5, 10, 15, 100)]
[0.0, 0.0, 0.0005, 0.001, 0.001]
>>> StepSchedule([0.0, 1.0, 2.0], boundaries=[3, 6])(4)
1.0
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from mdlkit.errors import MdlkitError

__all__ = [
    "Constant",
    "LinearRamp",
    "LinearWarmup",
    "Schedule",
    "StepSchedule",
    "Strength",
    "as_schedule",
]


class Schedule(ABC):
    """A non-negative strength per optimizer step (steps count from 0)."""

    @abstractmethod
    def __call__(self, step: int) -> float: ...


@dataclass(frozen=True)
class Constant(Schedule):
    """The same strength at every step."""

    value: float

    def __post_init__(self) -> None:
        _check_strength(self.value)

    def __call__(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class LinearWarmup(Schedule):
    """Zero for ``delay_steps``, then a linear ramp to ``value`` over ``warmup_steps``.

    The paper recommends introducing a sparsity penalty gradually; this is that warm-up.
    """

    value: float
    warmup_steps: int
    delay_steps: int = 0

    def __post_init__(self) -> None:
        _check_strength(self.value)
        if self.warmup_steps < 0 or self.delay_steps < 0:
            raise MdlkitError("warm-up and delay steps must be >= 0")

    def __call__(self, step: int) -> float:
        ramp = step - self.delay_steps
        if ramp <= 0:
            return 0.0
        if ramp >= self.warmup_steps:
            return self.value
        return self.value * ramp / self.warmup_steps


@dataclass(frozen=True)
class LinearRamp(Schedule):
    """An increasing strength: ``start`` until ``delay_steps``, linearly to ``end`` over
    ``ramp_steps``, then ``end`` (the paper's "increasing α" option).

    >>> [LinearRamp(1.0, 3.0, ramp_steps=4)(s) for s in (0, 2, 4, 9)]
    [1.0, 2.0, 3.0, 3.0]
    """

    start: float
    end: float
    ramp_steps: int
    delay_steps: int = 0

    def __post_init__(self) -> None:
        _check_strength(self.start)
        _check_strength(self.end)
        if self.ramp_steps < 1 or self.delay_steps < 0:
            raise MdlkitError("a ramp needs ramp_steps >= 1 and delay_steps >= 0")

    def __call__(self, step: int) -> float:
        t = min(max(step - self.delay_steps, 0), self.ramp_steps) / self.ramp_steps
        return self.start + (self.end - self.start) * t


@dataclass(frozen=True)
class StepSchedule(Schedule):
    """Piecewise constant: ``values[i]`` from ``boundaries[i-1]`` up to ``boundaries[i]``."""

    values: Sequence[float]
    boundaries: Sequence[int]

    def __post_init__(self) -> None:
        if len(self.values) != len(self.boundaries) + 1:
            raise MdlkitError("a step schedule needs one more value than boundaries")
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:], strict=False)):
            raise MdlkitError("step schedule boundaries must be strictly increasing")
        for v in self.values:
            _check_strength(v)

    def __call__(self, step: int) -> float:
        index = sum(1 for b in self.boundaries if step >= b)
        return float(self.values[index])


Strength = float | Schedule


def _check_strength(value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise MdlkitError(f"regularization strength must be >= 0, got {value}")


def as_schedule(strength: Strength) -> Schedule:
    """A schedule from a float or a schedule."""
    if isinstance(strength, Schedule):
        return strength
    return Constant(float(strength))
