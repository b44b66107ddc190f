"""What an online code (prequential or switching) returns: :class:`OnlineCode`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mdlkit.bits import CodeLength
from mdlkit.codes.learners import Fitted
from mdlkit.codes.result import CodeResult
from mdlkit.coding.distributions import BinRange
from mdlkit.coding.streams import EncodedStream
from mdlkit.errors import MdlkitError

__all__ = ["OnlineCode", "online_length"]


@dataclass(frozen=True, kw_only=True)
class OnlineCode(CodeResult):
    """An online code's outcome.

    ``labels`` are the coded symbols (class indices, or bins k for regression); ``sample_bits``
    their −log2 p; ``probs`` the categorical coding distributions (None for regression);
    ``weights`` the mixture weights before each block; ``learner_bits`` (n, J) each learner's
    own −log2 p; ``encoded`` the mixture's stream and ``learner_streams`` each learner's own.
    """

    boundaries: list[int]
    labels: np.ndarray
    sample_bits: np.ndarray
    probs: np.ndarray | None
    weights: list[np.ndarray] = field(default_factory=list)
    fitted: list[Fitted | None] = field(default_factory=list)
    learner_bits: np.ndarray | None = None
    encoded: EncodedStream | None = None
    learner_streams: list[EncodedStream] = field(default_factory=list)
    support: BinRange | None = None

    @property
    def bits(self) -> np.ndarray:
        """−log2 p(y_i) of each sample under its coding distribution."""
        return self.sample_bits

    @property
    def block_bits(self) -> list[float]:
        b = self.sample_bits
        return [float(b[s:e].sum()) for s, e in itertools.pairwise(self.boundaries)]

    def learner_result(self, j: int, name: str = "prequential") -> OnlineCode:
        """Learner j's own prequential code, from the predictions this run made anyway."""
        if self.learner_bits is None or not self.learner_streams:
            raise MdlkitError("this result kept no per-learner predictions")
        bits = self.learner_bits[:, j]
        stream = self.learner_streams[j]
        side = self.support.side_bits if self.support is not None else 0
        return OnlineCode(
            name=name,
            length=online_length(name, self.boundaries, bits, self.support, stream),
            ideal_bits=float(bits.sum()) + side,
            coded_bits=float(stream.coded_bits + side),
            boundaries=self.boundaries,
            labels=self.labels,
            sample_bits=bits,
            probs=None,
            fitted=[self.fitted[j]],
            encoded=stream,
            support=self.support,
        )

    def details(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "block_bits": self.block_bits}


def online_length(
    name: str,
    boundaries: list[int],
    bits: np.ndarray,
    support: BinRange | None,
    stream: EncodedStream | None,
) -> CodeLength:
    """Ideal bits per block (block 0 is the uniform code), the bin range's side information."""
    parts = {
        f"block {k} [{s}, {e})": float(bits[s:e].sum())
        for k, (s, e) in enumerate(itertools.pairwise(boundaries))
    }
    if support is not None:
        parts["side"] = float(support.side_bits)
    return CodeLength(parts, name=name)
