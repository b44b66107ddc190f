"""Choosing by the code itself: the charged choice among candidates.

Trying G candidates (strengths, widths, methods) and sending the one with the shortest code
costs log2 G bits more — the receiver must learn which candidate's decoder to run.
:func:`select_shortest` charges it as the named part ``choice``. The strength α that training
starts from is the description length's own (:mod:`mdlkit.training.costs`, re-exported here).

>>> s = select_shortest([5000.0, 4200.0, 4300.0, 4100.5])
>>> s.index, s.length.parts["choice"], s.length.total
(3, 2.0, 4102.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlkit.bits import CodeLength
from mdlkit.errors import MdlkitError
from mdlkit.training.costs import (
    REFERENCE_DENSITY,
    codec_bits_per_nonzero,
    description_length_alpha,
    two_part_bits,
)

__all__ = [
    "REFERENCE_DENSITY",
    "Selection",
    "codec_bits_per_nonzero",
    "description_length_alpha",
    "select_shortest",
    "two_part_bits",
]


@dataclass(frozen=True)
class Selection:
    """The shortest of G candidate codes, with the choice charged: ``length`` has the parts
    ``code`` (the chosen candidate's length) and ``choice`` (log2 G bits)."""

    index: int
    length: CodeLength
    candidates: tuple[float, ...]

    @property
    def choice_bits(self) -> float:
        return self.length.parts["choice"]


def select_shortest(lengths: Sequence[float]) -> Selection:
    """Pick the shortest of ``lengths`` (bits; the first on a tie) and charge log2 G for it."""
    if len(lengths) == 0:
        raise MdlkitError("selection needs at least one candidate")
    values = tuple(float(v) for v in lengths)
    if not all(math.isfinite(v) for v in values):
        raise MdlkitError("every candidate's length must be finite")
    index = int(np.argmin(values))
    length = CodeLength({"code": values[index], "choice": math.log2(len(values))}, name="selected")
    return Selection(index, length, values)
