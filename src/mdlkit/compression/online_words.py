"""The online code's blocks of archive formats 1–3: bits range coded by constriction.

Those formats coded every bit with constriction's queue range coder under
``Bernoulli(p / 4096)``; format 4 codes them with :mod:`~mdlkit.compression.binary_coder`,
inside the model's compiled loop. The model is the same, so old archives decode here with the
same kernels, driven bit by bit from Python (a constriction call per bit: slower than today's
decoder). constriction is imported only when such an archive is read.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mdlkit.compression.context_mixing import (
    new_lanes,
    predict_many,
    run_known,
    step_one,
    update_many,
)

__all__ = ["decode_words", "learn_known"]

_STEPS_PER_CALL = 1 << 14  # bytes of a known block per kernel call (bounded scratch memory)


def decode_words(
    state: np.ndarray,
    payload: bytes,
    n: int,
    seg_len: int,
    progress: Callable[[int], None] | None = None,
    probabilities: list[int] | None = None,
) -> bytes:
    """The n bytes of a range-coded block (segments of ``seg_len`` bytes), the model ``state``
    learning from them. constriction raises AssertionError, ValueError or RuntimeError on words
    no encoder could have written under these models."""
    import constriction

    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    data = np.zeros(n, dtype=np.uint8)
    lanes = new_lanes(n, seg_len)
    if len(lanes) == 1:
        _decode_sequential(state, decoder, lanes, data, progress, probabilities)
    else:
        _decode_segments(state, decoder, lanes, data, seg_len, progress, probabilities)
    return data.tobytes()


def learn_known(
    state: np.ndarray, data: np.ndarray, seg_len: int, probabilities: list[int] | None = None
) -> None:
    """Run the model over a stored block, as the encoder of formats 1 and 2 did (they carried
    the model across blocks); ``probabilities`` receives the ones used, in coding order."""
    n = len(data)
    lanes = new_lanes(n, seg_len)
    for first in range(0, seg_len, _STEPS_PER_CALL):
        last = min(seg_len, first + _STEPS_PER_CALL)
        shape = (last - first, len(lanes), 8)
        probs, outside = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        run_known(state, lanes, data, seg_len, first, last, outside, probs)
        if probabilities is not None:  # in coding order: step, bit, segment (active ones)
            positions = np.arange(len(lanes))[None, :] * seg_len + np.arange(first, last)[:, None]
            valid = np.broadcast_to((positions < n)[:, None, :], (last - first, 8, len(lanes)))
            probabilities.extend(probs.transpose(0, 2, 1)[valid].tolist())


def _decode_sequential(state, decoder, lanes, data, progress, probabilities) -> None:  # type: ignore[no-untyped-def]
    import constriction

    n = len(data)
    record = probabilities.append if probabilities is not None else None
    Bernoulli = constriction.stream.model.Bernoulli
    p = step_one(state, lanes, data, -1, 0)
    for t in range(n):
        for _ in range(8):
            if record is not None:
                record(p)
            bit = decoder.decode(Bernoulli(p / 4096.0, perfect=False))
            p = step_one(state, lanes, data, bit, t)
        if progress is not None and (t & 0xFFFF) == 0xFFFF:
            progress(t + 1)


def _decode_segments(state, decoder, lanes, data, seg_len, progress, probabilities) -> None:  # type: ignore[no-untyped-def]
    import constriction

    bernoulli = constriction.stream.model.Bernoulli(perfect=False)
    n, n_seg = len(data), len(lanes)
    out = np.zeros(n_seg, dtype=np.int64)
    outside = np.zeros(n_seg, dtype=np.int64)
    bits = np.zeros(n_seg, dtype=np.int64)
    for t in range(seg_len):
        a = min(n_seg, -(-(n - t) // seg_len))
        for _ in range(8):
            predict_many(state, lanes, data, a, outside, out)
            if probabilities is not None:
                probabilities.extend(out[:a].tolist())
            bits[:a] = decoder.decode(bernoulli, out[:a] / 4096.0)
            update_many(state, lanes, data, seg_len, a, t, bits)
        if progress is not None and (t & 0xFFF) == 0xFFF:
            progress(min(n, (t + 1) * n_seg))
