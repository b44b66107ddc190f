"""The uniform code: every label costs log2 K bits.

>>> uniform_codelength(1000, 8).total
3000.0
"""

from __future__ import annotations

import math

from mdlkit.bits import CodeLength
from mdlkit.errors import MdlkitError

__all__ = ["uniform_codelength"]


def uniform_codelength(n: int, n_classes: int) -> CodeLength:
    """n · log2 K bits: the baseline every other code is compared with."""
    if n < 0 or n_classes < 1:
        raise MdlkitError(f"uniform code needs n >= 0 and K >= 1, got n={n}, K={n_classes}")
    return CodeLength({"data": n * math.log2(n_classes)}, name="uniform")
