"""The online code of a file: the context-mixing predictor learns from what it has coded.

Nothing is stored but the bits: the encoder and the decoder start from the same initial model
(:func:`~mdlkit.compression.context_mixing.new_state`) and make the same predict/update calls
in the same order, so the decoder sees every probability the encoder used, bit for bit (all
integer arithmetic). Each bit is range coded (constriction's queue coder) under
``Bernoulli(p / 4096)``; the code length of a byte is Σ over its 8 bits of −log2 P(bit).

An :class:`OnlineCoder` carries its model from one call to the next. Archives of format 3 use a
fresh one per independent block (:mod:`~mdlkit.compression.blocks`), its tables sized to the
block (:func:`table_bits_for`), so a small file makes small tables; formats 1 and 2 carried one
coder across blocks of :data:`BLOCK_BYTES`, and their decoder still does. Within a block,
``segments`` independent byte streams are coded in lockstep (see
:mod:`~mdlkit.compression.context_mixing`): one segment codes the block sequentially (the
smallest output); several let the decoder handle several bits per call of its Python loop (the
fastest decoding), at a small cost in size because recent statistics get mixed across segments.
A block whose code would be longer than itself is stored as it is (in formats 1 and 2 the model
still learned from it), so incompressible input grows by a few bytes per block only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import constriction
import numpy as np

from mdlkit.compression.context_mixing import (
    MIN_TABLE_BITS,
    TABLE_BITS,
    new_lanes,
    new_state,
    predict_many,
    run_known,
    step_one,
    update_many,
)
from mdlkit.errors import MdlkitError

__all__ = ["BLOCK_BYTES", "CodedBlock", "OnlineCoder", "segment_length", "table_bits_for"]

BLOCK_BYTES = 1 << 23  # 8 MiB: the block of formats 1 and 2 (and format 3's default)
# Bits whose probabilities are made and coded per kernel call when the bytes are known: a few
# arrays of this many int64 (4 MiB each) bound the encoder's working memory.
_BITS_PER_CALL = 1 << 19
_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
# Table slots per input byte, log2: a byte opens at most two new 16-slot groups per model (one
# per nibble), 2^5 = 32 slots, so an input of n bytes fits 2^(⌈log2 n⌉ + 5)-slot tables whatever
# its statistics, and a smaller table only adds collisions.
SLACK_BITS = 5


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


def _bit_order(
    probs: np.ndarray, data: np.ndarray, seg_len: int, first: int
) -> tuple[np.ndarray, np.ndarray]:
    """The bits of steps first.. and their 12-bit probabilities, in the decoder's order: step by
    step, bit by bit, segment by segment (active segments only)."""
    steps, n_seg, _ = probs.shape
    positions = np.arange(n_seg)[None, :] * seg_len + (first + np.arange(steps))[:, None]
    valid = positions < len(data)
    byte = data[np.minimum(positions, len(data) - 1)].astype(np.int64)
    bits = (byte[:, :, None] >> (7 - np.arange(8))[None, None, :]) & 1
    order = (0, 2, 1)  # [t, k, j] → [t, j, k]
    mask = np.broadcast_to(valid[:, :, None], bits.shape).transpose(order)
    return bits.transpose(order)[mask], probs.transpose(order)[mask]


@dataclass(frozen=True)
class CodedBlock:
    """One block's output: its range-coder words (or the raw bytes if those were shorter)."""

    length: int  # bytes of input
    stored: bool  # True: ``payload`` is the input itself
    payload: bytes
    ideal_bits: float  # Σ −log2 p over the block's bits under the model


