"""Bits-back coding of labels with a Gaussian posterior over the weights, on an ANS stack.

The variational code's length KL(q ‖ prior) + E_q[−log2 p_θ(y | x)] is reached by a real
stream (Hinton & van Camp 1993; Frey & Hinton 1997; Townsend et al. 2019) with constriction's
``AnsCoder``, a stack (last in, first out):

encoder
    1. start from a stack of ``initial_words`` seeded random 32-bit words: the *borrowed*
       bits (in a real system, any other message);
    2. DECODE the weight indices k under q: this draws θ = δ·k ~ q, using up about
       Σ −log2 q(k) of the borrowed bits (``consumed_bits``);
    3. ENCODE the labels under the network with the weights θ (float32, batched forward
       pass, ``_class_probs`` on both sides, so the logits are bit-identical);
    4. ENCODE k under the prior (N(0, σ0²) per tensor, on the same grid);
    5. ENCODE the side information (per tensor: σ0's grid index, δ's exponent, the index
       range, in ~40 bits): the receiver needs it before anything else.

decoder (the reverse): decode the side information, k under the prior, the labels; obtain
q (a receiver re-runs the deterministic training on the decoded labels: ``posterior`` may be
that function); encode k back under q, which must give back exactly the borrowed words —
the bits are returned, and the check catches a damaged stream or a different q.

The net length, final − borrowed words, is on average

    KL(q' ‖ p') + E[Σ −log2 p_θ(y | x)] + side info  (+ at most a word of ANS state)

q' and p' being q and the prior on the grid (:mod:`.bits_back_grid`). ``coded_bits`` is
measured; beside it stand the ideal terms: ``kl_bits`` (closed form, of the continuous q),
``sample_kl_bits`` (Σ log2 q'(k)/p'(k) at the drawn k, without constriction's 2^−24 floor —
the ideal cost of this draw) and ``data_bits`` (the labels under the drawn θ);
``ideal_bits`` = sample KL + data + side info. The floor also makes the coder cheaper than
this ideal for a symbol the ideal model deems nearly impossible (a label of p < 2^−24 under
the drawn net costs the coder about 24 bits), so ``coded_bits`` may fall a little below it.
One draw's data term varies by a few % of the total from draw to draw (the seed of the
borrowed words picks the draw).

**The grid δ** (:mod:`.bits_back_grid`). Each tensor's weights lie on θ = δ·k, δ = 2^e the
largest power of two with

    δ ≤ min_i σ_i / ``ratio``   (``ratio`` = 8 by default)

Rounding a draw of N(μ, σ²) to the grid adds e ~ U(−δ/2, δ/2) (variance δ²/12). Near a
minimum of the expected loss with curvature h_i, and 1/σ_i² = h_i + 1/σ0² at the optimum of
a Gaussian q, that costs ½·h_i·δ²/12 ≤ δ²/(24 σ_i²) ≤ 1/(24·ratio²) nats per weight
(≤ 1/1536 nats at ratio 8). A finer δ costs nothing in the net length, only more borrowed
bits (log2(1/δ) per weight): q and the prior are coded in two stages (a coarse index under
constriction's QuantizedGaussian, then uniform low bits), so their ranges stay small and
constriction's 24-bit leaky quantization (every bin of a range gets at least 2^−24) costs
little — see :mod:`.bits_back_grid` for the figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import constriction
import numpy as np
import torch
from torch.func import functional_call

from mdlkit.bits import CodeLength
from mdlkit.codes.bits_back_grid import TensorGrid, choose_grids, decode_header, encode_header
from mdlkit.codes.posterior import GaussianPosterior
from mdlkit.codes.result import CodeResult
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = [
    "BitsBackCode",
    "BitsBackStream",
    "decode_bits_back",
    "encode_bits_back",
]

_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)


@dataclass(frozen=True)
class BitsBackStream:
    """The final ANS stack, and what both sides agree on: the borrowed words' count and seed
    and the number of labels."""

    words: np.ndarray
    initial_words: int
    seed: int
    n_labels: int

    @property
    def coded_bits(self) -> int:
        """Net length: 32 · (final − borrowed words)."""
        return 32 * (len(self.words) - self.initial_words)


@dataclass(frozen=True, kw_only=True)
class BitsBackCode(CodeResult):
    """A bits-back stream and its figures (bits): ``coded_bits`` net, ``borrowed_bits`` the
    initial stack, ``consumed_bits`` what drawing the weights took from it; ideal terms
    ``kl_bits`` (closed form), ``sample_kl_bits`` (this draw), ``data_bits``, ``side_bits``;
    ``accuracy`` of the drawn network on the coded labels."""

    stream: BitsBackStream = field(repr=False)
    kl_bits: float
    sample_kl_bits: float
    data_bits: float
    side_bits: float
    borrowed_bits: int
    consumed_bits: float
    accuracy: float
    grids: dict[str, TensorGrid]

    def details(self) -> dict[str, Any]:
        return {
            "kl_bits": self.kl_bits,
            "sample_kl_bits": self.sample_kl_bits,
            "data_bits": self.data_bits,
            "side_bits": self.side_bits,
            "borrowed_bits": self.borrowed_bits,
            "consumed_bits": self.consumed_bits,
            "accuracy": self.accuracy,
        }


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy().ravel()


def _class_probs(
    spec: ModelSpec, theta: dict[str, torch.Tensor], x: torch.Tensor, batch_size: int = 4096
) -> np.ndarray:
    """p_θ(class | x) as float64 rows, from a float32 forward pass in fixed batches (the one
    code path of encoder and decoder, so both get the same bits)."""
    model = spec.build()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = functional_call(model, theta, (x[start : start + batch_size],))
            chunks.append(torch.log_softmax(logits.double(), dim=1).exp().numpy())
    probs = np.concatenate(chunks) if chunks else np.zeros((0, 1))
    if not np.all(np.isfinite(probs)):
        raise MdlkitError("the weights give non-finite class probabilities (a damaged stream?)")
    return probs


def _theta(
    shapes: dict[str, torch.Size], grids: dict[str, TensorGrid], k: dict[str, np.ndarray]
) -> dict[str, torch.Tensor]:
    """θ = δ·k as float32 tensors of the model's shapes (exact: |k| < 2^24, δ a power of 2)."""
    return {
        n: torch.from_numpy((k[n] * grids[n].delta).astype(np.float32)).reshape(shapes[n])
        for n in grids
    }


