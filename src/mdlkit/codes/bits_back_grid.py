"""The weight grid of the bits-back coder and its two ANS models, q and the prior, per tensor.

A tensor's weights lie on θ = δ·k (δ = 2^e, k an integer in the sent range [k_min, k_max]).

**q, per weight.** Weight i (σ_i ≥ 8δ, see :func:`choose_grids`) is coded in two stages:
its coarse index c = k >> b_i, with b_i = max(0, ⌊log2(σ_i/δ)⌋ − 3) so that σ_i spans 8–16
coarse bins, under constriction's QuantizedGaussian over c₀ ± ``Q_HALF_WIDTH`` (c₀ the coarse
bin of μ_i; ± 96 bins cover μ_i ± 5.9σ_i or more), then the b_i low bits of k uniformly.
The model is q' (q's mass per coarse bin, spread evenly over its 2^b_i fine bins). A range
of 2·96 + 1 bins keeps constriction's leakage (every bin of a range gets at least 2^−24) to
≈ 1.2·10^−5 per weight, and a leaked draw still lies within μ_i ± 12σ_i. Spreading within
a coarse bin of width ≤ σ_i/8 is like rounding: ≤ 1/(24·64) nats of expected loss.

**The prior.** N(0, σ0²) over the tensor's range, coded the same way with one shift s for the
whole range: at most 2^11 coarse bins, so leakage costs ≤ 2^11·2^−24/ln 2 ≈ 1.8·10^−4 bits
per weight, and a coarse bin is 1/2048 of the range (≈ 14σ0/2048 when the range is the
prior's own ±7σ0), over which the prior's density is nearly flat.

Both sides compute the same float64 parameters from the same numbers: the prior's from the
sent side information, q's from μ and σ (which the decoder re-derives from the labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import constriction
import numpy as np
from scipy.special import log_ndtr

from mdlkit.bits import LN2
from mdlkit.codes.posterior import PRIOR_GRID, GaussianPosterior
from mdlkit.errors import MdlkitError

__all__ = [
    "EXPONENTS",
    "MAX_RANGE_BITS",
    "TensorGrid",
    "choose_grids",
    "decode_header",
    "encode_header",
    "log2_bin_mass",
]

MAX_RANGE_BITS = 20  # at most 2^20 fine bins per tensor
INDEX_BITS = 24  # |k| < 2^23
EXPONENTS = tuple(range(-48, 9))  # δ = 2^e
PRIOR_COARSE_BITS = 11
Q_HALF_WIDTH = 96  # coarse bins either side of μ: 6σ at 16 bins per σ
_UNIFORM = constriction.stream.model.Uniform()
_Q_MODEL = constriction.stream.model.QuantizedGaussian(-Q_HALF_WIDTH, Q_HALF_WIDTH)


def log2_bin_mass(k: np.ndarray, mean: np.ndarray | float, std: np.ndarray | float) -> np.ndarray:
    """log2 of the mass of [k − ½, k + ½] under N(mean, std²), accurate in both tails."""
    lo, hi = (k - 0.5 - mean) / std, (k + 0.5 - mean) / std
    upper = lo > 0  # work in the lower tail: mirror bins above the mean
    a, b = np.where(upper, -hi, lo), np.where(upper, -lo, hi)
    log_a, log_b = log_ndtr(a), log_ndtr(b)
    return np.asarray((log_b + np.log1p(-np.exp(np.minimum(log_a - log_b, 0.0)))) / LN2)


def _coarse_mean(mean_fine: np.ndarray | float, shift: np.ndarray | int) -> Any:
    """A mean in fine units as a mean in coarse units (coarse bin c holds k = c·2^s … +2^s−1)."""
    return (np.asarray(mean_fine) + 0.5) / np.exp2(shift) - 0.5


@dataclass(frozen=True)
class TensorGrid:
    """One tensor's grid θ = 2^exponent · k, k ∈ [k_min, k_max], and its prior σ0's index."""

    exponent: int
    k_min: int
    k_max: int
    prior_index: int

    @property
    def delta(self) -> float:
        return 2.0**self.exponent

    @property
    def prior_sigma(self) -> float:
        return PRIOR_GRID[self.prior_index]

    @property
    def prior_shift(self) -> int:
        return max(0, math.ceil(math.log2((self.k_max - self.k_min + 1) / 2**PRIOR_COARSE_BITS)))

    # The prior: coarse index under a QuantizedGaussian, then the low bits uniformly.
    def _prior_model(self) -> tuple[Any, float, float]:
        s = self.prior_shift
        model = constriction.stream.model.QuantizedGaussian(self.k_min >> s, self.k_max >> s)
        return model, float(_coarse_mean(0.0, s)), self.prior_sigma / (self.delta * 2**s)

    def encode_prior(self, coder: Any, k: np.ndarray) -> None:
        """Push k under the prior (decoded by :meth:`decode_prior`)."""
        model, mean, std = self._prior_model()
        s, n = self.prior_shift, len(k)
        if s:
            coder.encode_reverse(
                (k & (2**s - 1)).astype(np.int32), _UNIFORM, np.full(n, 2**s, np.int32)
            )
        coder.encode_reverse((k >> s).astype(np.int32), model, np.full(n, mean), np.full(n, std))

    def decode_prior(self, coder: Any, n: int) -> np.ndarray:
        model, mean, std = self._prior_model()
        s = self.prior_shift
        k = np.asarray(coder.decode(model, np.full(n, mean), np.full(n, std)), np.int64) << s
        if s:
            k += np.asarray(coder.decode(_UNIFORM, np.full(n, 2**s, np.int32)), np.int64)
        return k

    def prior_log2(self, k: np.ndarray) -> np.ndarray:
        """log2 p'(k) of the prior's model (the untruncated Gaussian mass of k's coarse bin)."""
        _, mean, std = self._prior_model()
        s = self.prior_shift
        return log2_bin_mass((k >> s).astype(np.float64), mean, std) - s

    # q: per weight, the coarse index near μ under a QuantizedGaussian, then the low bits.
    def q_params(
        self, mu: np.ndarray, sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each weight's shift b, coarse centre c₀ and coarse mean and σ (offsets from c₀)."""
        b = np.maximum(0, np.floor(np.log2(sigma / self.delta)).astype(np.int64) - 3)
        mean = _coarse_mean(mu / self.delta, b)
        centre = np.round(mean).astype(np.int64)
        return b, centre, np.stack([mean - centre, sigma / (self.delta * np.exp2(b))])

    def decode_q(self, coder: Any, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Pop k ~ q' (the weights in order of their shift b, then of index)."""
        b, centre, params = self.q_params(mu, sigma)
        k = np.zeros(len(mu), np.int64)
        for shift in np.unique(b):
            i = np.flatnonzero(b == shift)
            c = np.asarray(coder.decode(_Q_MODEL, params[0, i], params[1, i]), np.int64)
            k[i] = (centre[i] + c) << shift
            if shift:
                k[i] += np.asarray(
                    coder.decode(_UNIFORM, np.full(len(i), 2**shift, np.int32)), np.int64
                )
        return k

    def encode_q(self, coder: Any, k: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> None:
        """Push k back under q', exactly undoing :meth:`decode_q`."""
        b, centre, params = self.q_params(mu, sigma)
        for shift in np.unique(b)[::-1]:
            i = np.flatnonzero(b == shift)
            offset = (k[i] >> shift) - centre[i]
            if np.any(np.abs(offset) > Q_HALF_WIDTH):
                raise MdlkitError("a decoded weight lies outside q's range (a damaged stream?)")
            if shift:
                low = (k[i] & (2**shift - 1)).astype(np.int32)
                coder.encode_reverse(low, _UNIFORM, np.full(len(i), 2**shift, np.int32))
            coder.encode_reverse(offset.astype(np.int32), _Q_MODEL, params[0, i], params[1, i])

    def q_log2(self, k: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """log2 q'(k) (the untruncated mass of k's coarse bin, spread over its fine bins)."""
        b, centre, params = self.q_params(mu, sigma)
        return log2_bin_mass(((k >> b) - centre).astype(np.float64), params[0], params[1]) - b

    def q_entropy_bits(self, sigma: np.ndarray) -> float:
        """≈ H(q'): log2(σ/δ · √(2πe)) per weight (σ ≥ 8δ), what drawing the weights borrows."""
        return float(np.log2(sigma / self.delta * math.sqrt(2 * math.pi * math.e)).sum())


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(z: int) -> int:
    return z // 2 if z % 2 == 0 else -(z + 1) // 2


def _head_fields(g: TensorGrid) -> tuple[list[int], list[int]]:
    """A grid's fixed-size header symbols (σ0 index, exponent, bit lengths of zigzag(k_min)
    and of the width) and their sizes."""
    lengths = [_zigzag(g.k_min).bit_length(), (g.k_max - g.k_min).bit_length()]
    return [g.prior_index, EXPONENTS.index(g.exponent), *lengths], _HEAD_SIZES


_HEAD_SIZES = [len(PRIOR_GRID), len(EXPONENTS), INDEX_BITS + 1, MAX_RANGE_BITS + 2]


def encode_header(coder: Any, grids: list[TensorGrid]) -> float:
    """Push the grids (Elias-gamma-like: each of zigzag(k_min) and the width k_max − k_min as
    its bit length L, then its L − 1 bits below the leading one); returns the bits, Σ log2 of
    the symbols' alphabet sizes."""
    fixed, fixed_sizes, tail, tail_sizes = [], [], [], []
    for g in grids:
        symbols, sizes = _head_fields(g)
        fixed += symbols
        fixed_sizes += sizes
        for value in (_zigzag(g.k_min), g.k_max - g.k_min):
            if value.bit_length() >= 2:
                tail.append(value - (1 << (value.bit_length() - 1)))
                tail_sizes.append(1 << (value.bit_length() - 1))
    if tail:
        coder.encode_reverse(np.array(tail, np.int32), _UNIFORM, np.array(tail_sizes, np.int32))
    coder.encode_reverse(np.array(fixed, np.int32), _UNIFORM, np.array(fixed_sizes, np.int32))
    return float(np.log2(np.array(fixed_sizes + tail_sizes, dtype=np.float64)).sum())


def decode_header(coder: Any, count: int) -> list[TensorGrid]:
    """The ``count`` grids pushed by :func:`encode_header`; MdlkitError if they are invalid."""
    sizes = np.array(_HEAD_SIZES * count, np.int32)
    fixed = np.asarray(coder.decode(_UNIFORM, sizes), np.int64).reshape(count, -1).tolist()
    tail_sizes = [1 << (n - 1) for row in fixed for n in row[2:] if n >= 2]
    tail = iter(
        np.asarray(coder.decode(_UNIFORM, np.array(tail_sizes, np.int32)), np.int64).tolist()
        if tail_sizes
        else []
    )
    grids = []
    for prior_index, exponent, *lengths in fixed:
        zig, width = (n if n < 2 else (1 << (n - 1)) + next(tail) for n in lengths)
        k_min = _unzigzag(zig)
        if not 1 <= width <= 2**MAX_RANGE_BITS or k_min + width >= 2 ** (INDEX_BITS - 1):
            raise MdlkitError("the stream's weight ranges are out of bounds (a damaged stream)")
        grids.append(TensorGrid(EXPONENTS[exponent], k_min, k_min + width, prior_index))
    return grids


def choose_grids(post: GaussianPosterior, *, ratio: float = 8.0) -> dict[str, TensorGrid]:
    """Each tensor's δ — the largest 2^e ≤ min σ / ``ratio`` — and index range, the union of
    the supports of q' over its weights (coarse centre ± ``Q_HALF_WIDTH``, ≥ μ ± 5.9σ).

    Raises MdlkitError if the range would exceed 2^20 bins or |k| ≥ 2^23 (weights too large
    for their σ), or if a σ0 is not on :data:`PRIOR_GRID`.
    """
    if any(s0 not in PRIOR_GRID for s0 in post.prior_sigma.values()):
        raise MdlkitError("bits-back coding needs prior scales on PRIOR_GRID: use post.snapped()")
    if not ratio >= 1:
        raise MdlkitError(f"the grid needs ratio ≥ 1 (σ_min / δ), got {ratio}")
    grids = {}
    for name in post.names:
        mu = post.mu[name].detach().double().numpy().ravel()
        sigma = post.sigma[name].detach().double().numpy().ravel()
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
            raise MdlkitError(f"the posterior of {name!r} is not finite")
        e = math.floor(math.log2(float(sigma.min()) / ratio))
        e = min(max(e, EXPONENTS[0]), EXPONENTS[-1])
        grid = TensorGrid(e, 0, 1, PRIOR_GRID.index(post.prior_sigma[name]))
        b, centre, _ = grid.q_params(mu, sigma)
        k_min = int(((centre - Q_HALF_WIDTH) << b).min())
        k_max = int((((centre + Q_HALF_WIDTH + 1) << b) - 1).max())
        if k_max - k_min > 2**MAX_RANGE_BITS or max(-k_min, k_max) >= 2 ** (INDEX_BITS - 1):
            raise MdlkitError(
                f"the weights of {name!r} span too many grid steps (δ = 2^{e}): their σ is too "
                "small for their size"
            )
        grids[name] = TensorGrid(e, k_min, k_max, grid.prior_index)
    return grids
