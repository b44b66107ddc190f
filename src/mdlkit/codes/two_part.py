"""The two-part code L(θ) + Σ −log2 p_θ̂(y_i | x_i), with both parts real bitstreams.

The model part is the weight codec's file; the data part range-codes the labels with the
DECODED model's probabilities, so the two parts are honest together. Both are decoded back and
checked before a length is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.categorical import (
    EncodedSymbols,
    class_probabilities,
    decode_categorical,
    encode_categorical,
)
from mdlkit.coding.weights import EncodedModel, decode_model, encode_model
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = ["TwoPartCode", "two_part_code"]


@dataclass(frozen=True)
class TwoPartCode:
    """A verified two-part code.

    Attributes:
        length: ``model`` (weight-codec file bits) + ``data`` (range-coded label bits).
        model_conventions: model cost under three conventions, in bits: ``float32_dense``
            (32 per parameter), ``4_bytes_per_nonzero`` (the paper's convention: 32 per nonzero,
            no index cost) and ``codec`` (mdlkit's actual file).
        data_ideal_bits: Σ −log2 p over the coded labels.
        encoded_model, encoded_data: the bitstreams themselves.
        decoded_model: the model the data part was coded with.
    """

    length: CodeLength
    model_conventions: dict[str, float]
    data_ideal_bits: float
    encoded_model: EncodedModel
    encoded_data: EncodedSymbols
    decoded_model: nn.Module

    @property
    def data_coded_bits(self) -> float:
        return float(self.encoded_data.coded_bits)


def two_part_code(
    model: nn.Module, spec: ModelSpec, data: Split, step: float, n_classes: int
) -> TwoPartCode:
    """Encode ``model`` (quantized at ``step``) and ``data``'s labels; decode both and check."""
    labels = data.y.numpy()
    if data.y.ndim != 1 or labels.min(initial=0) < 0 or labels.max(initial=0) >= n_classes:
        raise MdlkitError(f"two-part code needs class labels in [0, {n_classes - 1}]")
    encoded_model = encode_model(model, spec, step)
    decoded = decode_model(encoded_model.data)
    probs = class_probabilities(decoded, data.x)
    encoded_data = encode_categorical(labels, probs)
    # Decode with probabilities recomputed from the decoded file, as a receiver would.
    receiver_probs = class_probabilities(decode_model(encoded_model.data), data.x)
    if not np.array_equal(decode_categorical(encoded_data.words, receiver_probs), labels):
        raise RuntimeError("two-part code: decoded labels differ from the originals (a bug)")
    conventions = {
        "float32_dense": 32.0 * encoded_model.total,
        "4_bytes_per_nonzero": 32.0 * encoded_model.nonzero,
        "codec": encoded_model.length.total,
    }
    length = CodeLength(
        {"model": encoded_model.length.total, "data": float(encoded_data.coded_bits)},
        name="two-part",
    )
    return TwoPartCode(
        length, conventions, encoded_data.ideal_bits, encoded_model, encoded_data, decoded
    )
