"""Online codes: prequential (one learner) and switching (a fixed-share mixture of learners).

Setting: the receiver has all inputs x; the labels are sent block by block along boundaries
0 = t0 < t1 < … < tS = n. Block 0 goes with the uniform code; block k is coded with predictions
of models trained only on the first t_k labels, which the receiver has decoded already and
retrains on, so the models are never sent:

    L_preq = t1·log2 K + Σ_k Σ_{i in block k} −log2 p_{θ(t_k)}(y_i | x_i)

Switching (van Erven, Grünwald & de Rooij 2012) mixes several learners' predictions with
fixed-share weights, updated exactly after every label: predict with Σ_j w_j p_j, then
w_j ∝ w_j p_j(y_t) and w ← (1 − α_t)·w + α_t / J, with α_t = 1/(t + 2) by default. Against the
best single learner it pays at most log2 J + log2(n + 1) bits (the prior 1/J and the chance
Π(1 − α_t) ≥ 1/(n + 1) of never switching); over one learner it IS that learner's code. Choosing
among learners in hindsight is therefore inside the code, not free.

Both codes are real: :func:`encode_online` range-codes the labels with the coding distributions,
and :func:`decode_online` recovers them by re-running the same deterministic training.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import constriction
import numpy as np
import torch

from mdlkit.bits import CodeLength
from mdlkit.codes.learners import Fitted, Learner, block_probabilities
from mdlkit.codes.schedules import check_schedule
from mdlkit.coding.categorical import EncodedSymbols, encode_categorical
from mdlkit.errors import MdlkitError

__all__ = [
    "OnlineResult",
    "decode_online",
    "encode_online",
    "prequential_code",
    "switching_code",
]


@dataclass
class OnlineResult:
    """An online code's outcome: per-sample coding distributions and ideal bits.

    ``weights`` (switching only) are the mixture weights before each block.
    """

    name: str
    boundaries: list[int]
    probs: np.ndarray
    labels: np.ndarray
    weights: list[np.ndarray] = field(default_factory=list)
    fitted: list[Fitted | None] = field(default_factory=list)
    per_learner: np.ndarray | None = None

    def learner_result(self, j: int, name: str = "prequential") -> OnlineResult:
        """Learner j's own prequential code, from the predictions this run made anyway."""
        if self.per_learner is None:
            raise MdlkitError("this result kept no per-learner predictions")
        return OnlineResult(
            name, self.boundaries, self.per_learner[:, j, :], self.labels, fitted=[self.fitted[j]]
        )

    @property
    def bits(self) -> np.ndarray:
        """−log2 p(y_i) of each sample under its coding distribution."""
        return -np.log2(self.probs[np.arange(len(self.labels)), self.labels])

    @property
    def block_bits(self) -> list[float]:
        b = self.bits
        return [
            float(b[s:e].sum()) for s, e in zip(self.boundaries, self.boundaries[1:], strict=False)
        ]

    @property
    def length(self) -> CodeLength:
        """Total ideal bits, one part per block (block 0 is the uniform code)."""
        parts = {
            f"block {k} [{s}, {e})": v
            for k, (s, e, v) in enumerate(
                zip(self.boundaries, self.boundaries[1:], self.block_bits, strict=False)
            )
        }
        return CodeLength(parts, name=self.name)


def _check_inputs(x: torch.Tensor, y: np.ndarray | None, n_classes: int) -> None:
    if n_classes < 2:
        raise MdlkitError(f"an online code needs at least 2 classes, got {n_classes}")
    if y is not None:
        if len(y) != len(x):
            raise MdlkitError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise MdlkitError(f"labels must lie in [0, {n_classes - 1}] (the number of classes)")


def _default_rate(t: int) -> float:
    return 1.0 / (t + 2)


