"""The sparse tensor coder: integer tensors as mask flags plus nonzero values, range coded.

Each tensor of grid indices q is viewed as a matrix (rows = output units, see
:func:`matrix_shape`) and coded, into one constriction range-coder queue shared by all tensors, as

1. flags of the rows with any nonzero, then of the columns with any nonzero (matrices only),
2. the mask of the live submatrix, row-major,
3. each nonzero as a symbol (sign, bit length b) under an adaptive model, then the b − 1 bits
   below its leading one at ½ each.

Flags use Bernoulli(k / n) with the count k of ones, which the caller stores (a
:class:`TensorCounts` per tensor), so n flags cost n · H(k / n) bits and a dead unit costs one
flag. ``ideal`` holds the ideal length in bits of what was coded, split into ``mask`` and
``values``.

The decoder treats its input as untrusted: counts that do not fit the tensor's shape, more low
bits than the stream can hold, a stream the range coder finds invalid and data left over after
the last tensor (:meth:`TensorDecoder.finish`) all raise :class:`CorruptPayload` before anything
is allocated for them, so a damaged file costs no more memory or time than an intact one of the
same shapes.

>>> import numpy as np
>>> q = np.array([[0, 3, 0], [0, 0, 0], [-1, 5, 0]])
>>> encoder = TensorEncoder()
>>> counts = encoder.encode(q)
>>> counts
TensorCounts(nonzero=3, live_rows=2, live_cols=2, buckets=3)
>>> decoder = TensorDecoder(encoder.finish())
>>> np.array_equal(decoder.decode(q.shape, counts), q)
True
>>> decoder.finish()
"""

from __future__ import annotations

from typing import Any, NamedTuple

import constriction
import numpy as np

from mdlkit.coding.adaptive import AdaptiveCategorical

__all__ = ["CorruptPayload", "TensorCounts", "TensorDecoder", "TensorEncoder", "matrix_shape"]

# An int64 index with |q| < 2**63 has a bit length of at most 63, so its magnitude fits the
# decoder's int64 again; a larger bit length can only be damage (or -2**63, whose |q| overflows,
# which the encoder refuses).
_MAX_BUCKETS = 63
_FAIR_BIT = constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False)


class CorruptPayload(ValueError):
    """The coded stream does not decode into tensors consistent with their counts."""


class TensorCounts(NamedTuple):
    """What the decoder must know of a tensor besides its shape (a file stores these four).

    ``buckets`` is the largest bit length of a nonzero |q| (0 when all are zero).
    """

    nonzero: int
    live_rows: int
    live_cols: int
    buckets: int


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (rows, columns) view of a tensor: (out, everything else); a vector is one column.

    >>> matrix_shape((6, 1, 5, 5)), matrix_shape((10,)), matrix_shape(())
    ((6, 25), (10, 1), (1, 1))
    """
    if len(shape) >= 2:
        return shape[0], int(np.prod(shape[1:]))
    return (int(np.prod(shape)) if shape else 1), 1


def _bernoulli(k: int, n: int) -> Any:
    p = k / n
    return constriction.stream.model.Categorical(np.array([1.0 - p, p]), perfect=False)


def _bernoulli_bits(k: int, n: int) -> float:
    """n · H(k / n): the ideal length of n flags with k ones under Bernoulli(k / n)."""
    if k in (0, n):
        return 0.0
    p = k / n
    return float(-(k * np.log2(p) + (n - k) * np.log2(1.0 - p)))


def _low_bits(magnitude: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The bits of each magnitude below its leading one, most significant first."""
    bits = [
        ((int(m) >> s) & 1)
        for m, b in zip(magnitude, buckets, strict=True)
        for s in range(int(b) - 2, -1, -1)
    ]
    return np.asarray(bits, dtype=np.int32)


class TensorEncoder:
    """Codes integer tensors one after another into one range-coder queue."""

    def __init__(self) -> None:
        self._encoder = constriction.stream.queue.RangeEncoder()
        self.ideal = {"mask": 0.0, "values": 0.0}

    def encode(self, q: np.ndarray) -> TensorCounts:
        """Code the integer tensor ``q``; returns the counts its decoder needs."""
        rows, cols = matrix_shape(tuple(q.shape))
        grid = q.reshape(rows, cols)
        nz = grid != 0
        live_rows, live_cols = nz.any(axis=1), nz.any(axis=0)
        r = self._flags(live_rows) if cols > 1 else int(live_rows.sum())
        c = self._flags(live_cols) if cols > 1 else 1
        sub = nz[live_rows][:, live_cols] if cols > 1 else nz[:, 0]
        k = self._flags(sub.ravel())
        values = grid[nz]
        n_buckets = int(np.abs(values).max()).bit_length() if k else 0
        if n_buckets > _MAX_BUCKETS:  # only -2**63, whose absolute value overflows int64
            raise ValueError(f"grid indices must satisfy |q| < 2**63, got {int(values.min())}")
        if k:
            self._values(values, n_buckets)
        return TensorCounts(k, r, c, n_buckets)

    def finish(self) -> np.ndarray:
        """The compressed words (uint32) of everything coded so far."""
        return np.asarray(self._encoder.get_compressed(), dtype="<u4")

    def _flags(self, flags: np.ndarray) -> int:
        k, n = int(flags.sum()), flags.size
        if 0 < k < n:
            self._encoder.encode(flags.astype(np.int32), _bernoulli(k, n))
        self.ideal["mask"] += _bernoulli_bits(k, n)
        return k

    def _values(self, q: np.ndarray, n_buckets: int) -> None:
        model = AdaptiveCategorical(2 * n_buckets)
        magnitude = np.abs(q)
        buckets = np.array([int(m).bit_length() for m in magnitude], dtype=np.int64)
        for sign, bucket in zip(q < 0, buckets, strict=True):
            symbol = int(sign) * n_buckets + int(bucket) - 1
            probs = model.probabilities()
            self.ideal["values"] += float(-np.log2(probs[symbol]))
            self._encoder.encode(symbol, model.model())
            model.update(symbol)
        low_bits = _low_bits(magnitude, buckets)
        if low_bits.size:
            self._encoder.encode(low_bits, _FAIR_BIT)
        self.ideal["values"] += float(low_bits.size)


