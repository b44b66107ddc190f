"""Streams: incremental range coding of symbols under a distribution, block by block.

An :class:`Encoder` takes ``(symbols, distribution)`` pairs in order — a whole data set at once,
one block of an online code, or one symbol of a mixture — and appends them to ONE constriction
range-coder queue; :class:`Decoder` takes the same distributions in the same order and gives the
symbols back. Every code in mdlkit (two-part, prequential, switching, a file archive) is a head
making distributions and a stream coding under them. Both report the ideal length Σ −log2 p and
the actual one (32 bits per word).

**Byte-exact termination.** A range coder's stream stands for a point in its final interval, and
constriction's decoder reads zeros past the end of its words; constriction ends a stream with a
whole word. :meth:`Encoder.finish_bytes` (and the weight file, through :func:`verified_bytes`)
keeps only the shortest byte string whose zero-padded words still decode into the same symbols:
the first t bytes of the stream's big-endian words, the last of them rounded up where that puts
the point back into the interval (merely dropping bytes rounds it down, out of the interval,
nearly every time). :func:`stream_bytes` computes that string from the encoder's final state;
:func:`verified_bytes` decodes it and keeps the whole words when it does not decode (that is
never seen, but it is checked, not assumed). :func:`padded_words` gives a decoder its words.

Gaussian bins are coded in two stages so that any ε works with a 24-bit coder: the coarse index
j = k >> s under constriction's QuantizedGaussian over the sent :class:`BinRange`, then the s
low bits at ½ each (s = 0 unless the range has more than 2^16 bins).

>>> two, one = Categorical(np.full((2, 4), 0.25)), Categorical(np.full((1, 4), 0.25))
>>> enc = Encoder()
>>> _ = enc.encode(np.array([0, 1]), two)
>>> _ = enc.encode(np.array([3]), one)
>>> stream = enc.finish()
>>> stream.ideal_bits, stream.n_symbols
(6.0, 3)
>>> dec = Decoder(stream.words)
>>> dec.decode(two).tolist(), dec.decode(one).tolist()
([0, 1], [3])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import constriction
import numpy as np

from mdlkit.coding.distributions import (
    BinRange,
    Categorical,
    DiscretizedGaussian,
    Distribution,
    UniformBins,
    bins,
)
from mdlkit.errors import MdlkitError

__all__ = [
    "ByteStream",
    "Decoder",
    "EncodedGaussian",
    "EncodedStream",
    "Encoder",
    "decode_categorical",
    "decode_gaussian",
    "encode_categorical",
    "encode_gaussian",
    "ideal_bits",
    "padded_words",
    "stream_bytes",
    "verified_bytes",
]

_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_FAIR_BIT = constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False)


@dataclass(frozen=True)
class EncodedStream:
    """A finished stream: its 32-bit words, the ideal length it approximates, the symbol count."""

    words: np.ndarray
    ideal_bits: float
    n_symbols: int

    @property
    def coded_bits(self) -> int:
        """The actual length in bits (32 per word)."""
        return 32 * len(self.words)


@dataclass(frozen=True)
class ByteStream:
    """A finished stream cut to whole bytes (:meth:`Encoder.finish_bytes`): ``data`` is what a
    receiver gets, :attr:`words` what its :class:`Decoder` reads."""

    data: bytes
    ideal_bits: float
    n_symbols: int

    @property
    def coded_bits(self) -> int:
        """The actual length in bits (8 per byte)."""
        return 8 * len(self.data)

    @property
    def words(self) -> np.ndarray:
        return padded_words(self.data)


def padded_words(data: bytes) -> np.ndarray:
    """The uint32 words of a byte stream: big-endian, the last one padded with zero bytes.

    >>> padded_words(bytes([1, 2, 3, 4, 5])).tolist()
    [16909060, 83886080]
    """
    data = bytes(data) + bytes(-len(data) % 4)
    return np.frombuffer(data, dtype=">u4").astype(np.uint32)


_WORD_BITS = 32
_STATE_BITS = 64


def stream_bytes(coder: Any) -> tuple[bytes, bytes]:
    """The two byte forms of what a constriction ``RangeEncoder`` has coded so far: the
    shortest, and its words whole (big-endian); both empty if nothing was coded.

    constriction ends a stream with the top word of ``lower + 2^32 − 1`` (and a zero word if
    that is needed to keep the point below ``lower + range``), where ``(lower, range)`` is its
    final 64-bit state (``coder.pos()``). As big integers over ``position + 2`` words, the
    valid points are [L, L + range), L the end word's value minus its distance to ``lower``.
    The shortest form is the least t with a multiple of 2^(8·(4·(position + 2) − t)) in that
    interval (a multiple at t bytes is one at t + 1 too, so t is found by bisection), written
    as t bytes; its words decode as the whole words do (which :func:`verified_bytes` checks).
    """
    words = np.asarray(coder.get_compressed(), dtype=np.uint32)
    whole = words.astype(">u4").tobytes()
    if not len(words):
        return b"", b""
    position, (lower, size) = coder.pos()
    total = _WORD_BITS * (position + 2)
    point = int.from_bytes(whole[: total // 8].ljust(total // 8, b"\0"), "big")
    end_word = int(words[position]) << _WORD_BITS
    low = point - ((end_word - lower) % 2**_STATE_BITS)
    high = low + size  # exclusive

    def point_at(t: int) -> int | None:
        """The least multiple of 2^(total − 8t) ≥ ``low`` as t bytes, if it is < ``high``."""
        shift = total - 8 * t
        c = -(-low >> shift)
        return c if c << shift < high and c < 1 << (8 * t) else None

    lo, hi = 0, total // 8  # point_at(total // 8) is ``low`` itself
    while lo < hi:
        mid = (lo + hi) // 2
        if point_at(mid) is None:
            lo = mid + 1
        else:
            hi = mid
    c = point_at(hi)
    shortest = c.to_bytes(hi, "big") if c is not None and hi <= len(whole) else whole
    return shortest, whole


def verified_bytes(coder: Any, decodes_same: Callable[[np.ndarray], bool]) -> bytes:
    """The shortest form of ``coder``'s stream (:func:`stream_bytes`) if its padded words pass
    ``decodes_same`` (decode them and compare with what was coded), else the whole words,
    which must pass it."""
    shortest, whole = stream_bytes(coder)
    if shortest != whole:
        try:
            if decodes_same(padded_words(shortest)):
                return shortest
        except Exception:  # a form that fails to decode, however it fails, is not used
            pass
    if not decodes_same(padded_words(whole)):
        raise RuntimeError("a range-coded stream does not decode into what was coded (a bug)")
    return whole


def _coarse(dist: DiscretizedGaussian, support: BinRange) -> tuple[Any, np.ndarray, np.ndarray]:
    """constriction's model over the coarse bins, and each symbol's mean and σ in coarse units."""
    shift = support.shift
    scale = float(2**shift)
    means = ((dist.means / dist.epsilon + 0.5) / scale - 0.5).astype(np.float64)
    stds = np.full(len(dist), dist.sigma / (dist.epsilon * scale), dtype=np.float64)
    model = constriction.stream.model.QuantizedGaussian(
        support.k_min >> shift, support.k_max >> shift
    )
    return model, means, stds


def _low_bits(k: np.ndarray, shift: int) -> np.ndarray:
    """The ``shift`` bits of each k below its coarse index, most significant first."""
    low = k - (k >> shift << shift)
    return ((low[:, None] >> np.arange(shift - 1, -1, -1)) & 1).astype(np.int32).ravel()


def _support(dist: DiscretizedGaussian | UniformBins) -> BinRange:
    if dist.support is None:
        raise MdlkitError("a Gaussian stream needs the sent bin range: use dist.within(range)")
    return dist.support


class Encoder:
    """Appends blocks of symbols to one range-coded stream (see the module docstring)."""

    def __init__(self) -> None:
        self._coder = constriction.stream.queue.RangeEncoder()
        self.ideal_bits = 0.0
        self.n_symbols = 0

    def encode(self, symbols: np.ndarray, dist: Distribution) -> np.ndarray:
        """Code ``symbols`` (class indices or bins k) under ``dist``; returns −log2 p of each."""
        if isinstance(dist, Categorical):
            s = dist.check(symbols)
            if len(s):
                self._coder.encode(s, _CATEGORICAL, dist.probs)
        else:
            k = dist.check(symbols)
            support = _support(dist)
            shift = support.shift
            coarse = (k >> shift).astype(np.int32)
            if isinstance(dist, UniformBins):
                size = (support.k_max >> shift) - (support.k_min >> shift) + 1
                offset = coarse - (support.k_min >> shift)
                self._coder.encode(offset.astype(np.int32), constriction.stream.model.Uniform(size))
            elif len(k):
                model, means, stds = _coarse(dist, support)
                self._coder.encode(coarse, model, means, stds)
            if shift and len(k):
                self._coder.encode(_low_bits(k, shift), _FAIR_BIT)
        bits = dist.ideal_bits(symbols)
        self.ideal_bits += float(bits.sum())
        self.n_symbols += len(bits)
        return bits

    def finish(self) -> EncodedStream:
        """The words written so far (the encoder may go on after this)."""
        words = np.asarray(self._coder.get_compressed(), dtype=np.uint32)
        return EncodedStream(words, self.ideal_bits, self.n_symbols)

    def finish_bytes(self, decodes_same: Callable[[np.ndarray], bool]) -> ByteStream:
        """The stream so far in its shortest form that ``decodes_same`` accepts: give it a
        function that decodes the words it is passed (with a :class:`Decoder`, under the same
        distributions) and says whether that gives back every symbol coded."""
        return ByteStream(
            verified_bytes(self._coder, decodes_same), self.ideal_bits, self.n_symbols
        )


class Decoder:
    """Reads blocks back from a stream's words, given the encoder's distributions in order."""

    def __init__(self, words: np.ndarray) -> None:
        self._coder = constriction.stream.queue.RangeDecoder(np.asarray(words, dtype=np.uint32))

    def decode(self, dist: Distribution) -> np.ndarray:
        """The next ``len(dist)`` symbols (int64)."""
        n = len(dist)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(dist, Categorical):
            return np.asarray(self._coder.decode(_CATEGORICAL, dist.probs), dtype=np.int64)
        support = _support(dist)
        shift = support.shift
        if isinstance(dist, UniformBins):
            size = (support.k_max >> shift) - (support.k_min >> shift) + 1
            offset = self._coder.decode(constriction.stream.model.Uniform(size), n)
            coarse = np.asarray(offset, dtype=np.int64) + (support.k_min >> shift)
        else:
            model, means, stds = _coarse(dist, support)
            coarse = np.asarray(self._coder.decode(model, means, stds), dtype=np.int64)
        k = coarse << shift
        if shift:
            low = np.asarray(self._coder.decode(_FAIR_BIT, n * shift), dtype=np.int64)
            k = k + (low.reshape(n, shift) << np.arange(shift - 1, -1, -1)).sum(axis=1)
        return k


# One-block conveniences -------------------------------------------------------------------------


def ideal_bits(symbols: np.ndarray, probs: np.ndarray) -> float:
    """Σ −log2 p(symbol_i), the length an ideal entropy coder would reach."""
    return float(Categorical(probs).ideal_bits(symbols).sum())


def encode_categorical(symbols: np.ndarray, probs: np.ndarray) -> EncodedStream:
    """Range-code ``symbols[i]`` with the distribution ``probs[i]`` (rows sum to 1).

    >>> p = np.full((8, 4), 0.25)
    >>> enc = encode_categorical(np.arange(8) % 4, p)
    >>> enc.ideal_bits
    16.0
    >>> decode_categorical(enc.words, p).tolist()
    [0, 1, 2, 3, 0, 1, 2, 3]
    """
    encoder = Encoder()
    encoder.encode(symbols, Categorical(probs))
    return encoder.finish()


def decode_categorical(words: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Decode ``len(probs)`` symbols from ``words`` with the same probabilities as the encoder."""
    return Decoder(words).decode(Categorical(probs))


