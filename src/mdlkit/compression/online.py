"""The online code of a file: the context-mixing predictor learns from what it has coded.

Nothing is stored but the bits: the encoder and the decoder start from the same initial model
(:func:`~mdlkit.compression.context_mixing.new_state`) and make the same predict/update calls
in the same order, so the decoder sees every probability the encoder used, bit for bit (all
integer arithmetic). Each bit is coded by the binary arithmetic coder of
:mod:`~mdlkit.compression.binary_coder` under P(1) = p / 4096; the code length of a byte is Σ
over its 8 bits of −log2 P(bit). Both directions run as one compiled loop (predict → code the
bit → learn) over a slice of the block per call, so decoding costs what encoding does.

An :class:`OnlineCoder` carries its model from one call to the next. Archives of formats 3 and
4 use a fresh one per independent block (:mod:`~mdlkit.compression.blocks`), its tables sized
to the block (:func:`table_bits_for`), so a small file makes small tables; formats 1 and 2
carried one coder across blocks of :data:`BLOCK_BYTES`, and their decoder still does. Formats
1–3 coded the bits with constriction's range coder: :meth:`OnlineCoder.decode_words` still
reads them (:mod:`~mdlkit.compression.online_words`). Within a block, ``segments`` independent
byte streams are coded in lockstep (see :mod:`~mdlkit.compression.context_mixing`): one segment
codes the block sequentially (the smallest output); several cost a little in size, since recent
statistics get mixed across segments, and were the faster decoding while the decoder looped in
Python. A block whose code would not be shorter than itself is stored as it is (in formats 1
and 2 the model still learned from it), so incompressible input grows by a few bytes per block
only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mdlkit.compression.binary_coder import (
    POSITION,
    finish,
    new_decoder,
    new_encoder,
)
from mdlkit.compression.context_mixing import (
    MIN_TABLE_BITS,
    TABLE_BITS,
    new_lanes,
    new_state,
    state_layout,
)
from mdlkit.compression.native import kernels
from mdlkit.errors import MdlkitError

__all__ = [
    "BLOCK_BYTES",
    "UNDECODABLE",
    "CodedBlock",
    "OnlineCoder",
    "segment_length",
    "table_bits_for",
]

BLOCK_BYTES = 1 << 23  # 8 MiB: the block of formats 1 and 2 (and the later ones' default)
# Bits coded per kernel call: between calls the progress callback runs (a few per second).
_BITS_PER_CALL = 1 << 18
# Table slots per input byte, log2: a byte opens at most two new 16-slot groups per model (one
# per nibble), 2^5 = 32 slots, so an input of n bytes fits 2^(⌈log2 n⌉ + 5)-slot tables whatever
# its statistics, and a smaller table only adds collisions.
SLACK_BITS = 5
UNDECODABLE = (
    "mdlkit archive does not decode: it is damaged, or was made by a different "
    "predictor (make it again from the original)"
)
_NONE = np.zeros(0, dtype=np.int64)  # "record no probabilities" for the kernels


def table_bits_for(n: int | None) -> int:
    """The table size (log2 slots of the 22-bit models) for an input of n bytes, None if
    unknown: clamp(⌈log2 n⌉ + SLACK_BITS, MIN_TABLE_BITS, TABLE_BITS).

    >>> table_bits_for(0), table_bits_for(5000), table_bits_for(125_179), table_bits_for(None)
    (12, 18, 22, 22)
    """
    if n is None:
        return TABLE_BITS
    return max(MIN_TABLE_BITS, min(TABLE_BITS, max(0, n - 1).bit_length() + SLACK_BITS))


def segment_length(n: int, segments: int) -> int:
    """Bytes per segment of an n-byte block cut into (at most) ``segments`` segments."""
    return max(1, -(-n // max(1, segments)))


@dataclass(frozen=True)
class CodedBlock:
    """One block's output: its code (or the raw bytes if those were shorter)."""

    length: int  # bytes of input
    stored: bool  # True: ``payload`` is the input itself
    payload: bytes
    ideal_bits: float  # Σ −log2 p over the block's bits under the model