def _check_counts(rows: int, cols: int, counts: TensorCounts) -> None:
    """The invariants every encoder output satisfies; anything else is damage."""
    k, r, c, b = counts
    if cols == 1:
        ok = c == 1 and r == k <= rows
    elif k == 0:
        ok = r == c == 0
    else:
        ok = 0 < r <= rows and 0 < c <= cols and max(r, c) <= k <= r * c
    if not ok or not (b == 0 if k == 0 else 0 < b <= _MAX_BUCKETS):
        raise CorruptPayload(f"counts {tuple(counts)} do not fit a {rows}×{cols} tensor")


class TensorDecoder:
    """The mirror of :class:`TensorEncoder`: decodes the tensors in the order they were coded.

    Call :meth:`decode` once per tensor, then :meth:`finish`; every damage found raises
    :class:`CorruptPayload`.
    """

    def __init__(self, words: np.ndarray) -> None:
        self._decoder = constriction.stream.queue.RangeDecoder(words) if len(words) else None
        self._used = False
        # A low bit is coded at probability exactly ½, one bit, and a range coder's n words hold
        # at most 32·n bits of information (its 64-bit range shrinks by the symbols' information
        # and gains 32 bits per word written), so a stream cannot carry more low bits than this.
        self._low_bits_left = 32 * len(words)

    def decode(self, shape: tuple[int, ...], counts: TensorCounts) -> np.ndarray:
        """The next tensor (int64, of ``shape``); raises :class:`CorruptPayload` on damage."""
        rows, cols = matrix_shape(tuple(shape))
        _check_counts(rows, cols, counts)
        k, r, c, n_buckets = counts
        nz = np.zeros((rows, cols), dtype=bool)
        if cols > 1:
            live_rows, live_cols = self._flags(r, rows), self._flags(c, cols)
            nz[np.ix_(live_rows, live_cols)] = self._flags(k, r * c).reshape(r, c)
        else:
            nz[:, 0] = self._flags(k, rows)
        grid = np.zeros((rows, cols), dtype=np.int64)
        if k:
            grid[nz] = self._values(k, n_buckets)
        return grid.reshape(shape)

    def finish(self) -> None:
        """Check that nothing follows the last tensor's symbols in the stream.

        A stream that no symbol was decoded from must be empty. Otherwise the range coder only
        knows when data is definitely left over: most appended words are caught, but not every
        last word (whose low bits the decoder never needs), which then changes nothing decoded.
        """
        if self._decoder is None:
            return
        if not self._used or not self._decoder.maybe_exhausted():
            raise CorruptPayload("the payload goes on after the last tensor")

    def _stream(self) -> Any:
        if self._decoder is None:
            raise CorruptPayload("the payload is empty but the counts call for coded symbols")
        self._used = True
        return self._decoder

    def _decode(self, model: Any, amount: int | None = None) -> Any:
        """``amount`` symbols (or one) under ``model``; an invalid stream is CorruptPayload."""
        stream = self._stream()
        try:
            return stream.decode(model) if amount is None else stream.decode(model, amount)
        except AssertionError:  # constriction's "compressed data that is invalid for the model"
            raise CorruptPayload("the range-coder stream is invalid for its models") from None

    def _flags(self, k: int, n: int) -> np.ndarray:
        if k in (0, n):
            return np.full(n, k == n and n > 0)
        flags = np.asarray(self._decode(_bernoulli(k, n), n), dtype=bool)
        if int(flags.sum()) != k:
            raise CorruptPayload(f"{int(flags.sum())} of {n} mask flags decode as set, not {k}")
        return flags

    def _values(self, k: int, n_buckets: int) -> np.ndarray:
        model = AdaptiveCategorical(2 * n_buckets)
        symbols = []
        for _ in range(k):
            symbol = int(self._decode(model.model()))
            model.update(symbol)
            symbols.append(symbol)
        sym = np.asarray(symbols, dtype=np.int64)
        negative, buckets = sym >= n_buckets, sym % n_buckets + 1
        n_low = int((buckets - 1).sum())
        if n_low > self._low_bits_left:  # checked before the bits are decoded into memory
            raise CorruptPayload(
                f"the values call for {n_low} low bits, more than the payload can hold"
            )
        self._low_bits_left -= n_low
        low = (
            np.asarray(self._decode(_FAIR_BIT, n_low), dtype=np.int64)
            if n_low
            else np.zeros(0, dtype=np.int64)
        )
        magnitude, pos = np.empty(k, dtype=np.int64), 0
        for i, b in enumerate(buckets):
            m = 1
            for bit in low[pos : pos + b - 1]:
                m = (m << 1) | int(bit)
            pos += b - 1
            magnitude[i] = m
        return np.where(negative, -magnitude, magnitude)
