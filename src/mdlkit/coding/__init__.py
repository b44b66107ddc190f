"""Entropy coding with constriction: categorical streams and the weight codec."""

from mdlkit.coding.categorical import (
    EncodedSymbols,
    class_probabilities,
    decode_categorical,
    encode_categorical,
    ideal_bits,
)
from mdlkit.coding.weights import (
    FORMAT_VERSION,
    EncodedModel,
    choose_step,
    decode_model,
    encode_model,
    quantize_model,
    read_model,
)

__all__ = [
    "FORMAT_VERSION",
    "EncodedModel",
    "EncodedSymbols",
    "choose_step",
    "class_probabilities",
    "decode_categorical",
    "decode_model",
    "encode_categorical",
    "encode_model",
    "ideal_bits",
    "quantize_model",
    "read_model",
]
