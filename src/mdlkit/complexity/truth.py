"""Known learning coefficients λ, to test estimators against (``docs`` of the LLC: llc.md).

- A regular model (identifiable, non-degenerate Fisher information) with d parameters: λ = d/2.
- A normal crossing K(w) = Π w_i^(2 k_i) under a flat prior: λ = 1 / (2 · max k_i).
- A deep linear network (Aoyagi 2024) with widths H_0 (input) … H_L (output) and a true
  product of rank r: :func:`deep_linear_lambda`.

>>> regular_lambda(25)
12.5
>>> normal_crossing_lambda([1, 2])   # f(x) = x·w1·w2² on noise: K = w1²·w2⁴
0.25
>>> deep_linear_lambda([5, 3, 5], 0), deep_linear_lambda([6, 4, 6], 2)
(6.5, 13.5)
>>> deep_linear_lambda([5, 5], 0)    # one layer: m·k / 2
12.5
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from mdlkit.errors import MdlkitError

__all__ = ["deep_linear_lambda", "normal_crossing_lambda", "regular_lambda"]


def regular_lambda(n_parameters: int) -> float:
    """λ = d / 2 for a regular model with d parameters."""
    if n_parameters < 0:
        raise MdlkitError(f"a model has d >= 0 parameters, got {n_parameters}")
    return n_parameters / 2


def normal_crossing_lambda(powers: Sequence[int]) -> float:
    """λ = 1 / (2 · max k_i) for K(w) = Π w_i^(2 k_i) with a flat prior near 0."""
    if not powers or any(k < 1 for k in powers):
        raise MdlkitError("a normal crossing needs powers k_i >= 1")
    return 1.0 / (2 * max(powers))


def deep_linear_lambda(widths: Sequence[int], rank: int) -> float:
    """Aoyagi's λ of a deep linear network x ↦ W_L ⋯ W_1 x with widths H_0 … H_L whose true
    product has rank r.

    With M_i = H_i − r, take the set S of ℓ + 1 layers with max_S M_i < min_{k∉S} M_k,
    Σ_S M_i ≥ ℓ · max_S M_i and Σ_S M_i < ℓ · min_{k∉S} M_k (conditions on an empty complement
    are void); with Σ = Σ_S M_i and a = Σ − ℓ(⌈Σ/ℓ⌉ − 1):

        λ = [r(H_0 + H_L) − r²]/2 + a(ℓ − a)/(4ℓ) − (ℓ(ℓ − 1)/4)·(Σ/ℓ)² + ½·Σ_{i<j∈S} M_i M_j.
    """
    if len(widths) < 2 or any(h < 1 for h in widths):
        raise MdlkitError("a deep linear network needs at least two widths, all >= 1")
    if not 0 <= rank <= min(widths):
        raise MdlkitError(f"the true rank must lie in [0, {min(widths)}], got {rank}")
    m = [h - rank for h in widths]
    base = (rank * (widths[0] + widths[-1]) - rank**2) / 2
    for size in range(len(m), 1, -1):  # ℓ ≥ 1
        for subset in itertools.combinations(range(len(m)), size):
            inside = [m[i] for i in subset]
            outside = [m[k] for k in range(len(m)) if k not in subset]
            ell, total = size - 1, sum(inside)
            if outside and not max(inside) < min(outside):
                continue
            if total < ell * max(inside):
                continue
            if outside and not total < ell * min(outside):
                continue
            a = total - ell * (math.ceil(total / ell) - 1)
            pairs = sum(x * y for x, y in itertools.combinations(inside, 2))
            return (
                base
                + a * (ell - a) / (4 * ell)
                - ell * (ell - 1) / 4 * (total / ell) ** 2
                + pairs / 2
            )
    raise MdlkitError(f"no layer set meets Aoyagi's conditions for widths {list(widths)}")