class OnlineCoder:
    """The model's state across the blocks of one file; one instance per file and direction.

    ``table_bits`` sizes the model's tables (see :func:`table_bits_for`) and ``record`` (0:
    none) turns the record models on and ``markup`` the markup model (see
    :mod:`~mdlkit.compression.structure`); ``predictor`` names the arithmetic (cm1 … cm5,
    :func:`~mdlkit.compression.context_mixing.state_layout`); encoder and decoder must agree
    on all four.
    ``progress(n)`` is called with the number of bytes of a block done so far, now and then.
    """

    def __init__(
        self,
        segments: int = 1,
        progress: Callable[[int], None] | None = None,
        table_bits: int = TABLE_BITS,
        record: int = 0,
        markup: bool = False,
        predictor: str = "cm1",
    ) -> None:
        state_layout(table_bits, record, markup, predictor)  # refuses bad settings now
        self.segments = segments
        self.table_bits = table_bits
        self.record = record
        self.markup = markup
        self.predictor = predictor
        self._state: np.ndarray | None = None
        self.progress = progress

    @property
    def state(self) -> np.ndarray:
        # Made on first use: up to about 1 GB of tables that a refused archive never needs.
        if self._state is None:
            self._state = new_state(self.table_bits, self.record, self.markup, self.predictor)
        return self._state

    def _slices(self, n: int, lanes: np.ndarray) -> list[tuple[int, int]]:
        """The kernel calls of a block: (first step, last step) of each."""
        seg_len = segment_length(n, self.segments)
        steps = max(1, _BITS_PER_CALL // (8 * len(lanes)))
        return [(first, min(seg_len, first + steps)) for first in range(0, seg_len, steps)]

    def _done(self, n: int, lanes: np.ndarray, last: int) -> None:
        if self.progress is not None:
            self.progress(min(n, last * len(lanes)))

    def encode(self, block: bytes, probabilities: list[int] | None = None) -> CodedBlock:
        """Code one block (the model learns from it either way). ``probabilities`` (a list)
        receives every 12-bit probability used, in coding order."""
        data = np.frombuffer(block, dtype=np.uint8).copy()
        n = len(data)
        if n == 0:
            return CodedBlock(0, True, b"", 0.0)
        seg_len = segment_length(n, self.segments)
        lanes = new_lanes(n, seg_len)
        coder, out, ideal = new_encoder(), np.zeros(n, dtype=np.uint8), 0.0
        encode_steps = kernels().encode_steps
        for first, last in self._slices(n, lanes):
            record = _record_for(probabilities, last - first, lanes)
            count, bits = encode_steps(self.state, lanes, data, seg_len, first, last, coder, out,
                                       record)  # fmt: skip
            ideal += bits
            if probabilities is not None:
                probabilities.extend(record[:count].tolist())
            self._done(n, lanes, last)
        size = finish(coder, out)
        if size >= n:  # the code would not be shorter: store the block (``out`` stopped at n)
            return CodedBlock(n, True, bytes(block), ideal)
        return CodedBlock(n, False, out[:size].tobytes(), ideal)

    def decode(self, coded: CodedBlock, probabilities: list[int] | None = None) -> bytes:
        """The bytes of a coded (never stored) block of format 4 or later. Any payload decodes
        to some bytes in bounded time; the caller checks them against the block's CRC-32.

        ``probabilities`` (a list) receives every 12-bit probability used, in coding order.
        """
        n = coded.length
        seg_len = segment_length(n, self.segments)
        src = np.frombuffer(coded.payload, dtype=np.uint8)
        data = np.zeros(n, dtype=np.uint8)
        lanes = new_lanes(n, seg_len)
        coder = new_decoder(src)
        decode_steps = kernels().decode_steps
        for first, last in self._slices(n, lanes):
            record = _record_for(probabilities, last - first, lanes)
            count = decode_steps(self.state, lanes, data, seg_len, first, last, coder, src, record)
            if probabilities is not None:
                probabilities.extend(record[:count].tolist())
            self._done(n, lanes, last)
        if coder[POSITION] != len(src) + 3:  # the decoder reads 3 bytes past the encoder's last one
            raise MdlkitError(UNDECODABLE)
        return data.tobytes()

    def decode_words(self, coded: CodedBlock, probabilities: list[int] | None = None) -> bytes:
        """The bytes of a block of formats 1–3: range-coder words (:mod:`~mdlkit.compression.
        online_words`), or stored, the model still learning from it (formats 1 and 2 carried
        it to the next block)."""
        from mdlkit.compression.online_words import decode_words, learn_known

        seg_len = segment_length(coded.length, self.segments)
        if coded.stored:
            data = np.frombuffer(coded.payload, dtype=np.uint8).copy()
            learn_known(self.state, data, seg_len, probabilities)
            return bytes(coded.payload)
        try:
            return decode_words(self.state, coded.payload, coded.length, seg_len, self.progress,
                                probabilities)  # fmt: skip
        except (AssertionError, ValueError, RuntimeError):
            # constriction refuses words no encoder could have written under these models.
            raise MdlkitError(UNDECODABLE) from None


def _record_for(probabilities: list[int] | None, steps: int, lanes: np.ndarray) -> np.ndarray:
    return _NONE if probabilities is None else np.zeros(8 * steps * len(lanes), dtype=np.int64)
