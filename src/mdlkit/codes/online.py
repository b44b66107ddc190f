"""Online codes: prequential (one learner) and switching (a fixed-share mixture of learners).

Setting: the receiver has all inputs x; the targets are sent block by block along boundaries
0 = t0 < t1 < … < tS = n. Block 0 goes with the uniform code (log2 K per label; for regression
log2 of the number of bins in the sent range); block k is coded with the head's distribution
from models trained only on the first t_k targets, which the receiver has decoded already and
retrains on, so the models are never sent:

    L_preq = t1·log2 K + Σ_k Σ_{i in block k} −log2 p_{θ(t_k)}(y_i | x_i)

Switching (van Erven, Grünwald & de Rooij 2012) mixes several learners' predictions. Its
experts are fixed convex combinations of the J learners: each learner alone, and for every pair
i < j the blends (1 − w)·p_i + w·p_j with w on a dyadic grid (:data:`BLENDS`, 2^-10 … 1 − 2^-10).
A blend pays where two networks err on different samples: on MNIST, 3 % of a 4-channel CNN under
the 32-channel one codes 2 % shorter than either. The weights v over the E experts are updated
exactly after every label (predict with Σ_e v_e p_e, then v_e ∝ v_e p_e(y_t)), and a switch is
allowed only between blocks, where the models change: after block k, v ← (1 − α_k)·v + α_k/E
with α_k = 1/(k + 2). Against the best expert — in particular the best single learner — it pays
at most log2 E + log2 S bits over S blocks (the prior 1/E and the chance Π(1 − α_k) ≥ 1/S of
never switching); over one learner it IS that learner's code. Choosing among learners and
blends in hindsight is therefore inside the code, not free. Switching mixes class
probabilities; regression targets take the prequential code.

Both codes are real: the pass that computes them writes a range-coded stream (head + stream,
block by block), and :func:`decode_online` recovers the targets by re-running the same
deterministic training on what it has decoded. Memory: O(n·K) for the coding distributions of
class labels and O(n·J) for per-learner bits, never n·J·K.

Regression targets are coded at the learners' precision ε as bins k (y ≈ k·ε); the learners
train on k·ε on both sides, so the decoder sees the same values as the encoder.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mdlkit.codes.learners import Fitted, Learner
from mdlkit.codes.online_result import OnlineCode, online_length
from mdlkit.codes.schedules import check_schedule
from mdlkit.coding.distributions import (
    BinRange,
    Categorical,
    DiscretizedGaussian,
    Distribution,
    UniformBins,
    bins,
)
from mdlkit.coding.streams import Decoder, EncodedStream, Encoder
from mdlkit.errors import MdlkitError

__all__ = [
    "BLENDS",
    "OnlineCode",
    "decode_online",
    "encode_online",
    "prequential_code",
    "switching_code",
]


@dataclass(frozen=True)
class _Task:
    """What the code sends: K classes, or bins of width ε over a sent range."""

    n_classes: int | None
    support: BinRange | None = None
    epsilon: float = 1.0

    def first(self, m: int) -> Distribution:
        if self.n_classes is not None:
            return Categorical(np.full((m, self.n_classes), 1.0 / self.n_classes))
        assert self.support is not None
        return UniformBins(self.support, m)

    def targets(self, symbols: np.ndarray) -> torch.Tensor:
        """The seen targets a learner trains on (the same on both sides)."""
        if self.n_classes is not None:
            return torch.from_numpy(symbols)
        return (torch.from_numpy(symbols).to(torch.float32) * self.epsilon)[:, None]

    def block(self, fitted: Fitted, x: torch.Tensor) -> Distribution:
        dist = fitted.coding_head().predict(fitted.model, x)
        if isinstance(dist, DiscretizedGaussian):
            assert self.support is not None
            if dist.epsilon != self.epsilon:
                raise MdlkitError(
                    f"the learner codes at ε = {dist.epsilon:g}, the code sends targets at "
                    f"ε = {self.epsilon:g}; give both the same precision"
                )
            return dist.within(self.support)
        return dist


def _task(y: np.ndarray | None, n_classes: int | None, epsilon: float | None) -> _Task:
    if n_classes is not None:
        if n_classes < 2:
            raise MdlkitError(f"an online code needs at least 2 classes, got {n_classes}")
        return _Task(n_classes)
    if epsilon is None:
        raise MdlkitError("regression targets need their precision: pass epsilon")
    support = None
    if y is not None:
        k = bins(y, epsilon)
        support = BinRange(int(k.min()), int(k.max()))
    return _Task(None, support, float(epsilon))


BLENDS: tuple[float, ...] = tuple(
    [2.0**-k for k in range(10, 0, -1)] + [1.0 - 2.0**-k for k in range(2, 11)]
)
"""The switching code's blends: weights w of a pair's second learner, 2^-10 … 1 − 2^-10 (19)."""


def _default_rate(block: int) -> float:
    return 1.0 / (block + 2)


def _experts(n_learners: int, blends: Sequence[float]) -> np.ndarray:
    """(E, J): each learner alone, then (1 − w)·e_i + w·e_j for every pair i < j and blend w."""
    for w in blends:
        if not 0.0 < w < 1.0:
            raise MdlkitError(f"a blend weight must lie strictly between 0 and 1, got {w}")
    rows = list(np.eye(n_learners))
    for i, j in itertools.combinations(range(n_learners), 2):
        for w in blends:
            row = np.zeros(n_learners)
            row[i], row[j] = 1.0 - w, w
            rows.append(row)
    return np.array(rows)


@dataclass
class _Pass:
    labels: np.ndarray
    sample_bits: np.ndarray
    probs: np.ndarray | None
    learner_bits: np.ndarray
    weights: list[np.ndarray]
    fitted: list[Fitted | None]


def _run(
    x: torch.Tensor,
    task: _Task,
    boundaries: list[int],
    learners: Sequence[Learner],
    rate: Callable[[int], float],
    blends: Sequence[float],
    transmit: Callable[[Distribution], np.ndarray],
    learner_encoders: list[Encoder] | None = None,
    on_block: Callable[[int, int, int, float], None] | None = None,
) -> _Pass:
    """The pass shared by encoder and decoder: ``transmit(dist)`` sends (encoder) or receives
    (decoder) the next ``len(dist)`` symbols; each learner's own stream is written if asked."""
    n, n_learners = len(x), len(learners)
    labels = np.zeros(n, dtype=np.int64)
    sample_bits = np.empty(n, dtype=np.float64)
    learner_bits = np.empty((n, n_learners), dtype=np.float64)
    probs = np.empty((n, task.n_classes), dtype=np.float64) if task.n_classes else None
    experts = _experts(n_learners, blends)  # (E, J)
    belief = np.full(len(experts), 1.0 / len(experts))  # v: the weights over the experts
    history: list[np.ndarray] = []
    fitted: list[Fitted | None] = [None] * n_learners
    for k, (start, end) in enumerate(itertools.pairwise(boundaries)):
        if k == 0:
            dists = [task.first(end - start)] * n_learners
        else:
            seen_x, seen_y = x[:start], task.targets(labels[:start])
            fitted = [lr.fit(seen_x, seen_y, fitted[j], k) for j, lr in enumerate(learners)]
            dists = [task.block(f, x[start:end]) for f in fitted]  # type: ignore[arg-type]
        history.append(belief @ experts)  # the learners' weights before the block
        if n_learners == 1:
            labels[start:end] = transmit(dists[0])
            if probs is not None:
                probs[start:end] = dists[0].probs  # type: ignore[union-attr]
        else:
            stacked = np.stack([d.probs for d in dists])  # type: ignore[union-attr]  # (J, m, K)
            for i in range(end - start):
                t = start + i
                mixture = (belief @ experts) @ stacked[:, i, :]
                assert probs is not None
                probs[t] = mixture
                labels[t] = transmit(Categorical(mixture[None, :]))[0]
                belief = belief * (experts @ stacked[:, i, labels[t]])
                belief = belief / belief.sum()
            if end < n:  # a switch between blocks only: the models change there
                alpha = rate(k)
                belief = (1.0 - alpha) * belief + alpha / len(experts)
        block = labels[start:end]
        for j, dist in enumerate(dists):
            if learner_encoders is not None:
                learner_bits[start:end, j] = learner_encoders[j].encode(block, dist)
            else:
                learner_bits[start:end, j] = dist.ideal_bits(block)
        if n_learners == 1:
            sample_bits[start:end] = learner_bits[start:end, 0]
        else:
            assert probs is not None
            sample_bits[start:end] = -np.log2(probs[np.arange(start, end), block])
        if on_block is not None:
            on_block(k, start, end, float(sample_bits[start:end].sum()))
    return _Pass(labels, sample_bits, probs, learner_bits, history, fitted)


