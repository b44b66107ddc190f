"""What the compressibility measures return: a coded size, one point per measure, all three.

Every result has ``to_dict()``: its fields in order as plain JSON-able values (dicts copied,
curves as lists of lists, nested results as their dicts), the heavy fields — the weights at a
point, a weight file's bytes, declared ``compare=False`` — left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch

__all__ = ["CodedSize", "Compressibility", "PruningPoint", "QuantizationPoint", "RankPoint"]


def _plain(value: Any) -> Any:
    if isinstance(value, _Plain):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class _Plain:
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values in field order: dicts copied, tuples (a curve) as lists,
        nested results as their dicts; the fields declared ``compare=False`` (weights, a weight
        file's bytes) left out."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if f.compare
        }


@dataclass(frozen=True)
class CodedSize(_Plain):
    """A model's size in the weight codec at the coarsest grid step Δ = 2^(e/4) within tolerance.

    ``bits`` is the description length ``encode_model(...).length.total`` (architecture, header
    and payload; the file's magic, version and CRC32 are not counted), ``parts`` its breakdown;
    ``loss`` is the mean loss (nats) of the model quantized at ``step``, which is what
    ``decode_model(data)`` rebuilds; ``nonzero`` counts its nonzero parameters. ``data`` is the
    weight file itself (not in :meth:`to_dict`).
    """

    bits: float
    parts: dict[str, float]
    step: float
    exponent: int
    loss: float
    nonzero: int
    data: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class QuantizationPoint(_Plain):
    """The critical number of bits n_q and where it was found.

    Attributes:
        bits: the smallest n_q within tolerance.
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at the quantized point (nats), ≤ reference_loss + tolerance.
        ranges: parameter name → the range m (in the weights' units) chosen for it; 0 at n_q = 1.
        naive_bits: d · n_q, the grid indices of all d parameters at n_q bits each (the ranges,
            32 bits a tensor, not counted).
        curve: (n_q, loss at the best ranges) for every n_q tried, 1 to ``bits``; in
            :meth:`to_dict` as ``[[n_q, loss], …]``.
        coded: the codec's size of the quantized point, or None without a spec (or when no
            codec step keeps it within tolerance).
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    bits: int
    reference_loss: float
    tolerance: float
    loss: float
    ranges: dict[str, float]
    naive_bits: int
    curve: tuple[tuple[int, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RankPoint(_Plain):
    """The critical fraction of rank removed and where it was found.

    Attributes:
        fraction: the largest f within tolerance; every matrix keeps ceil((1 − f) · R) of its
            full rank R = min(rows, columns).
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at that point (nats).
        full_ranks: matrix name → R.
        kept_ranks: matrix name → the rank kept at ``fraction``.
        curve: (f, loss) for every distinct kept-rank pattern, f ascending from 0 to 1.
        coded: the codec's size of the point (the factorized matrices multiplied out: the codec
            does not know the factors), or None without a spec.
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    fraction: float
    reference_loss: float
    tolerance: float
    loss: float
    full_ranks: dict[str, int]
    kept_ranks: dict[str, int]
    curve: tuple[tuple[float, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PruningPoint(_Plain):
    """The critical pruned fraction and where it was found.

    Attributes:
        fraction: the fraction of all d parameters (weights and biases) that are zero at the
            point, zeros already in w* included.
        threshold: TAMADE's magnitude threshold t (every |θ| < t was zeroed).
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at the pruned point (nats).
        curve: (fraction zero, loss) of every threshold TAMADE tried, by fraction.
        coded: the codec's size of the pruned point, or None without a spec.
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    fraction: float
    threshold: float
    reference_loss: float
    tolerance: float
    loss: float
    curve: tuple[tuple[float, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Compressibility(_Plain):
    """The three measures at one tolerance, and the codec-only baseline (None without a spec)."""

    reference_loss: float
    tolerance: float
    quantization: QuantizationPoint
    rank: RankPoint
    pruning: PruningPoint
    codec: CodedSize | None
