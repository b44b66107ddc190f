"""The uniform code: every label costs log2 K bits — as a closed form, and as a real bitstream.

The stream writes the n labels as one integer in base K, Σ y_i · K^i, in ⌈n · log2 K⌉ bits
(the receiver, who knows n and K, knows that count): at most one bit above the closed form,
where a range coder's termination costs up to a few dozen. It is how a model that predicts 1/K
for every class (a network with every weight pruned) sends its data part.

>>> uniform_codelength(1000, 8).total
3000.0
>>> labels = np.array([2, 0, 1, 2, 2])
>>> stream = encode_uniform(labels, 3)
>>> stream.bits, math.ceil(5 * math.log2(3))
(8, 8)
>>> decode_uniform(stream.data, 5, 3).tolist()
[2, 0, 1, 2, 2]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mdlkit.bits import CodeLength
from mdlkit.errors import MdlkitError

__all__ = [
    "UniformStream",
    "decode_uniform",
    "encode_uniform",
    "uniform_bits",
    "uniform_codelength",
]


def uniform_codelength(n: int, n_classes: int) -> CodeLength:
    """n · log2 K bits: the baseline every other code is compared with."""
    if n < 0 or n_classes < 1:
        raise MdlkitError(f"uniform code needs n >= 0 and K >= 1, got n={n}, K={n_classes}")
    return CodeLength({"data": n * math.log2(n_classes)}, name="uniform")


def uniform_bits(n: int, n_classes: int) -> int:
    """⌈n · log2 K⌉, the exact length of :func:`encode_uniform`'s stream: the bit length of
    K^n − 1, the largest integer it may have to write."""
    if n < 0 or n_classes < 1:
        raise MdlkitError(f"uniform code needs n >= 0 and K >= 1, got n={n}, K={n_classes}")
    return (n_classes**n - 1).bit_length()


@dataclass(frozen=True)
class UniformStream:
    """The labels as one base-K integer: ``bits`` significant bits in ``data`` (little-endian
    bytes, the last one padded with zeros)."""

    data: bytes
    bits: int


def _to_int(digits: list[int], k: int) -> int:
    # Halves the digits recursively, so the cost is that of a few big multiplications rather
    # than n small-times-big ones.
    if len(digits) <= 64:
        value = 0
        for d in reversed(digits):
            value = value * k + d
        return value
    half = len(digits) // 2
    return _to_int(digits[:half], k) + _to_int(digits[half:], k) * k**half


def _from_int(value: int, n: int, k: int) -> list[int]:
    if n <= 64:
        out = []
        for _ in range(n):
            value, d = divmod(value, k)
            out.append(d)
        return out
    half = n // 2
    high, low = divmod(value, k**half)
    return _from_int(low, half, k) + _from_int(high, n - half, k)


def encode_uniform(labels: np.ndarray, n_classes: int) -> UniformStream:
    """Write class labels in [0, K) as one base-K integer of :func:`uniform_bits` bits."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= n_classes)):
        raise MdlkitError(f"the uniform code needs class labels in [0, {n_classes - 1}]")
    bits = uniform_bits(len(labels), n_classes)
    value = _to_int([int(v) for v in labels], n_classes)
    return UniformStream(value.to_bytes((bits + 7) // 8, "little"), bits)


def decode_uniform(data: bytes, n: int, n_classes: int) -> np.ndarray:
    """The n labels :func:`encode_uniform` wrote into ``data``; damage that leaves a value
    of K^n or more is an error (other damage gives other labels, as in any code without a
    checksum)."""
    bits = uniform_bits(n, n_classes)
    if len(data) != (bits + 7) // 8:
        raise MdlkitError(f"a uniform stream of {n} labels takes {(bits + 7) // 8} bytes")
    value = int.from_bytes(data, "little")
    if value >= n_classes**n:
        raise MdlkitError("the uniform stream is damaged: its value is out of range")
    return np.array(_from_int(value, n, n_classes), dtype=np.int64)