def prequential_code(
    x: torch.Tensor,
    y: torch.Tensor | np.ndarray,
    n_classes: int | None,
    learner: Learner,
    boundaries: Sequence[int],
    *,
    epsilon: float | None = None,
    verify: bool = False,
    on_block: Callable[[int, int, int, float], None] | None = None,
    receiver: Learner | None = None,
) -> OnlineCode:
    """The prequential code of targets ``y`` given inputs ``x``: class labels (``n_classes``),
    or real values at precision ``epsilon`` (``n_classes=None``). It is the switching code over
    one learner; ``verify`` decodes the stream back (re-running the training)."""
    return switching_code(
        x,
        y,
        n_classes,
        [learner],
        boundaries,
        epsilon=epsilon,
        verify=verify,
        on_block=on_block,
        receiver=None if receiver is None else [receiver],
    )


def switching_code(
    x: torch.Tensor,
    y: torch.Tensor | np.ndarray,
    n_classes: int | None,
    learners: Sequence[Learner],
    boundaries: Sequence[int],
    rate: Callable[[int], float] = _default_rate,
    *,
    blends: Sequence[float] = BLENDS,
    epsilon: float | None = None,
    verify: bool = False,
    on_block: Callable[[int, int, int, float], None] | None = None,
    receiver: Sequence[Learner] | None = None,
) -> OnlineCode:
    """The switching (fixed-share) code over ``learners`` and their pairwise ``blends`` (see the
    module docstring; ``rate(k)`` is the share α_k spread over the experts after block k); with
    one learner, its prequential code exactly. The stream is always written; ``verify`` also
    decodes it back, retraining with ``receiver`` (default: ``learners``; pass the plain
    learners when ``learners`` load stored fits, see
    :class:`~mdlkit.codes.block_cache.CachedLearner`). ``on_block(k, start, end, bits)`` is
    called after each block is coded (progress)."""
    if not learners:
        raise MdlkitError("switching needs at least one learner")
    values = np.asarray(y)
    if len(values) != len(x):
        raise MdlkitError(f"inputs and targets differ in length: {len(x)} vs {len(values)}")
    task = _task(values, n_classes, epsilon)
    if task.n_classes is not None:
        symbols = values.astype(np.int64)
        if len(symbols) and (int(symbols.min()) < 0 or int(symbols.max()) >= task.n_classes):
            raise MdlkitError(
                f"labels must lie in [0, {task.n_classes - 1}] (the number of classes)"
            )
    else:
        if len(learners) > 1:
            raise MdlkitError(
                "switching mixes class probabilities; code regression targets "
                "with the prequential code (one learner)"
            )
        if values.ndim > 1 and values.shape[1] != 1:
            raise MdlkitError("online regression codes take one target per sample")
        symbols = bins(values, task.epsilon)
    bounds = check_schedule(boundaries, len(x))
    encoder = Encoder()
    learner_encoders = [Encoder() for _ in learners] if len(learners) > 1 else None
    position = 0

    def send(dist: Distribution) -> np.ndarray:
        nonlocal position
        block = symbols[position : position + len(dist)]
        encoder.encode(block, dist)
        position += len(dist)
        return block

    result = _run(x, task, bounds, list(learners), rate, blends, send, learner_encoders, on_block)
    stream = encoder.finish()
    name = "switching" if len(learners) > 1 else "prequential"
    if verify:
        decoders = list(receiver) if receiver is not None else list(learners)
        decoded = decode_online(
            stream,
            x,
            n_classes,
            decoders,
            bounds,
            rate,
            blends=blends,
            support=task.support,
            epsilon=epsilon,
        )
        if not np.array_equal(decoded, symbols):
            raise RuntimeError(f"{name}: decoded targets differ from the originals (a bug)")
    streams = [e.finish() for e in learner_encoders] if learner_encoders else [stream]
    side = task.support.side_bits if task.support is not None else 0
    return OnlineCode(
        name=name,
        length=online_length(name, bounds, result.sample_bits, task.support, stream),
        ideal_bits=float(result.sample_bits.sum()) + side,
        coded_bits=float(stream.coded_bits + side),
        decoded=verify,
        boundaries=bounds,
        labels=result.labels,
        sample_bits=result.sample_bits,
        probs=result.probs,
        weights=result.weights,
        fitted=result.fitted,
        learner_bits=result.learner_bits,
        encoded=stream,
        learner_streams=streams,
        support=task.support,
    )


