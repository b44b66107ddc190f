"""An adaptive categorical model (Krichevsky–Trofimov counts) shared by encoders and decoders.

p(s) = (count(s) + a) / (seen + a·K): no table is sent; the price is about (K − 1)/2 · log2 n bits
of regret for a prior count a = ½. Encoder and decoder call the same ``probabilities`` and
``update``, so their tables agree bit for bit.

>>> m = AdaptiveCategorical(2)
>>> m.probabilities().tolist()
[0.5, 0.5]
>>> m.update(0); m.probabilities().tolist()
[0.75, 0.25]
"""

from __future__ import annotations

from typing import Any

import constriction
import numpy as np

__all__ = ["AdaptiveCategorical"]


class AdaptiveCategorical:
    """Counts over ``n_symbols`` symbols with prior count ``prior`` each."""

    def __init__(self, n_symbols: int, prior: float = 0.5) -> None:
        self.counts = np.full(n_symbols, prior, dtype=np.float64)

    def probabilities(self) -> np.ndarray:
        return self.counts / self.counts.sum()

    def model(self) -> Any:
        """The current distribution as a constriction model."""
        return constriction.stream.model.Categorical(self.probabilities(), perfect=False)

    def update(self, symbol: int) -> None:
        self.counts[symbol] += 1.0
