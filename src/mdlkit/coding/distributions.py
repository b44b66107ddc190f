"""Probability models of coded symbols, kept apart from the coder (constriction's split).

A distribution says what p(symbol) is for a block of symbols; :mod:`mdlkit.coding.streams`
turns symbols into bits with it. All probabilities are float64 arrays computed identically by
encoder and decoder (the heads in :mod:`mdlkit.heads` make them).

- :class:`Categorical`: one row of class probabilities per symbol.
- :class:`DiscretizedGaussian`: targets stored at precision ε, y ≈ k·ε; bin k has the mass of
  [(k − ½)ε, (k + ½)ε) under N(μ, σ²). The range of k the stream may meet is a
  :class:`BinRange`, side information sent once (``BinRange.side_bits``).
- :class:`UniformBins`: every bin of a :class:`BinRange` equally likely (an online regression
  code's first block, before any model exists).

>>> d = Categorical(np.full((2, 4), 0.25))
>>> d.ideal_bits(np.array([0, 3])).tolist()
[2.0, 2.0]
>>> r = BinRange.of(np.array([0.12, -0.5]), epsilon=0.1)
>>> (r.k_min, r.k_max, r.shift)
(-5, 1, 0)
>>> float(UniformBins(r, 2).ideal_bits(np.array([-5, 1])).sum()) == 2 * math.log2(7)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_ndtr

from mdlkit.errors import MdlkitError

__all__ = [
    "COARSE_PRECISION",
    "MAX_COARSE_BINS",
    "BinRange",
    "Categorical",
    "DiscretizedGaussian",
    "Distribution",
    "UniformBins",
    "gaussian_bin_bits",
]

# constriction's coders use 24-bit probabilities: at most 2^16 coarse bins keep each one codable,
# and none costs more than 24 bits.
COARSE_PRECISION = 24
MAX_COARSE_BINS = 2**16


@dataclass(frozen=True)
class Categorical:
    """p(symbol_i = j) = ``probs[i, j]`` (float64, rows sum to 1)."""

    probs: np.ndarray

    def __post_init__(self) -> None:
        probs = np.ascontiguousarray(self.probs, dtype=np.float64)
        if probs.ndim != 2:
            raise MdlkitError(f"class probabilities must be a 2-d array, got shape {probs.shape}")
        object.__setattr__(self, "probs", probs)

    def __len__(self) -> int:
        return len(self.probs)

    @property
    def n_classes(self) -> int:
        return int(self.probs.shape[1])

    def check(self, symbols: np.ndarray) -> np.ndarray:
        """The symbols as int32 after checking there is one row each and they are classes."""
        symbols = np.asarray(symbols)
        if len(symbols) != len(self.probs):
            raise MdlkitError(
                f"need one probability row per symbol: {self.probs.shape} vs {symbols.shape}"
            )
        if len(symbols) and (symbols.min() < 0 or symbols.max() >= self.n_classes):
            raise MdlkitError(
                f"symbols must lie in [0, {self.n_classes - 1}] (the number of classes)"
            )
        return symbols.astype(np.int32)

    def ideal_bits(self, symbols: np.ndarray) -> np.ndarray:
        """−log2 p(symbol_i) per symbol."""
        symbols = self.check(symbols)
        return -np.log2(self.probs[np.arange(len(symbols)), symbols])

    def __getitem__(self, index: slice) -> Categorical:
        return Categorical(self.probs[index])


@dataclass(frozen=True)
class BinRange:
    """The bins k_min … k_max a Gaussian stream may code, and the split of k into a coarse index
    (k >> shift, at most :data:`MAX_COARSE_BINS` of them) and ``shift`` raw low bits."""

    k_min: int
    k_max: int

    def __post_init__(self) -> None:
        if self.k_max < self.k_min:
            raise MdlkitError(f"empty bin range [{self.k_min}, {self.k_max}]")
        if max(abs(self.k_min), abs(self.k_max)) >= 2**62:
            raise MdlkitError("ε is too fine for targets of this size")

    @classmethod
    def of(cls, y: np.ndarray, epsilon: float) -> BinRange:
        """The range of the bins of targets ``y`` at precision ε."""
        k = bins(y, epsilon)
        if len(k) == 0:
            return cls(0, 0)
        return cls(int(k.min()), int(k.max()))

    @property
    def shift(self) -> int:
        return max(0, math.ceil(math.log2((self.k_max - self.k_min + 1) / MAX_COARSE_BINS)))

    @property
    def size(self) -> int:
        return self.k_max - self.k_min + 1

    @property
    def side_bits(self) -> int:
        """What a receiver needs to know the range: k_min and k_max as int64, the shift as a
        byte. The one place this side information is priced."""
        return 2 * 64 + 8

    def check(self, k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64)
        if len(k) and (int(k.min()) < self.k_min or int(k.max()) > self.k_max):
            raise MdlkitError(f"bins must lie in [{self.k_min}, {self.k_max}] (the sent range)")
        return k


def bins(y: np.ndarray, epsilon: float) -> np.ndarray:
    """k = round(y / ε) as int64 (the stored value is k·ε)."""
    if not epsilon > 0:
        raise MdlkitError(f"ε must be > 0, got {epsilon}")
    y = np.asarray(y, dtype=np.float64).ravel()
    if not np.all(np.isfinite(y)):
        raise MdlkitError("targets must be finite numbers")
    return np.round(y / epsilon).astype(np.int64)


def _log_mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ln(Φ(hi) − Φ(lo)) for standardized bounds lo < hi, accurate in both tails."""
    # Work in the lower tail: for bins above the mean, mirror them.
    upper = lo > 0
    a = np.where(upper, -hi, lo)
    b = np.where(upper, -lo, hi)
    log_b, log_a = log_ndtr(b), log_ndtr(a)
    return log_b + np.log1p(-np.exp(np.minimum(log_a - log_b, 0.0)))