def _initial_words(seed: int, count: int) -> np.ndarray:
    words = np.random.default_rng(seed).integers(0, 2**32, size=count, dtype=np.uint32)
    if count:
        words[-1] |= np.uint32(1 << 31)  # an ANS stack never ends in a zero word
    return words


def _check_labels(labels: np.ndarray, n: int, n_classes: int) -> None:
    if len(labels) != n:
        raise MdlkitError("bits-back coding needs one label per input")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise MdlkitError(f"labels must lie in [0, {n_classes - 1}] (the number of classes)")


def encode_bits_back(
    post: GaussianPosterior,
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    seed: int = 0,
    initial_words: int | None = None,
    ratio: float = 8.0,
) -> BitsBackCode:
    """Code the labels ``y`` by bits-back with q = ``post`` (see the module docstring).

    ``initial_words`` (default: the expected Σ −log2 q(k) plus a margin) seeded random words
    are borrowed; too few, and the stack is re-started with twice as many. ``ratio`` sets the
    grid: δ ≤ min σ / ratio per tensor.
    """
    labels = np.asarray(y, dtype=np.int64).ravel()
    _check_labels(labels, len(x), n_classes)
    grids = choose_grids(post, ratio=ratio)
    names = post.names
    mu = {n: _np(post.mu[n]) for n in names}
    sigma = {n: _np(post.sigma[n]) for n in names}
    if initial_words is None:  # H(q) plus 8 standard deviations (≈ 1 bit per weight) and 64
        need = sum(grids[n].q_entropy_bits(sigma[n]) for n in names)
        initial_words = math.ceil((need + 8 * math.sqrt(post.n_params) + 64) / 32) + 2
    while True:
        coder = constriction.stream.stack.AnsCoder(_initial_words(seed, initial_words))
        before = coder.num_valid_bits()
        k = {n: grids[n].decode_q(coder, mu[n], sigma[n]) for n in names}
        if coder.num_words() > 2:
            break
        initial_words *= 2
    consumed = float(before - coder.num_valid_bits())
    shapes = {n: t.shape for n, t in post.mu.items()}
    probs = _class_probs(post.spec, _theta(shapes, grids, k), x)
    if probs.shape[1] != n_classes:
        raise MdlkitError(f"the model has {probs.shape[1]} outputs, not {n_classes} classes")
    coder.encode_reverse(labels.astype(np.int32), _CATEGORICAL, probs)
    for n in reversed(names):
        grids[n].encode_prior(coder, k[n])
    side = encode_header(coder, [grids[n] for n in names])
    stream = BitsBackStream(
        np.asarray(coder.get_compressed(), dtype=np.uint32), initial_words, seed, len(labels)
    )
    sample_kl = sum(
        float((grids[n].q_log2(k[n], mu[n], sigma[n]) - grids[n].prior_log2(k[n])).sum())
        for n in names
    )
    p_true = probs[np.arange(len(labels)), labels]
    data = float(-np.log2(np.maximum(p_true, np.finfo(np.float64).tiny)).sum())  # finite
    kl = post.kl_bits()
    return BitsBackCode(
        name="bits-back",
        length=CodeLength({"kl": kl, "data": data, "side info": side}, name="bits-back"),
        ideal_bits=sample_kl + data + side,
        coded_bits=stream.coded_bits,
        stream=stream,
        kl_bits=kl,
        sample_kl_bits=sample_kl,
        data_bits=data,
        side_bits=side,
        borrowed_bits=32 * initial_words,
        consumed_bits=consumed,
        accuracy=float((probs.argmax(1) == labels).mean()) if len(labels) else 0.0,
        grids=grids,
    )


