"""Model sizes by convention, besides the weight codec's: every parameter, or every nonzero
parameter, as a float32.

The DRR paper counts a pruned model as 4 bytes per nonzero parameter (no cost for which ones
are nonzero, nor for the architecture): :func:`paper_model_bits`. The weight file
(:mod:`mdlkit.coding.weights`) is mdlkit's own, exact description length.

>>> paper_model_bits(1_000), dense_model_bits(266_610)
(32000, 8531520)
"""

from __future__ import annotations

__all__ = ["FLOAT32_BITS", "dense_model_bits", "paper_model_bits"]

FLOAT32_BITS = 32
"""Bits of one float32 parameter."""


def paper_model_bits(nonzero: int) -> int:
    """The DRR paper's model size: :data:`FLOAT32_BITS` (32) bits per nonzero parameter."""
    return FLOAT32_BITS * nonzero


def dense_model_bits(n_params: int) -> int:
    """A dense float32 model's size: :data:`FLOAT32_BITS` (32) bits per parameter."""
    return FLOAT32_BITS * n_params
