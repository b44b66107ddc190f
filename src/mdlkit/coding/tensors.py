"""A model's integer tensors as one payload: each tensor's counts, then its mask and values.

The tensors are coded in turn by the sparse tensor coder (:mod:`mdlkit.coding.tensor_coder`)
into one constriction range-coder stream, each tensor's :class:`TensorCounts` just before it,
under uniform ranges given the shapes and N, the nonzero count of all tensors (which the
weight file sends, :mod:`mdlkit.coding.weights`).

The stream is stored in its shortest form (:func:`mdlkit.coding.streams.verified_bytes`:
checked by decoding it; constriction's whole words should that check ever fail), and
:func:`decode_tensors` accepts a payload only if it is, byte for byte, one of those two forms of
the tensors it decodes to, so bytes appended, cut or changed are caught even where the range
decoder would not read them; any damage raises :class:`CorruptPayload`.

>>> import numpy as np
>>> q = np.array([[0, 3, 0], [0, 0, 0], [-1, 5, 0]])
>>> encoded = encode_tensors([q])
>>> encoded.counts
[TensorCounts(nonzero=3, live_rows=2, live_cols=2, buckets=3)]
>>> np.array_equal(decode_tensors(encoded.data, [q.shape], 3)[0], q)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mdlkit.coding.streams import padded_words, stream_bytes, verified_bytes
from mdlkit.coding.tensor_coder import (
    CorruptPayload,
    TensorCounts,
    TensorDecoder,
    TensorEncoder,
    tensor_counts,
)

__all__ = ["CorruptPayload", "EncodedTensors", "TensorCounts", "decode_tensors", "encode_tensors"]


@dataclass(frozen=True)
class EncodedTensors:
    """A payload: ``data``, the stream in its shortest form; each tensor's counts
    (coded in ``data``); the ideal lengths in bits (``counts``, ``mask``, ``values``)."""

    data: bytes
    counts: list[TensorCounts]
    ideal: dict[str, float]


def _encoder_of(grids: Sequence[np.ndarray]) -> tuple[TensorEncoder, list[TensorCounts]]:
    """An encoder that has coded ``grids`` as a payload: counts, then mask and values."""
    sizes = [int(np.prod(g.shape)) for g in grids]
    left, room = sum(int(np.count_nonzero(g)) for g in grids), sum(sizes)
    encoder, table = TensorEncoder(), []
    for q, size in zip(grids, sizes, strict=True):
        counts = tensor_counts(q)
        room -= size
        encoder.encode_counts(tuple(q.shape), counts, left, room)
        if encoder.encode(q) != counts:  # pragma: no cover - the two must agree
            raise RuntimeError("tensor counts differ from what the encoder coded (a bug)")
        left -= counts.nonzero
        table.append(counts)
    return encoder, table


def _decode_words(
    words: np.ndarray, shapes: Sequence[tuple[int, ...]], nonzero: int
) -> list[np.ndarray]:
    sizes = [math.prod(shape) for shape in shapes]
    if not 0 <= nonzero <= sum(sizes):
        raise CorruptPayload(f"{nonzero} nonzero parameters do not fit in {sum(sizes)}")
    decoder, grids = TensorDecoder(words), []
    left, room = nonzero, sum(sizes)
    for shape, size in zip(shapes, sizes, strict=True):
        room -= size
        counts = decoder.decode_counts(shape, left, room)
        grids.append(decoder.decode(shape, counts))
        left -= counts.nonzero
    return grids


def encode_tensors(grids: Sequence[np.ndarray]) -> EncodedTensors:
    """Code integer tensors as a payload (module docstring) and store the stream in its
    shortest form that decodes back into exactly these tensors (checked by decoding it)."""
    grids = [np.asarray(q) for q in grids]
    encoder, counts = _encoder_of(grids)
    shapes = [tuple(q.shape) for q in grids]
    nonzero = sum(c.nonzero for c in counts)

    def decodes_same(words: np.ndarray) -> bool:
        try:
            decoded = _decode_words(words, shapes, nonzero)
        except CorruptPayload:
            return False
        return all(np.array_equal(a, b) for a, b in zip(decoded, grids, strict=True))

    data = verified_bytes(encoder.coder, decodes_same)
    return EncodedTensors(data, counts, dict(encoder.ideal))


def decode_tensors(
    data: bytes, shapes: Sequence[tuple[int, ...]], nonzero: int
) -> list[np.ndarray]:
    """The tensors (int64, of ``shapes``, ``nonzero`` nonzeros in all) of a payload;
    raises :class:`CorruptPayload` unless ``data`` is, byte for byte, a form
    :func:`encode_tensors` writes for them (the shortest, or the whole words)."""
    grids = _decode_words(padded_words(data), shapes, nonzero)
    if bytes(data) not in stream_bytes(_encoder_of(grids)[0].coder):
        raise CorruptPayload(
            "the payload is not the one mdlkit writes for the tensors it decodes to "
            "(bytes were appended, cut or changed)"
        )
    return grids