@dataclass(frozen=True)
class EncodedGaussian:
    """A stream of discretized targets with what the decoder needs besides the means and σ."""

    stream: EncodedStream
    support: BinRange
    epsilon: float

    @property
    def ideal_bits(self) -> float:
        return self.stream.ideal_bits

    @property
    def coded_bits(self) -> int:
        return self.stream.coded_bits


def encode_gaussian(
    y: np.ndarray, mu: np.ndarray, *, sigma: float, epsilon: float
) -> EncodedGaussian:
    """Code targets ``y`` at precision ε with means ``mu`` and one σ, over their own bin range.

    >>> y = np.array([0.1234, -0.5, 0.9]); mu = np.array([0.1, -0.45, 1.0])
    >>> enc = encode_gaussian(y, mu, sigma=0.1, epsilon=1e-3)
    >>> decode_gaussian(enc, mu, sigma=0.1).tolist() == np.round(y / 1e-3).astype(int).tolist()
    True
    """
    k = bins(y, epsilon)
    support = BinRange.of(y, epsilon)
    encoder = Encoder()
    encoder.encode(k, DiscretizedGaussian(mu, sigma, epsilon, support))
    return EncodedGaussian(encoder.finish(), support, epsilon)


def decode_gaussian(encoded: EncodedGaussian, mu: np.ndarray, *, sigma: float) -> np.ndarray:
    """The bins k (y ≈ k·ε) from a stream, given the same means and σ."""
    dist = DiscretizedGaussian(mu, sigma, encoded.epsilon, encoded.support)
    if len(dist) != encoded.stream.n_symbols:
        raise MdlkitError(f"need {encoded.stream.n_symbols} means to decode, got {len(dist)}")
    return Decoder(encoded.stream.words).decode(dist)
