"""One result type for description lengths: :class:`CodeLength`, always in bits.

A code length is a total plus named parts (``model``, ``data``, per-tensor …). Parts may nest
by name with a ``/`` separator; the total is the sum of the parts, so a breakdown can never
disagree with its total.

>>> cl = CodeLength({"model": 1200.0, "data": 3000.5})
>>> cl.total
4200.5
>>> round(cl.kbit, 4)
4.2005
>>> (cl + CodeLength({"header": 8.0})).total
4208.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["LN2", "CodeLength", "bits_from_nats", "nats_from_bits"]

LN2 = math.log(2.0)


def bits_from_nats(nats: float) -> float:
    """Convert nats to bits: b = n / ln 2."""
    return nats / LN2


def nats_from_bits(bits: float) -> float:
    """Convert bits to nats: n = b · ln 2."""
    return bits * LN2


@dataclass(frozen=True)
class CodeLength:
    """A description length in bits with a named breakdown.

    Attributes:
        parts: name → bits. Every part is finite and non-negative.
        name: what was coded (e.g. ``"two-part (DRR)"``), used in tables.
    """

    parts: Mapping[str, float]
    name: str = ""
    _frozen_parts: tuple[tuple[str, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        items = tuple((str(k), float(v)) for k, v in self.parts.items())
        for key, value in items:
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"code length part {key!r} must be finite and >= 0, got {value}")
        object.__setattr__(self, "_frozen_parts", items)
        object.__setattr__(self, "parts", dict(items))

    @property
    def total(self) -> float:
        """Total length in bits."""
        return math.fsum(v for _, v in self._frozen_parts)

    @property
    def kbit(self) -> float:
        """Total length in kbit (1 kbit = 1000 bits)."""
        return self.total / 1000.0

    @property
    def bytes(self) -> float:
        """Total length in bytes (bits / 8)."""
        return self.total / 8.0

    def __add__(self, other: CodeLength) -> CodeLength:
        merged = dict(self.parts)
        for key, value in other.parts.items():
            merged[key] = merged.get(key, 0.0) + value
        return CodeLength(merged, name=self.name or other.name)

    def prefixed(self, prefix: str) -> CodeLength:
        """The same parts with names ``prefix/part`` (to nest one breakdown in another)."""
        return CodeLength({f"{prefix}/{k}": v for k, v in self.parts.items()}, name=self.name)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: ``{"name", "total_bits", "parts_bits"}``."""
        return {"name": self.name, "total_bits": self.total, "parts_bits": dict(self.parts)}

    def table(self) -> str:
        """A readable fixed-width table of the parts and the total, in bits and kbit."""
        width = max([len("total"), *(len(k) for k in self.parts)])
        title = f"{self.name}\n" if self.name else ""
        rows = [
            f"{k:<{width}}  {v:>14.1f} bits  {v / 1000:>10.3f} kbit" for k, v in self.parts.items()
        ]
        total = self.total
        rows.append(f"{'total':<{width}}  {total:>14.1f} bits  {total / 1000:>10.3f} kbit")
        return title + "\n".join(rows)

    def __str__(self) -> str:
        return self.table()
