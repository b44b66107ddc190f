"""One run of the online codes over several learners: the switching code, each learner's own
prequential code, both decoded back, and the float32 two-part code of the last block's model.

The switching pass trains every learner once per block (resumably, through
:class:`~mdlkit.codes.block_cache.CachedLearner` when a cache folder is given) and writes the
mixture's stream and each learner's own stream at the same time. The receiver's work is then
repeated for real: the switching stream is decoded by retraining every learner from scratch on
the decoded labels, and the chosen learner's own prequential stream is decoded in the same pass
with the same models (:func:`~mdlkit.codes.online.decode_online`'s ``learner_streams``). A row
says ``decoded: true`` only when that decoding gave back every label.

The float32 two-part row sends the last block's model as 32 bits per parameter and then every
label under it (a range-coded stream, decoded back with the same model):

    L = 32 · #params + Σ_i −log2 p_θ(y_i | x_i)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mdlkit.codes.block_cache import CachedLearner
from mdlkit.codes.learners import Fitted, TorchLearner
from mdlkit.codes.online import OnlineCode, decode_online, switching_code
from mdlkit.coding.streams import Decoder, Encoder
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate

__all__ = ["float32_two_part", "run_online_codes"]


def _accuracy(fitted: Fitted | None, test: Split | None) -> float:
    if fitted is None or test is None:
        return float("nan")
    return evaluate(fitted.model, test, fitted.coding_head()).accuracy


def float32_two_part(fitted: Fitted, x: torch.Tensor, y: np.ndarray) -> dict[str, Any]:
    """32 bits per parameter for the model, then every label coded under it and decoded back."""
    n_params = sum(p.numel() for p in fitted.model.parameters())
    head = fitted.coding_head()
    dist = head.predict(fitted.model, x)
    encoder = Encoder()
    encoder.encode(y, dist)
    stream = encoder.finish()
    decoded = Decoder(stream.words).decode(dist)  # the receiver's model predicts the same
    data_bits = float(stream.coded_bits)
    return {
        "bits": 32.0 * n_params + data_bits,
        "parts": {"model (32 bits × parameters)": 32.0 * n_params, "data": data_bits},
        "parameters": n_params,
        "decoded": bool(np.array_equal(decoded, y)),
    }


def _row(result: OnlineCode, accuracy: float) -> dict[str, Any]:
    return {
        "bits": result.length.total,
        "coded_bits": result.coded_bits,
        "block_bits": result.block_bits,
        "test_accuracy": accuracy,
    }


def run_online_codes(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    learners: Sequence[TorchLearner],
    boundaries: Sequence[int],
    *,
    main: int = -1,
    test: Split | None = None,
    cache: str | Path | None = None,
    decode: bool = True,
    on_block: Callable[[int, int, int, float], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Rows ``switching``, ``prequential`` (learner ``main``'s own code) and ``two-part
    float32`` (its last model), each with bits, test accuracy on ``test``, seconds and whether
    it was decoded back; ``learner j`` rows give every learner's own length (not decoded)."""
    if not learners:
        raise MdlkitError("the online codes need at least one learner")
    main = main % len(learners)
    coders = (
        [CachedLearner(lr, Path(cache) / f"learner-{j}") for j, lr in enumerate(learners)]
        if cache is not None
        else list(learners)
    )
    symbols = y.numpy()
    start = time.perf_counter()
    mixed = switching_code(x, y, n_classes, coders, boundaries, on_block=on_block)
    encode_seconds = time.perf_counter() - start
    rows: dict[str, dict[str, Any]] = {}
    accuracy = [_accuracy(f, test) for f in mixed.fitted]  # each last model, scored once
    own = [mixed.learner_result(j) if len(learners) > 1 else mixed for j in range(len(learners))]
    if len(learners) > 1:
        rows["switching"] = _row(mixed, accuracy[main])
        rows["switching"]["final_weights"] = mixed.weights[-1].tolist()
    rows["prequential"] = _row(own[main], accuracy[main])
    for j, result in enumerate(own):
        rows[f"learner {j}"] = _row(result, accuracy[j])
        rows[f"learner {j}"]["model"] = learners[j].spec.to_dict()
    for name in rows:
        rows[name]["seconds"] = encode_seconds
        rows[name]["decoded"] = False
    if decode:  # the receiver's work: every learner retrained on the decoded labels
        t = time.perf_counter()
        alone = own[main].encoded
        assert mixed.encoded is not None and alone is not None
        streams = {main: alone} if len(learners) > 1 else {}
        # The receiver keeps its own cache (models it trained on decoded labels, in folders
        # the sender never writes), so a killed decode resumes too.
        receivers = (
            [CachedLearner(lr, Path(cache) / f"receiver-{j}") for j, lr in enumerate(learners)]
            if cache is not None
            else list(learners)
        )
        back = decode_online(
            mixed.encoded, x, n_classes, receivers, boundaries, learner_streams=streams
        )
        if not np.array_equal(back, symbols):
            raise RuntimeError("decoded labels differ from the originals (a bug)")
        for name in ("switching", "prequential"):
            if name in rows:
                rows[name]["decoded"] = True
                rows[name]["decode_seconds"] = time.perf_counter() - t
    final = mixed.fitted[main]
    if final is not None:
        t = time.perf_counter()
        rows["two-part float32"] = float32_two_part(final, x, symbols)
        rows["two-part float32"]["test_accuracy"] = accuracy[main]
        rows["two-part float32"]["seconds"] = encode_seconds + time.perf_counter() - t
    return rows
