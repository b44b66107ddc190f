"""Block schedules of online (prequential) codes: boundaries 0 = t0 < t1 < … < tS = n.

>>> doubling_schedule(100, first=10)
[0, 10, 20, 40, 80, 100]
>>> fraction_schedule(1000)
[0, 1, 2, 4, 8, 16, 32, 62, 125, 250, 500, 1000]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from mdlkit.errors import MdlkitError

__all__ = ["VOITA_TITOV_FRACTIONS", "check_schedule", "doubling_schedule", "fraction_schedule"]

# Voita & Titov (2020): 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25, 50, 100 % of the data.
VOITA_TITOV_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)


def check_schedule(boundaries: Sequence[int], n: int) -> list[int]:
    """Validate block boundaries for ``n`` samples; returns them as a list of ints."""
    b = [int(t) for t in boundaries]
    if n < 1:
        raise MdlkitError("a prequential code needs at least one sample")
    if len(b) < 2 or b[0] != 0 or b[-1] != n:
        raise MdlkitError(f"a schedule must start at 0 and end at n = {n}, got {b[:3]}…{b[-2:]}")
    if any(t2 <= t1 for t1, t2 in itertools.pairwise(b)):
        raise MdlkitError("the schedule must be strictly increasing (no empty blocks)")
    return b


def doubling_schedule(n: int, first: int = 10) -> list[int]:
    """Blocks that double from ``first`` samples (Blier & Ollivier use 10·2^k), ending at n."""
    if first < 1:
        raise MdlkitError(f"the first block needs at least one sample, got {first}")
    if first > n:
        raise MdlkitError(f"the first block ({first}) is larger than the data ({n} samples)")
    bounds, t = [0], first
    while t < n:
        bounds.append(t)
        t *= 2
    bounds.append(n)
    return check_schedule(bounds, n)


def fraction_schedule(n: int, fractions: Sequence[float] = VOITA_TITOV_FRACTIONS) -> list[int]:
    """Boundaries at the given fractions of n (rounded down, at least 1; duplicates dropped)."""
    if any(not 0 < f <= 1 for f in fractions):
        raise MdlkitError("schedule fractions must lie in (0, 1]")
    if any(f2 <= f1 for f1, f2 in itertools.pairwise(fractions)):
        raise MdlkitError("schedule fractions must be strictly increasing")
    bounds = [0]
    for f in fractions:
        t = max(1, int(f * n))
        if t > bounds[-1]:
            bounds.append(t)
    if bounds[-1] != n:
        bounds.append(n)
    return check_schedule(bounds, n)