def decode_bits_back(
    stream: BitsBackStream,
    x: torch.Tensor,
    n_classes: int,
    spec: ModelSpec,
    posterior: GaussianPosterior | Callable[[np.ndarray], GaussianPosterior],
) -> np.ndarray:
    """The labels of a bits-back stream (int64), after checking that encoding the weights back
    under q returns exactly the borrowed words; ``posterior`` is q or the function that makes
    it from the decoded labels (the training). Raises MdlkitError on a damaged stream."""
    if stream.n_labels != len(x):
        raise MdlkitError(
            f"the stream codes {stream.n_labels} labels but {len(x)} inputs were given"
        )
    shapes = {n: p.shape for n, p in spec.build().named_parameters()}
    names = list(shapes)
    try:
        coder = constriction.stream.stack.AnsCoder(np.asarray(stream.words, dtype=np.uint32))
    except ValueError as exc:
        raise MdlkitError(f"not a bits-back stream: {exc}") from None
    grids = dict(zip(names, decode_header(coder, len(names)), strict=True))
    k = {n: grids[n].decode_prior(coder, math.prod(shapes[n])) for n in names}
    probs = _class_probs(spec, _theta(shapes, grids, k), x)
    if probs.shape[1] != n_classes:
        raise MdlkitError(f"the model has {probs.shape[1]} outputs, not {n_classes} classes")
    labels = np.asarray(coder.decode(_CATEGORICAL, probs), dtype=np.int64)
    post = posterior if isinstance(posterior, GaussianPosterior) else posterior(labels)
    if post.names != names:
        raise MdlkitError("the posterior's parameter tensors are not the model's")
    for n in reversed(names):
        mu, sigma = _np(post.mu[n]), _np(post.sigma[n])
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
            raise MdlkitError(f"the posterior of {n!r} is not finite")
        grids[n].encode_q(coder, k[n], mu, sigma)
    if not np.array_equal(
        coder.get_compressed(), _initial_words(stream.seed, stream.initial_words)
    ):
        raise MdlkitError(
            "the stream does not give back its borrowed bits: it is damaged, or q is not the "
            "encoder's (same training, seed and machine?)"
        )
    return labels
