"""Range coding of categorical symbols with constriction, and model probabilities for it.

Probability models are kept apart from the coder: :func:`class_probabilities` says what
p(y | x) is; :func:`encode_categorical` / :func:`decode_categorical` turn symbols into 32-bit words
and back. The decoder must see bit-identical probabilities, so they are always float64 computed
from float32 model outputs in fixed chunks (:data:`mdlkit.evaluation.EVAL_CHUNK`).

>>> p = np.full((8, 4), 0.25)
>>> enc = encode_categorical(np.arange(8) % 4, p)
>>> enc.ideal_bits
16.0
>>> decode_categorical(enc.words, p).tolist()
[0, 1, 2, 3, 0, 1, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.evaluation import EVAL_CHUNK

__all__ = [
    "EncodedSymbols",
    "class_probabilities",
    "decode_categorical",
    "encode_categorical",
    "ideal_bits",
]


@dataclass(frozen=True)
class EncodedSymbols:
    """A range-coded stream: its 32-bit words and the ideal length Σ −log2 p it approximates."""

    words: np.ndarray
    ideal_bits: float
    n_symbols: int

    @property
    def coded_bits(self) -> int:
        """The actual length in bits (32 per word)."""
        return 32 * len(self.words)


def _check(symbols: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    symbols = np.asarray(symbols)
    if probs.ndim != 2 or len(probs) != len(symbols):
        raise MdlkitError(f"need one probability row per symbol: {probs.shape} vs {symbols.shape}")
    if len(symbols) and (symbols.min() < 0 or symbols.max() >= probs.shape[1]):
        raise MdlkitError(f"symbols must lie in [0, {probs.shape[1] - 1}] (the number of classes)")
    return symbols.astype(np.int32), probs


def ideal_bits(symbols: np.ndarray, probs: np.ndarray) -> float:
    """Σ −log2 p(symbol_i), the length an ideal entropy coder would reach."""
    symbols, probs = _check(symbols, probs)
    return float(-np.log2(probs[np.arange(len(symbols)), symbols]).sum())


def encode_categorical(symbols: np.ndarray, probs: np.ndarray) -> EncodedSymbols:
    """Range-code ``symbols[i]`` with the distribution ``probs[i]`` (rows sum to 1)."""
    symbols, probs = _check(symbols, probs)
    encoder = constriction.stream.queue.RangeEncoder()
    if len(symbols):
        encoder.encode(symbols, constriction.stream.model.Categorical(perfect=False), probs)
    words = np.asarray(encoder.get_compressed(), dtype=np.uint32)
    return EncodedSymbols(words, ideal_bits(symbols, probs), len(symbols))


def decode_categorical(words: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Decode ``len(probs)`` symbols from ``words`` with the same probabilities as the encoder."""
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    if len(probs) == 0:
        return np.zeros(0, dtype=np.int64)
    decoder = constriction.stream.queue.RangeDecoder(np.asarray(words, dtype=np.uint32))
    out = decoder.decode(constriction.stream.model.Categorical(perfect=False), probs)
    return np.asarray(out, dtype=np.int64)


@torch.no_grad()
def class_probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """p(y | x) as float64 (n, K): softmax in float64 of the model's float32 logits.

    Computed in eval mode and in fixed chunks so that encoder and decoder agree bit for bit.
    """
    was_training = model.training
    model.eval()
    try:
        chunks = [
            torch.softmax(model(x[s : s + EVAL_CHUNK]).to(torch.float64), dim=1)
            for s in range(0, len(x), EVAL_CHUNK)
        ]
    finally:
        model.train(was_training)
    return torch.cat(chunks).numpy()
