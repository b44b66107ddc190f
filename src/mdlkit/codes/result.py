"""The result type every code returns: :class:`CodeResult`.

A code's length is a :class:`~mdlkit.bits.CodeLength` (bits, with named parts). Beside it stand
the ideal length Σ −log2 p of what was coded, the size of the real bitstream when the code
produced one, and whether that bitstream was decoded back and compared with the original —
so a reader can always tell an ideal length from a measured one.

>>> r = CodeResult(name="uniform", length=CodeLength({"data": 30.0}), ideal_bits=30.0)
>>> r.to_dict()["decoded"], r.to_dict()["total_bits"]
(False, 30.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mdlkit.bits import CodeLength

__all__ = ["CodeResult"]


@dataclass(frozen=True, kw_only=True)
class CodeResult:
    """What a code measured.

    Attributes:
        name: the code (``"two-part"``, ``"prequential"``, …).
        length: the reported length in bits with its parts. The two-part code reports the
            sizes of its bitstreams (the weight file without its magic bytes and CRC32, and
            the data stream); the online codes report ideal bits per block (their stream,
            ``coded_bits``, is within 0.01 % + 32 bits of it); the variational code reports its
            ideal length (its bits-back stream's net size is ``coded_bits`` with verify=True).
        ideal_bits: Σ −log2 p over everything coded with a probability model (file parts that
            are not probabilistic, such as a weight file, count at their size).
        coded_bits: the size of the bitstream(s) in bits, or None if the code wrote none.
        decoded: whether the bitstream was decoded back and found equal to the original.
    """

    name: str
    length: CodeLength
    ideal_bits: float
    coded_bits: float | None = None
    decoded: bool = False

    def details(self) -> dict[str, Any]:
        """Code-specific figures for :meth:`to_dict` (JSON-ready); subclasses add theirs."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: name, total and parts in bits, ideal and coded bits, decoded."""
        return {
            "name": self.name,
            "total_bits": self.length.total,
            "parts_bits": dict(self.length.parts),
            "ideal_bits": self.ideal_bits,
            "coded_bits": self.coded_bits,
            "decoded": self.decoded,
            **self.details(),
        }
