"""The two-part code L(θ) + Σ −log2 p_θ̂(y_i | x_i), with both parts real bitstreams.

The model part is the weight codec's description length, in two parts: ``architecture`` (the
model spec) and ``weights`` (the nonzero count and the step, then the range-coded payload with
the per-tensor counts); the weight file adds only its magic bytes, version and CRC32
(:attr:`EncodedModel.file_bytes`), which a receiver does not need. The data part is a stream of
the targets under the head's distribution computed from the DECODED model (class labels; or,
for regression, bins of width ε under N(f_θ̂(x), σ²)), so the two parts are honest together.
It is range coded and cut to the shortest whole number of bytes that still decodes into the
same targets (:meth:`~mdlkit.coding.streams.Encoder.finish_bytes`, checked by decoding); its
length is 8 bits a byte. The weight file is encoded and decoded once: the decoded model is
both what codes the targets and what a receiver would compute them with, so the targets are
always decoded back with its distributions and compared (``verify`` changes nothing; it is kept
for the signature every code shares).

A classifier with every weight pruned predicts 1/K for every class, and the receiver knows that
from the weight file (N = 0), so its labels go in the exact uniform stream
(:func:`~mdlkit.codes.uniform.encode_uniform`, ⌈n · log2 K⌉ bits, K the model's outputs)
instead of the range coder: the whole code is the architecture, one byte and less than one bit
above n · log2 K, 56 bits above it for an MLP 64-32-10. A regressor keeps its Gaussian stream.

Regression sends σ (float32, 32 bits) and the range of the bins (:class:`BinRange`, its
``side_bits``). By default σ is refit on the decoded model — the RMS residual, which minimises
the data part — rather than the σ learned in training (``sigma="trained"`` codes that one);
the result records both and which was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.codes.result import CodeResult
from mdlkit.codes.uniform import UniformStream, decode_uniform, encode_uniform
from mdlkit.coding.distributions import BinRange, Categorical, DiscretizedGaussian
from mdlkit.coding.model_size import dense_model_bits, paper_model_bits
from mdlkit.coding.streams import ByteStream, Decoder, Encoder
from mdlkit.coding.weights import EncodedModel, decode_model, encode_model
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, GaussianHead, Head
from mdlkit.models.spec import ModelSpec

__all__ = ["TwoPartCode", "two_part_code"]


@dataclass(frozen=True, kw_only=True)
class TwoPartCode(CodeResult):
    """A two-part code: the weight file, the data stream, and the model the data was coded with.

    ``length`` has the parts ``architecture``, ``weights`` and ``data`` (and ``sigma`` and
    ``side`` for regression). ``model_conventions`` gives the model cost in bits three ways:
    ``float32_dense`` (32 per parameter), ``4_bytes_per_nonzero`` (the DRR paper's convention:
    no index cost) and ``codec`` (mdlkit's description length, architecture + weights: the
    ``.mdlw`` file minus its magic bytes, version and CRC32). ``encoded_data`` is the data
    stream: range coded (:class:`~mdlkit.coding.streams.ByteStream`), or the uniform stream of
    an all-pruned classifier. ``sigma`` is the σ sent (regression only) and ``sigma_trained``
    the one the head learned.
    """

    model_conventions: dict[str, float]
    data_ideal_bits: float
    encoded_model: EncodedModel
    encoded_data: ByteStream | UniformStream
    decoded_model: nn.Module
    head: Head
    sigma: float | None = None
    sigma_trained: float | None = None

    @property
    def data_coded_bits(self) -> float:
        if isinstance(self.encoded_data, UniformStream):
            return float(self.encoded_data.bits)
        return float(self.encoded_data.coded_bits)

    def details(self) -> dict[str, Any]:
        return {
            "model_bits": dict(self.model_conventions),
            "model_file_bytes": self.encoded_model.file_bytes,
            "data_ideal_bits": self.data_ideal_bits,
            "data_coded_bits": self.data_coded_bits,
            "sigma": self.sigma,
            "sigma_trained": self.sigma_trained,
        }


def _conventions(encoded: EncodedModel) -> dict[str, float]:
    return {
        "float32_dense": float(dense_model_bits(encoded.total)),
        "4_bytes_per_nonzero": float(paper_model_bits(encoded.nonzero)),
        "codec": encoded.length.total,
    }


def _coding_head(
    head: Head, decoded: nn.Module, data: Split, sigma: Literal["refit", "trained"]
) -> tuple[Head, float | None]:
    """The head the data is coded with; for regression σ as sent (float32) and the trained σ."""
    if not isinstance(head, GaussianHead):
        return head, None
    if sigma not in ("refit", "trained"):
        raise MdlkitError(f"sigma must be 'refit' or 'trained', got {sigma!r}")
    value = head.refit_sigma(decoded, data) if sigma == "refit" else head.sigma
    return head.with_sigma(value), head.sigma


def two_part_code(
    model: nn.Module,
    spec: ModelSpec,
    data: Split,
    step: float,
    n_classes: int | None = None,
    *,
    head: Head | None = None,
    sigma: Literal["refit", "trained"] = "refit",
    verify: bool = True,
) -> TwoPartCode:
    """Encode ``model`` (quantized at ``step``) and ``data``'s targets under ``head``.

    ``head`` defaults to a categorical head over ``n_classes`` classes. The targets are coded
    with the model decoded from the weight file, exactly as a receiver computes them.
    """
    head = head if head is not None else CategoricalHead()
    if head.is_classification:
        labels = head.symbols(data.y)
        k = n_classes if n_classes is not None else int(labels.max(initial=0)) + 1
        if data.y.ndim != 1 or labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
            raise MdlkitError(f"two-part code needs class labels in [0, {k - 1}]")
    encoded_model = encode_model(model, spec, step)
    decoded = decode_model(encoded_model.data, spec.factories)
    coding_head, trained = _coding_head(head, decoded, data, sigma)
    symbols = coding_head.symbols(data.y)
    dist = coding_head.predict(decoded, data.x)
    model_parts = encoded_model.length.parts
    parts: dict[str, float] = {
        "architecture": model_parts["architecture"],
        "weights": model_parts["header"] + model_parts["payload"],
    }
    if isinstance(dist, DiscretizedGaussian):
        support = (
            BinRange(int(symbols.min()), int(symbols.max())) if len(symbols) else BinRange(0, 0)
        )
        dist = dist.within(support)
        parts.update({"sigma": 32.0, "side": float(support.side_bits)})
    stream: ByteStream | UniformStream
    if encoded_model.nonzero == 0 and isinstance(dist, Categorical):
        # Every prediction is 1/K, and the receiver knows it from N = 0: the exact uniform code.
        n_outputs = dist.probs.shape[1]
        stream = encode_uniform(symbols, n_outputs)
        if not np.array_equal(decode_uniform(stream.data, len(symbols), n_outputs), symbols):
            raise RuntimeError(
                "two-part code: the uniform stream decodes into other labels (a bug)"
            )
        data_bits, data_ideal = float(stream.bits), len(symbols) * math.log2(n_outputs)
    else:
        encoder = Encoder()
        encoder.encode(symbols, dist)

        # ``dist`` is already what a receiver computes: the model decoded from the file, the
        # same head, the same chunks (decoding the file a second time would give the same
        # weights, bit for bit).
        def decodes_same(words: np.ndarray) -> bool:
            return bool(np.array_equal(Decoder(words).decode(dist), symbols))

        # Cut to its shortest prefix of whole bytes that decodes into the same targets.
        stream = encoder.finish_bytes(decodes_same)
        data_bits, data_ideal = float(stream.coded_bits), stream.ideal_bits
    parts["data"] = data_bits
    name = "two-part" if head.is_classification else "two-part (regression)"
    return TwoPartCode(
        name=name,
        length=CodeLength(parts, name=name),
        ideal_bits=sum(v for k, v in parts.items() if k != "data") + data_ideal,
        coded_bits=sum(parts.values()),
        decoded=True,
        model_conventions=_conventions(encoded_model),
        data_ideal_bits=data_ideal,
        encoded_model=encoded_model,
        encoded_data=stream,
        decoded_model=decoded,
        head=coding_head,
        sigma=coding_head.sigma if isinstance(coding_head, GaussianHead) else None,
        sigma_trained=trained,
    )