def encode_online(result: OnlineCode) -> EncodedStream:
    """The range-coded stream the code wrote."""
    if result.encoded is None:
        raise MdlkitError("this online result holds no stream")
    return result.encoded


def decode_online(
    encoded: EncodedStream,
    x: torch.Tensor,
    n_classes: int | None,
    learners: Sequence[Learner],
    boundaries: Sequence[int],
    rate: Callable[[int], float] = _default_rate,
    *,
    blends: Sequence[float] = BLENDS,
    support: BinRange | None = None,
    epsilon: float | None = None,
    learner_streams: Mapping[int, EncodedStream] | None = None,
) -> np.ndarray:
    """Recover the targets (class labels, or bins k): decode block 0 uniformly, retrain on what
    was decoded, decode the next block with those predictions, and so on (the receiver's side
    of both online codes; ``rate`` and ``blends`` as the sender's). Regression needs the sent
    bin range ``support`` and ``epsilon``.

    ``learner_streams`` {j: learner j's own prequential stream} are decoded in the same pass,
    with the same models, and must give the same targets block by block. That proves each
    decodes on its own: learner j's receiver, having the same targets before block k, would
    train the same models (by induction) — one retraining checks both codes."""
    task = _task(None, n_classes, epsilon)
    if n_classes is None:
        if support is None:
            raise MdlkitError("decoding regression targets needs the sent bin range")
        task = _Task(None, support, task.epsilon)
    bounds = check_schedule(boundaries, len(x))
    decoder = Decoder(encoded.words)
    own = learner_streams or {}
    checks = [_Check(own[j].words if j in own else None, j) for j in range(len(learners))]
    run = _run(x, task, bounds, list(learners), rate, blends, decoder.decode, checks)  # type: ignore[arg-type]
    return run.labels


class _Check:
    """Decodes learner j's own stream beside the mixture's; its ``encode`` has an encoder's
    signature, so the shared pass calls it where the sender writes that stream."""

    def __init__(self, words: np.ndarray | None, j: int) -> None:
        self.decoder = Decoder(words) if words is not None else None
        self.j = j

    def encode(self, block: np.ndarray, dist: Distribution) -> np.ndarray:
        if self.decoder is not None and not np.array_equal(self.decoder.decode(dist), block):
            raise MdlkitError(
                f"learner {self.j}'s own stream decodes to other targets than the mixture's; "
                "one of the streams is damaged or was coded with other learners"
            )
        return dist.ideal_bits(block)