def _run(
    x: torch.Tensor,
    n_classes: int,
    boundaries: list[int],
    learners: Sequence[Learner],
    rate: Callable[[int], float],
    labels_for_block: Callable[[int, int, np.ndarray | None, list[np.ndarray]], np.ndarray],
    name: str,
) -> OnlineResult:
    """The pass shared by encoder and decoder. ``labels_for_block(start, end, probs, per_learner)``
    returns the block's labels: known ones for the encoder, decoded ones for the decoder.
    For one learner ``probs`` is given; for several it is None and the callee mixes."""
    n = len(x)
    y = np.zeros(n, dtype=np.int64)
    probs = np.empty((n, n_classes), dtype=np.float64)
    weights = np.full(len(learners), 1.0 / len(learners))
    per_learner_all = np.empty((n, len(learners), n_classes), dtype=np.float64)
    history: list[np.ndarray] = []
    fitted: list[Fitted | None] = [None] * len(learners)
    for k, (start, end) in enumerate(itertools.pairwise(boundaries)):
        if k == 0:
            per_learner = [np.full((end - start, n_classes), 1.0 / n_classes)] * len(learners)
        else:
            seen_x, seen_y = x[:start], torch.from_numpy(y[:start])
            fitted = [lr.fit(seen_x, seen_y, fitted[j], k) for j, lr in enumerate(learners)]
            per_learner = [block_probabilities(f, x[start:end]) for f in fitted]  # type: ignore[arg-type]
        history.append(weights.copy())
        per_learner_all[start:end] = np.stack(per_learner, axis=1)
        if len(learners) == 1:
            probs[start:end] = per_learner[0]
            y[start:end] = labels_for_block(start, end, per_learner[0], per_learner)
            continue
        stacked = np.stack(per_learner)  # (J, m, K)
        for i in range(end - start):
            t = start + i
            mixture = weights @ stacked[:, i, :]
            probs[t] = mixture
            y[t] = labels_for_block(t, t + 1, mixture[None, :], [])[0]
            weights = weights * stacked[:, i, y[t]]
            weights = weights / weights.sum()
            alpha = rate(t)
            weights = (1.0 - alpha) * weights + alpha / len(learners)
    return OnlineResult(name, boundaries, probs, y, history, fitted, per_learner_all)


def prequential_code(
    x: torch.Tensor,
    y: torch.Tensor | np.ndarray,
    n_classes: int,
    learner: Learner,
    boundaries: Sequence[int],
) -> OnlineResult:
    """The prequential code of labels ``y`` given inputs ``x`` (ideal lengths; see
    :func:`encode_online` for the bitstream). It is the switching code over one learner."""
    return switching_code(x, y, n_classes, [learner], boundaries)


def switching_code(
    x: torch.Tensor,
    y: torch.Tensor | np.ndarray,
    n_classes: int,
    learners: Sequence[Learner],
    boundaries: Sequence[int],
    rate: Callable[[int], float] = _default_rate,
) -> OnlineResult:
    """The switching (fixed-share) code over ``learners``; with one learner, its prequential
    code exactly."""
    if not learners:
        raise MdlkitError("switching needs at least one learner")
    labels = np.asarray(y, dtype=np.int64)
    _check_inputs(x, labels, n_classes)
    bounds = check_schedule(boundaries, len(x))
    return _run(
        x,
        n_classes,
        bounds,
        list(learners),
        rate,
        lambda s, e, _p, _pl: labels[s:e],
        "switching" if len(learners) > 1 else "prequential",
    )


def encode_online(result: OnlineResult) -> EncodedSymbols:
    """Range-code the labels with the result's coding distributions."""
    return encode_categorical(result.labels, result.probs)


def decode_online(
    encoded: EncodedSymbols,
    x: torch.Tensor,
    n_classes: int,
    learners: Sequence[Learner],
    boundaries: Sequence[int],
    rate: Callable[[int], float] = _default_rate,
) -> np.ndarray:
    """Recover the labels: decode block 0 uniformly, retrain on what was decoded, decode the next
    block with those predictions, and so on (the receiver's side of both online codes)."""
    _check_inputs(x, None, n_classes)
    bounds = check_schedule(boundaries, len(x))
    decoder = constriction.stream.queue.RangeDecoder(np.asarray(encoded.words, dtype=np.uint32))
    model = constriction.stream.model.Categorical(perfect=False)

    def decode(_s: int, _e: int, probs: np.ndarray | None, _pl: list[np.ndarray]) -> np.ndarray:
        assert probs is not None
        return np.asarray(decoder.decode(model, np.ascontiguousarray(probs)), dtype=np.int64)

    name = "switching" if len(learners) > 1 else "prequential"
    return _run(x, n_classes, bounds, list(learners), rate, decode, name).labels