class OnlineCoder:
    """The model's state across the blocks of one file; one instance per file and direction.

    ``table_bits`` sizes the model's tables (see :func:`table_bits_for`; encoder and decoder
    must agree). ``progress(n)`` is called with the number of bytes of a block done so far, now
    and then.
    """

    def __init__(
        self,
        segments: int = 1,
        progress: Callable[[int], None] | None = None,
        table_bits: int = TABLE_BITS,
    ) -> None:
        if not MIN_TABLE_BITS <= table_bits <= TABLE_BITS:
            raise ValueError(f"table bits {table_bits} outside {MIN_TABLE_BITS}..{TABLE_BITS}")
        self.segments = segments
        self.table_bits = table_bits
        self._state: np.ndarray | None = None
        self.progress = progress

    @property
    def state(self) -> np.ndarray:
        # Made on first use: up to a few hundred MB of tables that a refused archive never needs.
        if self._state is None:
            self._state = new_state(self.table_bits)
        return self._state

    def _known(self, data: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Run the model over a block whose bytes are known: its bits and their 12-bit
        probabilities in coding order, a slice of steps at a time (bounded memory)."""
        n = len(data)
        seg_len = segment_length(n, self.segments)
        lanes = new_lanes(n, seg_len)
        steps = max(1, _BITS_PER_CALL // (8 * len(lanes)))
        for first in range(0, seg_len, steps):
            last = min(seg_len, first + steps)
            shape = (last - first, len(lanes), 8)
            probs = np.zeros(shape, dtype=np.int64)
            outside = np.zeros(shape, dtype=np.int64)
            run_known(self.state, lanes, data, seg_len, first, last, outside, probs)
            yield _bit_order(probs, data, seg_len, first)
            if self.progress is not None:
                self.progress(min(n, last * len(lanes)))

    def encode(self, block: bytes, probabilities: list[int] | None = None) -> CodedBlock:
        """Code one block (the model learns from it either way). ``probabilities`` (a list)
        receives every 12-bit probability used, in coding order."""
        data = np.frombuffer(block, dtype=np.uint8).copy()
        if len(data) == 0:
            return CodedBlock(0, True, b"", 0.0)
        encoder = constriction.stream.queue.RangeEncoder()
        ideal = 0.0
        for bits, probs in self._known(data):
            if probabilities is not None:
                probabilities.extend(probs.tolist())
            p = probs / 4096.0
            ideal += float(-np.log2(np.where(bits == 1, p, 1.0 - p)).sum())
            encoder.encode(bits.astype(np.int32), _BERNOULLI, p)
        payload = encoder.get_compressed().astype("<u4").tobytes()
        if len(payload) >= len(block):
            return CodedBlock(len(block), True, bytes(block), ideal)
        return CodedBlock(len(block), False, payload, ideal)

    def decode(self, coded: CodedBlock, probabilities: list[int] | None = None) -> bytes:
        """The block's bytes back, learning from them exactly as the encoder did.

        ``probabilities`` (a list) receives every 12-bit probability used, in coding order.
        """
        if coded.stored:
            data = np.frombuffer(coded.payload, dtype=np.uint8).copy()
            for _, probs in self._known(data):
                if probabilities is not None:
                    probabilities.extend(probs.tolist())
            return bytes(coded.payload)
        n = coded.length
        seg_len = segment_length(n, self.segments)
        words = np.frombuffer(coded.payload, dtype="<u4").astype(np.uint32)
        decoder = constriction.stream.queue.RangeDecoder(words)
        data = np.zeros(n, dtype=np.uint8)
        lanes = new_lanes(n, seg_len)
        try:
            if len(lanes) == 1:
                self._decode_sequential(decoder, lanes, data, probabilities)
            else:
                self._decode_segments(decoder, lanes, data, seg_len, probabilities)
        except (AssertionError, ValueError, RuntimeError):
            # constriction refuses words no encoder could have written under these models.
            raise MdlkitError(
                "mdlkit archive does not decode: it is damaged, or was made by a different "
                "predictor (make it again from the original)"
            ) from None
        return data.tobytes()

    def _decode_sequential(self, decoder, lanes, data, probabilities) -> None:  # type: ignore[no-untyped-def]
        state, n = self.state, len(data)
        record = probabilities.append if probabilities is not None else None
        Bernoulli = constriction.stream.model.Bernoulli
        p = step_one(state, lanes, data, -1, 0)
        for t in range(n):
            for _ in range(8):
                if record is not None:
                    record(p)
                bit = decoder.decode(Bernoulli(p / 4096.0, perfect=False))
                p = step_one(state, lanes, data, bit, t)
            if self.progress is not None and (t & 0xFFFF) == 0xFFFF:
                self.progress(t + 1)

    def _decode_segments(self, decoder, lanes, data, seg_len, probabilities) -> None:  # type: ignore[no-untyped-def]
        n, n_seg = len(data), len(lanes)
        out = np.zeros(n_seg, dtype=np.int64)
        outside = np.zeros(n_seg, dtype=np.int64)
        bits = np.zeros(n_seg, dtype=np.int64)
        for t in range(seg_len):
            a = min(n_seg, -(-(n - t) // seg_len))
            for _ in range(8):
                predict_many(self.state, lanes, data, a, outside, out)
                if probabilities is not None:
                    probabilities.extend(out[:a].tolist())
                bits[:a] = decoder.decode(_BERNOULLI, out[:a] / 4096.0)
                update_many(self.state, lanes, data, seg_len, a, t, bits)
            if self.progress is not None and (t & 0xFFF) == 0xFFF:
                self.progress(min(n, (t + 1) * n_seg))
