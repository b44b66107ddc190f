"""The sparse tensor coder: one integer tensor as counts, mask flags and nonzero values.

Each tensor of grid indices q is viewed as a matrix (rows = output units, see
:func:`matrix_shape`) and coded, into a constriction range-coder queue that the tensors of a
model share (:mod:`mdlkit.coding.tensors`), as

1. flags of the rows with any nonzero, then of the columns with any nonzero (matrices only),
2. the mask of the live submatrix, row-major,
3. each nonzero as a symbol (sign, bit length b) under an adaptive model, then the b − 1 bits
   below its leading one at ½ each.

Flags use Bernoulli(k / n) with the count k of ones, so n flags cost n · H(k / n) bits and a
dead unit costs one flag. The decoder must know each tensor's :class:`TensorCounts` (nonzeros,
live rows, live columns, the largest bit length of a value). :meth:`TensorEncoder.encode_counts`
codes them in the same stream, just before the tensor, each under a uniform distribution over
the values it can take given what the decoder already knows (the tensors' shapes and N, the
model's nonzero count, which the weight file sends):

- k, the tensor's nonzeros, in [max(0, R − A), min(R, n)], where R is N minus the nonzeros of
  the tensors before, n the tensor's size and A the size of the tensors after it (so the last
  tensor's k is implied, and a range of one value codes nothing);
- only if k > 0 and the tensor is a matrix (rows × cols): the live rows r in
  [⌈k / cols⌉, min(rows, k)], then the live columns c in [⌈k / r⌉, min(cols, k)] (a vector's
  r is k, its c is 1);
- only if k > 0: the largest bit length b in 1..63, under p(b) ∝ 2^−(2⌊log2 b⌋ + 1), Elias
  gamma's code lengths: 1 bit for b = 1, 3 for b = 2–3, 5 for 4–7, 7 for 8–15.

A range above 2^16 values codes its top 16 bits under a uniform distribution and the rest at ½
each. ``ideal`` holds the ideal length in bits of what was coded, split into ``counts``,
``mask`` and ``values``.

The decoder treats its input as untrusted: counts that do not fit the tensor's shape and a
stream the range coder finds invalid raise :class:`CorruptPayload`, and nothing is allocated
beyond what the shapes allow (the low bits of the values are decoded in chunks), so a damaged
stream costs no more memory or time than an intact one of the same shapes.

>>> import numpy as np
>>> q = np.array([[0, 3, 0], [0, 0, 0], [-1, 5, 0]])
>>> encoder = TensorEncoder()
>>> counts = encoder.encode(q)
>>> counts
TensorCounts(nonzero=3, live_rows=2, live_cols=2, buckets=3)
>>> np.array_equal(TensorDecoder(encoder.finish()).decode(q.shape, counts), q)
True
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import constriction
import numpy as np

from mdlkit.coding.adaptive import AdaptiveCategorical

__all__ = [
    "CorruptPayload",
    "TensorCounts",
    "TensorDecoder",
    "TensorEncoder",
    "matrix_shape",
    "tensor_counts",
]

# An int64 index with |q| < 2**63 has a bit length of at most 63, so its magnitude fits the
# decoder's int64 again; a larger bit length can only be damage (or -2**63, whose |q| overflows,
# which the encoder refuses).
_MAX_BUCKETS = 63
_FAIR_BIT = constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False)
# p(b) ∝ 2^−(2⌊log2 b⌋ + 1) for b = 1..63 (Elias gamma's lengths; they sum to 63/64).
_BUCKET_PROBS = np.array([2.0 ** -(2 * (b.bit_length() - 1) + 1) for b in range(1, 64)])
_BUCKET_PROBS /= _BUCKET_PROBS.sum()
_BUCKETS = constriction.stream.model.Categorical(_BUCKET_PROBS, perfect=False)
# A uniform range of more values codes its top _UNIFORM_BITS bits uniformly, the rest at ½.
_UNIFORM_BITS = 16
# Low bits of values are decoded at most this many at a time (the memory of a chunk).
_LOW_BITS_CHUNK = 2**20


class CorruptPayload(ValueError):
    """The coded stream does not decode into tensors consistent with their counts."""


class TensorCounts(NamedTuple):
    """What the decoder must know of a tensor besides its shape.

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


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _nonzero_range(size: int, left: int, room_after: int) -> tuple[int, int]:
    """The k a tensor of ``size`` entries may have when ``left`` nonzeros remain to be placed
    and the tensors after it have ``room_after`` entries."""
    return max(0, left - room_after), min(left, size)


def _uniform_split(size: int) -> int:
    """How many low bits of a value in [0, size) are coded at ½ each."""
    return max(0, (size - 1).bit_length() - _UNIFORM_BITS)


def tensor_counts(q: np.ndarray) -> TensorCounts:
    """The counts of the integer tensor ``q`` (what :meth:`TensorEncoder.encode` returns)."""
    rows, cols = matrix_shape(tuple(q.shape))
    nz = q.reshape(rows, cols) != 0
    k = int(nz.sum())
    if not k:
        return TensorCounts(0, 0, 1 if cols == 1 else 0, 0)
    r, c = int(nz.any(axis=1).sum()), int(nz.any(axis=0).sum())
    return TensorCounts(k, r, c, int(np.abs(q[q != 0]).max()).bit_length())


