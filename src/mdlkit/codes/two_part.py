"""The two-part code L(θ) + Σ −log2 p_θ̂(y_i | x_i), with both parts real bitstreams.

The model part is the weight codec's file; the data part range-codes the labels (or, for
regression, the targets at precision ε under N(f_θ̂(x), σ²)) with the DECODED model, so the two
parts are honest together. Both are decoded back and checked before a length is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.categorical import (
    EncodedSymbols,
    class_probabilities,
    decode_categorical,
    encode_categorical,
)
from mdlkit.coding.gaussian import EncodedGaussian, decode_gaussian, encode_gaussian
from mdlkit.coding.weights import EncodedModel, decode_model, encode_model
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = ["RegressionTwoPartCode", "TwoPartCode", "two_part_code", "two_part_regression_code"]


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
    conventions = _conventions(encoded_model)
    length = CodeLength(
        {"model": encoded_model.length.total, "data": float(encoded_data.coded_bits)},
        name="two-part",
    )
    return TwoPartCode(
        length, conventions, encoded_data.ideal_bits, encoded_model, encoded_data, decoded
    )


def _conventions(encoded: EncodedModel) -> dict[str, float]:
    return {
        "float32_dense": 32.0 * encoded.total,
        "4_bytes_per_nonzero": 32.0 * encoded.nonzero,
        "codec": encoded.length.total,
    }


@dataclass(frozen=True)
class RegressionTwoPartCode:
    """A verified two-part code of regression targets.

    ``length`` has ``model`` (codec file), ``sigma`` (σ as float32, 32 bits), ``side``
    (k_min, k_max and the shift of the Gaussian stream) and ``data`` (the coded targets).
    """

    length: CodeLength
    model_conventions: dict[str, float]
    data_ideal_bits: float
    encoded_model: EncodedModel
    encoded_data: EncodedGaussian
    decoded_model: nn.Module
    sigma: float

    @property
    def data_coded_bits(self) -> float:
        return float(self.encoded_data.coded_bits)


@torch.no_grad()
def _means(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    was_training = model.training
    model.eval()
    try:
        return model(x).to(torch.float64).numpy().ravel()
    finally:
        model.train(was_training)


def two_part_regression_code(
    model: nn.Module,
    spec: ModelSpec,
    data: Split,
    step: float,
    *,
    sigma: float | None,
    epsilon: float,
) -> RegressionTwoPartCode:
    """Encode ``model`` and ``data``'s targets at precision ε with N(f(x), σ²); decode and check.

    ``sigma=None`` uses the σ that minimises the data part for the decoded model, the root mean
    squared residual (floored at ε so the code stays defined). σ is sent as float32.
    """
    encoded_model = encode_model(model, spec, step)
    decoded = decode_model(encoded_model.data)
    y = data.y.numpy().astype(np.float64).ravel()
    means = _means(decoded, data.x)
    if sigma is None:
        sigma = max(float(np.sqrt(np.mean((y - means) ** 2))), epsilon)
    sigma = float(np.float32(sigma))
    encoded_data = encode_gaussian(y, means, sigma=sigma, epsilon=epsilon)
    receiver = decode_model(encoded_model.data)
    k = decode_gaussian(encoded_data, _means(receiver, data.x), sigma=sigma)
    if not np.array_equal(k, np.round(y / epsilon)):
        raise RuntimeError("two-part code: decoded targets differ from the originals (a bug)")
    side = 64 * 2 + 8  # k_min, k_max as int64, the shift as a byte
    length = CodeLength(
        {
            "model": encoded_model.length.total,
            "sigma": 32.0,
            "side": float(side),
            "data": float(encoded_data.coded_bits),
        },
        name="two-part (regression)",
    )
    return RegressionTwoPartCode(
        length,
        _conventions(encoded_model),
        encoded_data.ideal_bits,
        encoded_model,
        encoded_data,
        decoded,
        sigma,
    )
