"""One run of the online codes over several learners: the switching code, each learner's own
prequential code, both decoded back, and the float32 two-part code of the last block's model.

The switching pass trains every learner once per block (resumably, through
:class:`~mdlkit.codes.block_cache.CachedLearner` when a cache folder is given) and writes the
mixture's stream and each learner's own stream at the same time. The receiver's work is then
repeated for real: the switching stream is decoded by retraining every learner from scratch on
the decoded labels, and the chosen learner's own prequential stream is decoded in the same pass
with the same models (:func:`~mdlkit.codes.online.decode_online`'s ``learner_streams``). A row
says ``decoded: true`` only when that decoding gave back every label.

The receiver's training is the other half of the time. :func:`train_receivers_ahead`, run in a
second process while the sender codes, trains the receiver's models into the receiver's cache
from the labels the receiver is about to decode; the decoding pass waits for it (a lock file),
then finds each block's model under the key of the labels it decoded (the key holds them, see
:class:`~mdlkit.codes.block_cache.CachedLearner`): a decoded label that differed would miss the
cache and train anew. The models are the receiver's own — trained from scratch in another
process, never read from the sender — so the check is the same, in about half the wall time on
two cores.

The float32 two-part row sends the last block's model as 32 bits per parameter and then every
label under it (a range-coded stream, decoded back with the same model):

    L = 32 · #params + Σ_i −log2 p_θ(y_i | x_i)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mdlkit.codes.block_cache import CachedLearner
from mdlkit.codes.learners import Fitted, TorchLearner
from mdlkit.codes.online import OnlineCode, decode_online, switching_code
from mdlkit.codes.schedules import check_schedule
from mdlkit.coding.streams import Decoder, Encoder
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.files import exclusive_lock
from mdlkit.heads import evaluate

__all__ = ["float32_two_part", "run_online_codes", "train_receivers_ahead"]


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


def _receivers(learners: Sequence[TorchLearner], cache: str | Path) -> list[CachedLearner]:
    return [CachedLearner(lr, Path(cache) / f"receiver-{j}") for j, lr in enumerate(learners)]


@contextmanager
def _receivers_lock(cache: str | Path | None) -> Iterator[None]:
    if cache is None:
        yield
        return
    Path(cache).mkdir(parents=True, exist_ok=True)
    with exclusive_lock(Path(cache) / "receivers.lock"):
        yield


def train_receivers_ahead(
    x: torch.Tensor,
    y: torch.Tensor,
    learners: Sequence[TorchLearner],
    boundaries: Sequence[int],
    cache: str | Path,
) -> dict[str, int]:
    """Train the receiver's model of every block and learner into ``cache`` (the folder
    :func:`run_online_codes` is given), holding the lock its decoding pass waits for; returns
    how many models were trained and how many were found already. Call it in another process
    at the same time as :func:`run_online_codes` (the order does not matter: whichever takes
    the lock second finds the other's models), with the same torch thread count (a model
    stored with another count is not used: the decoder trains its own)."""
    if y.dtype != torch.int64 or y.ndim != 1 or len(y) != len(x):
        raise MdlkitError("train_receivers_ahead takes one int64 class label per input")
    receivers = _receivers(learners, cache)
    with _receivers_lock(cache):
        fitted: list[Fitted | None] = [None] * len(learners)
        for k, start in enumerate(check_schedule(boundaries, len(x))[:-1]):
            if k > 0:  # block 0 is coded uniformly: no model
                seen_x, seen_y = x[:start], y[:start]  # as decode_online's pass has them
                fitted = [r.fit(seen_x, seen_y, fitted[j], k) for j, r in enumerate(receivers)]
    return {
        "trained": sum(r.trained for r in receivers),
        "loaded": sum(r.loaded for r in receivers),
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
        cached = _receivers(learners, cache) if cache is not None else None
        receivers = cached if cached is not None else list(learners)
        with _receivers_lock(cache):  # waits while train_receivers_ahead runs
            back = decode_online(
                mixed.encoded, x, n_classes, receivers, boundaries, learner_streams=streams
            )
        if not np.array_equal(back, symbols):
            raise RuntimeError("decoded labels differ from the originals (a bug)")
        for name in ("switching", "prequential"):
            if name in rows:
                rows[name]["decoded"] = True
                rows[name]["decode_seconds"] = time.perf_counter() - t
                # 0 when every model was trained ahead (train_receivers_ahead) or before a kill
                rows[name]["decode_models_trained"] = (
                    sum(r.trained for r in cached)
                    if cached is not None
                    else (len(boundaries) - 2) * len(learners)
                )
    final = mixed.fitted[main]
    if final is not None:
        t = time.perf_counter()
        rows["two-part float32"] = float32_two_part(final, x, symbols)
        rows["two-part float32"]["test_accuracy"] = accuracy[main]
        rows["two-part float32"]["seconds"] = encode_seconds + time.perf_counter() - t
    return rows