def gaussian_bin_bits(k: np.ndarray, mu: np.ndarray, sigma: float, epsilon: float) -> np.ndarray:
    """−log2 of the mass of bin k under N(μ, σ²), per sample (float64)."""
    lo = ((k - 0.5) * epsilon - mu) / sigma
    hi = ((k + 0.5) * epsilon - mu) / sigma
    return -_log_mass(lo, hi) / math.log(2.0)


@dataclass(frozen=True)
class DiscretizedGaussian:
    """N(μ_i, σ²) over bins of width ε; ``support`` (needed only by a stream) is the sent range."""

    means: np.ndarray
    sigma: float
    epsilon: float
    support: BinRange | None = None

    def __post_init__(self) -> None:
        if not self.sigma > 0 or not self.epsilon > 0:
            raise MdlkitError(f"σ and ε must be > 0, got σ={self.sigma}, ε={self.epsilon}")
        means = np.ascontiguousarray(self.means, dtype=np.float64).ravel()
        object.__setattr__(self, "means", means)

    def __len__(self) -> int:
        return len(self.means)

    def within(self, support: BinRange) -> DiscretizedGaussian:
        """The same distribution with the range a stream codes over."""
        return replace(self, support=support)

    def check(self, k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=np.int64).ravel()
        if len(k) != len(self.means):
            raise MdlkitError(f"need one mean per target: {len(self.means)} vs {len(k)}")
        return self.support.check(k) if self.support is not None else k

    def ideal_bits(self, k: np.ndarray) -> np.ndarray:
        """−log2 of the bin mass of each k. Within a sent range, the mass of a coarse bin is at
        least 2^−:data:`COARSE_PRECISION` (the coder's leaky quantization: every bin of the
        range stays codable), so no symbol costs more than that plus the ``shift`` raw bits —
        the model the stream actually codes with, far out in the tails included."""
        bits = gaussian_bin_bits(self.check(k), self.means, self.sigma, self.epsilon)
        if self.support is None:
            return bits
        return np.minimum(bits, COARSE_PRECISION + self.support.shift)

    def __getitem__(self, index: slice) -> DiscretizedGaussian:
        return replace(self, means=self.means[index])


@dataclass(frozen=True)
class UniformBins:
    """``n`` symbols, each uniform over the bins of ``support``: log2(k_max − k_min + 1) bits."""

    support: BinRange
    n: int

    def __len__(self) -> int:
        return self.n

    def check(self, k: np.ndarray) -> np.ndarray:
        k = self.support.check(np.asarray(k, dtype=np.int64).ravel())
        if len(k) != self.n:
            raise MdlkitError(f"expected {self.n} bins, got {len(k)}")
        return k

    def ideal_bits(self, k: np.ndarray) -> np.ndarray:
        return np.full(len(self.check(k)), math.log2(self.support.size))

    def __getitem__(self, index: slice) -> UniformBins:
        return UniformBins(self.support, len(range(self.n)[index]))


Distribution = Categorical | DiscretizedGaussian | UniformBins
