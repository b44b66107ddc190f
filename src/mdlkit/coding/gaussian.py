"""Range coding of real-valued targets with a discretized Gaussian.

Each y is stored at precision ε: k = round(y / ε). It is coded with the mass of its bin
[(k − ½)ε, (k + ½)ε) under N(μ, σ²), μ the model's prediction. Bins are coded in two stages so
that any ε works with a 24-bit coder: the coarse index j = ⌊k / 2^s⌋ under constriction's
QuantizedGaussian (at most 2^16 coarse bins over the data's range), then the s bits of k below it
at ½ each. When ε·2^s ≪ σ the density is flat inside a coarse bin and the two stages cost what
the fine bin's mass says; the ideal and the actual lengths are both reported, so any gap shows.

>>> import numpy as np
>>> y = np.array([0.1234, -0.5, 0.9]); mu = np.array([0.1, -0.45, 1.0])
>>> enc = encode_gaussian(y, mu, sigma=0.1, epsilon=1e-3)
>>> decode_gaussian(enc, mu, sigma=0.1).tolist() == np.round(y / 1e-3).astype(int).tolist()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import constriction
import numpy as np
from scipy.special import log_ndtr

from mdlkit.errors import MdlkitError

__all__ = ["EncodedGaussian", "decode_gaussian", "encode_gaussian", "gaussian_bin_bits"]

_MAX_COARSE = 2**16
_FAIR_BIT = constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False)


@dataclass(frozen=True)
class EncodedGaussian:
    """A coded stream of discretized targets and what the decoder needs besides the means.

    ``k_min``/``k_max`` bound the fine indices, ``shift`` is s; ``epsilon`` is ε.
    """

    words: np.ndarray
    epsilon: float
    k_min: int
    k_max: int
    shift: int
    n: int
    ideal_bits: float

    @property
    def coded_bits(self) -> int:
        return 32 * len(self.words)

    @property
    def side_bits(self) -> int:
        """Bits a header needs for ε, k_min, k_max, s and n (float64 + 4 × int64)."""
        return 64 * 5


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


def _coarse_model(k_min: int, k_max: int, shift: int) -> object:
    return constriction.stream.model.QuantizedGaussian(k_min >> shift, k_max >> shift)


def _coarse_params(mu: np.ndarray, sigma: float, epsilon: float, shift: int) -> tuple:
    scale = float(2**shift)
    means = ((mu / epsilon + 0.5) / scale - 0.5).astype(np.float64)
    stds = np.full(len(mu), sigma / (epsilon * scale), dtype=np.float64)
    return means, stds


def encode_gaussian(
    y: np.ndarray, mu: np.ndarray, *, sigma: float, epsilon: float
) -> EncodedGaussian:
    """Code targets ``y`` (float) at precision ε with means ``mu`` and one σ."""
    y = np.asarray(y, dtype=np.float64).ravel()
    mu = np.asarray(mu, dtype=np.float64).ravel()
    if len(y) != len(mu):
        raise MdlkitError(f"need one mean per target: {len(mu)} vs {len(y)}")
    if not sigma > 0 or not epsilon > 0:
        raise MdlkitError(f"σ and ε must be > 0, got σ={sigma}, ε={epsilon}")
    if not np.all(np.isfinite(y)):
        raise MdlkitError("targets must be finite numbers")
    k = np.round(y / epsilon).astype(np.int64)
    if len(k) == 0:
        return EncodedGaussian(np.zeros(0, np.uint32), epsilon, 0, 0, 0, 0, 0.0)
    k_min, k_max = int(k.min()), int(k.max())
    if max(abs(k_min), abs(k_max)) >= 2**62:
        raise MdlkitError(f"ε = {epsilon} is too fine for targets of this size")
    shift = max(0, math.ceil(math.log2((k_max - k_min + 1) / _MAX_COARSE)))
    # Coarse indices must stay inside [k_min >> s, k_max >> s]: floor division keeps order.
    coarse = (k >> shift).astype(np.int32)
    means, stds = _coarse_params(mu, sigma, epsilon, shift)
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(coarse, _coarse_model(k_min, k_max, shift), means, stds)
    if shift:
        low = k - (k >> shift << shift)
        bits = ((low[:, None] >> np.arange(shift - 1, -1, -1)) & 1).astype(np.int32).ravel()
        encoder.encode(bits, _FAIR_BIT)
    ideal = float(gaussian_bin_bits(k, mu, sigma, epsilon).sum())
    words = np.asarray(encoder.get_compressed(), dtype=np.uint32)
    return EncodedGaussian(words, epsilon, k_min, k_max, shift, len(k), ideal)


def decode_gaussian(encoded: EncodedGaussian, mu: np.ndarray, *, sigma: float) -> np.ndarray:
    """The fine indices k (y ≈ k·ε) from a stream and the same means and σ."""
    mu = np.asarray(mu, dtype=np.float64).ravel()
    if len(mu) != encoded.n:
        raise MdlkitError(f"need {encoded.n} means to decode, got {len(mu)}")
    if encoded.n == 0:
        return np.zeros(0, dtype=np.int64)
    shift = encoded.shift
    means, stds = _coarse_params(mu, sigma, encoded.epsilon, shift)
    decoder = constriction.stream.queue.RangeDecoder(encoded.words)
    model = _coarse_model(encoded.k_min, encoded.k_max, shift)
    coarse = np.asarray(decoder.decode(model, means, stds), dtype=np.int64)
    k = coarse << shift
    if shift:
        bits = np.asarray(decoder.decode(_FAIR_BIT, encoded.n * shift), dtype=np.int64)
        k = k + (bits.reshape(encoded.n, shift) << np.arange(shift - 1, -1, -1)).sum(axis=1)
    return k