class TensorEncoder:
    """Codes integer tensors one after another into one range-coder queue."""

    def __init__(self) -> None:
        self._encoder = constriction.stream.queue.RangeEncoder()
        self.ideal = {"counts": 0.0, "mask": 0.0, "values": 0.0}

    @property
    def coder(self) -> Any:
        """The constriction encoder (for :func:`~mdlkit.coding.streams.verified_bytes`)."""
        return self._encoder

    def encode_counts(
        self, shape: tuple[int, ...], counts: TensorCounts, left: int, room_after: int
    ) -> None:
        """Code a tensor's counts (module docstring), ``left`` nonzeros still to be placed and
        ``room_after`` entries in the tensors after it."""
        rows, cols = matrix_shape(tuple(shape))
        k, r, c, b = counts
        self._uniform(k, *_nonzero_range(rows * cols, left, room_after))
        if not k:
            return
        if cols > 1:
            self._uniform(r, _ceil_div(k, cols), min(rows, k))
            self._uniform(c, _ceil_div(k, r), min(cols, k))
        self._encoder.encode(b - 1, _BUCKETS)
        self.ideal["counts"] += float(-np.log2(_BUCKET_PROBS[b - 1]))

    def encode(self, q: np.ndarray) -> TensorCounts:
        """Code the integer tensor ``q``'s mask and values; returns the counts its decoder
        needs."""
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

    def _uniform(self, value: int, lo: int, hi: int) -> None:
        """``value`` in [lo, hi] under a uniform distribution (nothing if lo == hi)."""
        size = hi - lo + 1
        if size <= 1:
            return
        shift = _uniform_split(size)
        top = ((size - 1) >> shift) + 1
        self._encoder.encode((value - lo) >> shift, constriction.stream.model.Uniform(top))
        if shift:
            bits = [((value - lo) >> s) & 1 for s in range(shift - 1, -1, -1)]
            self._encoder.encode(np.asarray(bits, dtype=np.int32), _FAIR_BIT)
        self.ideal["counts"] += math.log2(top) + shift

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

    ``words`` are the stream's words (a payload's
    :func:`~mdlkit.coding.streams.padded_words`); words past their end read as zeros. Call
    :meth:`decode_counts` and then :meth:`decode` once per tensor; every damage found raises
    :class:`CorruptPayload`.
    """

    def __init__(self, words: np.ndarray) -> None:
        self._decoder = constriction.stream.queue.RangeDecoder(np.asarray(words, dtype=np.uint32))

    def decode_counts(self, shape: tuple[int, ...], left: int, room_after: int) -> TensorCounts:
        """The next tensor's counts, as :meth:`TensorEncoder.encode_counts` coded them."""
        rows, cols = matrix_shape(tuple(shape))
        k = self._uniform(*_nonzero_range(rows * cols, left, room_after))
        if not k:
            return TensorCounts(0, 0, 1 if cols == 1 else 0, 0)
        r, c = k, 1
        if cols > 1:
            r = self._uniform(_ceil_div(k, cols), min(rows, k))
            c = self._uniform(_ceil_div(k, r), min(cols, k))
        b = int(self._decode(_BUCKETS)) + 1
        counts = TensorCounts(k, r, c, b)
        _check_counts(rows, cols, counts)
        return counts

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

    def _decode(self, model: Any, amount: int | None = None) -> Any:
        """``amount`` symbols (or one) under ``model``; an invalid stream is CorruptPayload."""
        try:
            if amount is None:
                return self._decoder.decode(model)
            return self._decoder.decode(model, amount)
        except AssertionError:  # constriction's "compressed data that is invalid for the model"
            raise CorruptPayload("the range-coder stream is invalid for its models") from None

    def _uniform(self, lo: int, hi: int) -> int:
        size = hi - lo + 1
        if size <= 1:
            return lo
        shift = _uniform_split(size)
        value = int(self._decode(constriction.stream.model.Uniform(((size - 1) >> shift) + 1)))
        if shift:
            for bit in self._decode(_FAIR_BIT, shift):
                value = (value << 1) | int(bit)
        if value >= size:
            raise CorruptPayload(f"a count decodes as {lo + value}, above its largest value {hi}")
        return lo + value

    def _flags(self, k: int, n: int) -> np.ndarray:
        if k in (0, n):
            return np.full(n, k == n and n > 0)
        flags = np.asarray(self._decode(_bernoulli(k, n), n), dtype=bool)
        if int(flags.sum()) != k:
            raise CorruptPayload(f"{int(flags.sum())} of {n} mask flags decode as set, not {k}")
        return flags

    def _values(self, k: int, n_buckets: int) -> np.ndarray:
        model = AdaptiveCategorical(2 * n_buckets)
        symbols = np.empty(k, dtype=np.int64)
        for i in range(k):
            symbol = int(self._decode(model.model()))
            model.update(symbol)
            symbols[i] = symbol
        negative, n_low = symbols >= n_buckets, symbols % n_buckets
        # Each magnitude is a leading one and then its n_low bits, most significant first,
        # decoded a chunk of values at a time: a damaged stream that asks for 62 low bits a
        # value uses no more memory than an intact one.
        magnitude = np.zeros(k, dtype=np.int64)
        ends = np.cumsum(n_low)
        start = 0
        while start < k:
            done = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, done + _LOW_BITS_CHUNK, "right")))
            total = int(ends[stop - 1]) - done
            if total:
                bits = np.asarray(self._decode(_FAIR_BIT, total), dtype=np.int64)
                owner = np.repeat(np.arange(start, stop), n_low[start:stop])
                shift = ends[owner] - done - 1 - np.arange(total)
                np.bitwise_or.at(magnitude, owner, bits << shift)
            magnitude[start:stop] |= np.left_shift(1, n_low[start:stop])
            start = stop
        return np.where(negative, -magnitude, magnitude)
