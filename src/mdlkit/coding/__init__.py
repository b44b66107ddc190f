"""Entropy coding with constriction: distributions, streams and the weight codec."""

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
