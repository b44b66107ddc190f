"""A binary arithmetic coder in numba: one bit at a time under a 12-bit probability.

The online code's decoder cannot know a bit before it has decoded it, so the model's predict →
code → update loop must run bit by bit; a coder callable from compiled code lets that whole
loop run inside one numba call (:func:`~mdlkit.compression.context_mixing.encode_steps`,
:func:`~mdlkit.compression.context_mixing.decode_steps`) instead of two Python calls per bit.

The coder is the carry-less 32-bit kind of the paq family: an interval [x1, x2] of 32-bit
integers; a bit with probability p/4096 of being 1 splits it at

    xmid = x1 + (r >> 12)·p + ((r & 4095)·p >> 12),   r = x2 − x1,

1 keeping [x1, xmid] and 0 keeping [xmid + 1, x2]; whenever x1 and x2 agree on their leading
byte, that byte is written and both shift left by 8 (x2 filling with 1s). The end writes x1's
leading byte; the decoder reads bytes past the end as 0xFF, so the value it reads
(x1's leading byte, then 1s) lies in the final interval. A bit therefore costs
−log2(its share of the interval), which differs from −log2 p by the rounding of xmid only: the
measured excess over Σ −log2 p is a few bytes plus well under 0.1 % (tests/compression).

State lives in a small int64 array so that compiled loops can carry it across calls:
``coder = [x1, x2, x, position]`` (x only for decoding; position = bytes written, or the next
byte to read). Both directions stop at the same bit count, so a decoder fed any bytes ends; a
block's CRC then says whether the bytes were right.
"""

from __future__ import annotations

import numpy as np

from mdlkit.compression.jit import njit

__all__ = [
    "CODER_FIELDS",
    "POSITION",
    "decode_bit",
    "decode_bits",
    "encode_bit",
    "encode_bits",
    "finish",
    "new_decoder",
    "new_encoder",
]

X1, X2, X, POSITION = range(4)
CODER_FIELDS = 4
_MASK = 0xFFFFFFFF


def new_encoder() -> np.ndarray:
    """An encoder's state: the interval [0, 2^32 − 1], nothing written."""
    return np.array([0, _MASK, 0, 0], dtype=np.int64)


@njit(cache=True, inline="always")
def _split(x1: np.int64, x2: np.int64, p: np.int64) -> np.int64:
    r = x2 - x1
    return x1 + (r >> 12) * p + (((r & 4095) * p) >> 12)


@njit(cache=True)
def encode_bit(coder, out, p, y):  # type: ignore[no-untyped-def]
    """Code bit ``y`` under P(1) = p/4096 (1 ≤ p ≤ 4095), writing finished bytes to ``out``.
    Bytes beyond ``out``'s length are counted (``coder[POSITION]``) but not written: a caller
    gives room for the block and stores the block as it is if its code would not fit."""
    x1, x2 = coder[X1], coder[X2]
    mid = _split(x1, x2, p)
    if y:
        x2 = mid
    else:
        x1 = mid + 1
    pos = coder[POSITION]
    while ((x1 ^ x2) & 0xFF000000) == 0:
        if pos < out.shape[0]:
            out[pos] = x2 >> 24
        pos += 1
        x1 = (x1 << 8) & _MASK
        x2 = ((x2 << 8) & _MASK) | 255
    coder[X1], coder[X2], coder[POSITION] = x1, x2, pos


def finish(coder: np.ndarray, out: np.ndarray) -> int:
    """Write the last byte (x1's leading byte); returns the code's length in bytes. (Plain
    Python, as :func:`new_decoder`: once per block, and one kernel fewer to load at start.)"""
    pos = int(coder[POSITION])
    if pos < len(out):
        out[pos] = int(coder[X1]) >> 24
    coder[POSITION] = pos + 1
    return pos + 1


@njit(cache=True, inline="always")
def _byte(src, i):  # type: ignore[no-untyped-def]
    return np.int64(src[i]) if i < src.shape[0] else np.int64(255)


def new_decoder(src: np.ndarray) -> np.ndarray:
    """A decoder's state over the code ``src`` (uint8): its first four bytes read."""
    head = bytes(src[:4]) + b"\xff" * max(0, 4 - len(src))  # bytes past the end read as 0xFF
    return np.array([0, _MASK, int.from_bytes(head, "big"), 4], dtype=np.int64)


@njit(cache=True)
def decode_bit(coder, src, p):  # type: ignore[no-untyped-def]
    """The next bit of ``src`` under P(1) = p/4096: the encoder's split, the same way."""
    x1, x2, x = coder[X1], coder[X2], coder[X]
    mid = _split(x1, x2, p)
    y = 1 if x <= mid else 0
    if y:
        x2 = mid
    else:
        x1 = mid + 1
    pos = coder[POSITION]
    while ((x1 ^ x2) & 0xFF000000) == 0:
        x1 = (x1 << 8) & _MASK
        x2 = ((x2 << 8) & _MASK) | 255
        x = ((x << 8) & _MASK) | _byte(src, pos)
        pos += 1
    coder[X1], coder[X2], coder[X], coder[POSITION] = x1, x2, x, pos
    return y


@njit(cache=True)
def _encode_all(coder, bits, probs, out):  # type: ignore[no-untyped-def]
    for i in range(bits.shape[0]):
        encode_bit(coder, out, probs[i], bits[i])


@njit(cache=True)
def _decode_all(coder, src, probs, bits):  # type: ignore[no-untyped-def]
    for i in range(bits.shape[0]):
        bits[i] = decode_bit(coder, src, probs[i])


def encode_bits(bits: np.ndarray, probs: np.ndarray) -> bytes:
    """The code of ``bits`` (0/1), bit i under P(1) = probs[i]/4096, probs in 1..4095.

    >>> code = encode_bits(np.array([1, 0, 1]), np.array([4000, 100, 2048]))
    >>> decode_bits(code, np.array([4000, 100, 2048])).tolist()
    [1, 0, 1]
    """
    bits, probs = np.asarray(bits, dtype=np.int64), np.asarray(probs, dtype=np.int64)
    if bits.shape != probs.shape or (len(probs) and not 1 <= probs.min() <= probs.max() <= 4095):
        raise ValueError("give one probability in 1..4095 per bit")
    coder, out = new_encoder(), np.zeros(len(bits) * 2 + 8, dtype=np.uint8)  # ≤ 12 bits per bit
    _encode_all(coder, bits, probs, out)
    return out[: finish(coder, out)].tobytes()


def decode_bits(code: bytes, probs: np.ndarray) -> np.ndarray:
    """The len(probs) bits of ``code`` under the probabilities that coded them."""
    probs = np.asarray(probs, dtype=np.int64)
    bits = np.zeros(len(probs), dtype=np.int64)
    src = np.frombuffer(code, dtype=np.uint8)
    _decode_all(new_decoder(src), src, probs, bits)
    return bits
