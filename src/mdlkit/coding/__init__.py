"""Entropy coding with constriction: distributions, streams and the weight codec.

The names below are imported from their modules on first use (PEP 562): the archive format
(:mod:`~mdlkit.coding.container`) serves ``mdlkit compress``, which needs neither torch (the
weight codec) nor scipy (the Gaussian bins).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdlkit.coding.distributions import (
        BinRange,
        Categorical,
        DiscretizedGaussian,
        UniformBins,
        gaussian_bin_bits,
    )
    from mdlkit.coding.streams import (
        ByteStream,
        Decoder,
        EncodedGaussian,
        EncodedStream,
        Encoder,
        decode_categorical,
        decode_gaussian,
        encode_categorical,
        encode_gaussian,
        ideal_bits,
    )
    from mdlkit.coding.weights import (
        FORMAT_VERSION,
        EncodedModel,
        decode_model,
        decode_spec,
        encode_model,
        read_model,
    )

__all__ = [
    "FORMAT_VERSION",
    "BinRange",
    "ByteStream",
    "Categorical",
    "Decoder",
    "DiscretizedGaussian",
    "EncodedGaussian",
    "EncodedModel",
    "EncodedStream",
    "Encoder",
    "UniformBins",
    "decode_categorical",
    "decode_gaussian",
    "decode_model",
    "decode_spec",
    "encode_categorical",
    "encode_gaussian",
    "encode_model",
    "gaussian_bin_bits",
    "ideal_bits",
    "read_model",
]


def __getattr__(name: str) -> Any:
    module: ModuleType
    if name in (
        "BinRange",
        "Categorical",
        "DiscretizedGaussian",
        "UniformBins",
        "gaussian_bin_bits",
    ):
        from mdlkit.coding import distributions as module
    elif name in (
        "ByteStream",
        "Decoder",
        "EncodedGaussian",
        "EncodedStream",
        "Encoder",
        "decode_categorical",
        "decode_gaussian",
        "encode_categorical",
        "encode_gaussian",
        "ideal_bits",
    ):
        from mdlkit.coding import streams as module
    elif name in (
        "FORMAT_VERSION",
        "EncodedModel",
        "decode_model",
        "decode_spec",
        "encode_model",
        "read_model",
    ):
        from mdlkit.coding import weights as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
