"""Learners: how an online code trains a model on the data seen so far.

A learner's ``fit(x, y, previous, block)`` returns a :class:`Fitted` model trained only on the
given (already transmitted) samples. It must be deterministic: the decoder calls it again on the
decoded targets and must get bit-identical predictions. Early stopping and calibration look only
at a held-out part of the SEEN data, never at the block about to be coded.
"""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing import resource_sharer
from typing import Literal, Protocol

import numpy as np
import torch
import torch.multiprocessing
from scipy.optimize import minimize_scalar
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, GaussianHead, Head, TemperatureMixtureHead, outputs
from mdlkit.models.ensemble import ProbabilityAverage
from mdlkit.models.spec import ModelSpec
from mdlkit.training.augment import ShiftedBatches, check_augmentation
from mdlkit.training.loop import TrainConfig, train

__all__ = [
    "TEMPERATURE_GRID",
    "Fitted",
    "Learner",
    "TorchLearner",
    "fit_temperature",
    "temperature_posterior",
]


@dataclass
class Fitted:
    """A trained model, the held-out seen samples (for calibration), and how its outputs become
    a distribution: ``head`` if given, else a categorical head at ``temperature``."""

    model: nn.Module
    x_holdout: torch.Tensor
    y_holdout: torch.Tensor
    temperature: float = 1.0
    head: Head | None = None

    def coding_head(self) -> Head:
        return self.head if self.head is not None else CategoricalHead(self.temperature)


class Learner(Protocol):
    """Anything that trains a model on seen samples; see the module docstring."""

    def fit(
        self, x: torch.Tensor, y: torch.Tensor, previous: Fitted | None, block: int
    ) -> Fitted: ...


def fit_temperature(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The T in [0.05, 20] minimising the NLL of softmax(logits / T) on (x, y), in float64."""
    if len(x) == 0:
        return 1.0
    logits = outputs(model, x).to(torch.float64)

    def nll(log_t: float) -> float:
        return float(CategoricalHead(float(np.exp(log_t)))(logits, y))

    result = minimize_scalar(
        nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.exp(result.x))


TEMPERATURE_GRID = tuple(2.0 ** (k / 4) for k in range(-8, 17))
"""Temperatures a calibrated learner mixes: 2^(k/4), 0.25 … 16 (25 values, a uniform prior)."""


def temperature_posterior(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> TemperatureMixtureHead:
    """The posterior over :data:`TEMPERATURE_GRID` given held-out samples (x, y), as a head.

    w_j ∝ Π_i softmax(f(x_i) / T_j)_{y_i} under a uniform prior, in float64. With many samples
    it is the best single T; with few it stays spread, so eight held-out samples that happen to
    be all right cannot make the code bet on T = 0.25 (a point estimate did exactly that, and a
    block of MNIST cost 16 bits a label). No samples: T = 1.
    """
    if len(x) == 0:
        return TemperatureMixtureHead([1.0], [1.0])
    logits = outputs(model, x).to(torch.float64)
    log_lik = np.array([-float(CategoricalHead(t)(logits, y)) * len(x) for t in TEMPERATURE_GRID])
    weights = np.exp(log_lik - log_lik.max())
    return TemperatureMixtureHead(TEMPERATURE_GRID, weights)


@contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels while training off the CPU (CPU training is deterministic)."""
    if device.type == "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


_MEMBER_SEED = 7919  # a prime far from the block offsets, so members never share a seed


@dataclass(frozen=True)
class TorchLearner:
    """Train a :class:`ModelSpec` network with :func:`mdlkit.training.train` on the seen data.

    Args:
        spec: the network.
        config: training settings; early stopping watches the last ``holdout`` fraction of the
            seen samples (at least one sample), trained on the rest.
        mode: ``"scratch"`` re-initialises every block (the classic prequential code);
            ``"continue"`` starts from the previous block's weights and trains on all seen data
            (replay), which usually gives shorter codes.
        calibrate: code with the posterior mixture over softmax temperatures given the held-out
            seen samples (:func:`temperature_posterior`; classification).
        seed: model initialisation and shuffling seed (block k uses seed + k).
        shift: train on images moved by random shifts of up to this many pixels
            (:class:`~mdlkit.training.augment.ShiftedBatches`; 0: no augmentation).
        rotate, scale: with ``shift``, also rotate each training image by up to this many
            degrees and scale it by up to this many percent (0: neither).
        epsilon: for real-valued targets, the precision they are coded at; the learner trains a
            :class:`~mdlkit.heads.GaussianHead` whose learned σ is the σ the block is coded with.
        device: where each block's model trains (its predictions for coding are made on the
            CPU). The decoder retrains every model and must get the same weights bit for bit:
            on a GPU that needs deterministic kernels, which training then requests
            (``torch.use_deterministic_algorithms``), and the decoder must train on the same
            kind of device with the same torch — the CPU is the portable choice. On the CPU
            too, float sums depend on torch's thread count (a 32-channel CNN trained with 1, 2
            or 3 threads ends with three different weight sets): the decoder must train with
            the encoder's ``torch.get_num_threads()``, which run folders record and restore.
        members: train this many networks per block (member j at seed + block + 7919·j, each
            continuing from its own previous weights) and code with the average of their class
            probabilities (:class:`~mdlkit.models.ProbabilityAverage`); costs members × the
            training, shortens the code (classification only).
        anneal: after training stops, train again this many times, each phase at a tenth of
            the previous phase's learning rate with the same stopping rule (the best weights on
            the held-out part kept, shuffling seed + phase). On MNIST one phase shortened the
            blocks after 2,560 labels by about a tenth, at about 1.5 × the training time, and
            lengthened those of 320–1,280 labels by 5–10 %.
        anneal_from: anneal only when at least this many samples have been seen.
        threads: torch threads each network trains with (None: the caller's
            ``torch.get_num_threads()`` at each fit). The weights depend on it, so a decoder
            needs the encoder's value.
        workers: processes that train the ``members`` at once (spawned once, kept for the
            program's life; the seen data reaches them through shared memory, not copies).
            Each sets ``threads`` before training, so the weights are bit-identical whatever
            ``workers`` is; it is left out of :class:`~mdlkit.codes.CachedLearner`'s key. A
            script using it needs the ``if __name__ == "__main__":`` guard (spawned processes
            import the main module).
    """

    spec: ModelSpec
    config: TrainConfig
    mode: Literal["scratch", "continue"] = "scratch"
    calibrate: bool = False
    holdout: float = 0.1
    seed: int = 0
    shift: int = 0
    rotate: int = 0
    scale: int = 0
    epsilon: float = 1e-3
    device: str = "cpu"
    members: int = 1
    anneal: int = 0
    anneal_from: int = 0
    threads: int | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ("scratch", "continue"):
            raise MdlkitError(f"learner mode must be scratch or continue, got {self.mode!r}")
        if not 0 < self.holdout < 1:
            raise MdlkitError("the held-out fraction must lie in (0, 1)")
        if self.members < 1:
            raise MdlkitError(f"an ensemble needs members >= 1, got {self.members}")
        check_augmentation(self.shift, self.rotate, self.scale)
        if self.anneal < 0 or self.anneal_from < 0:
            raise MdlkitError(
                f"anneal counts learning-rate phases from anneal_from samples on: give both "
                f">= 0, got {self.anneal} and {self.anneal_from}"
            )
        if self.threads is not None and self.threads < 1:
            raise MdlkitError(f"each member trains with threads >= 1, got {self.threads}")
        if self.workers < 1:
            raise MdlkitError(f"members train in workers >= 1 processes, got {self.workers}")

    def build(self) -> nn.Module:
        """A fresh (untrained) model of this learner: the network, or its ensemble."""
        if self.members == 1:
            return self.spec.build()
        return ProbabilityAverage([self.spec.build() for _ in range(self.members)])

    def fit(self, x: torch.Tensor, y: torch.Tensor, previous: Fitted | None, block: int) -> Fitted:
        n_hold = max(1, int(self.holdout * len(x))) if len(x) >= 2 else 0
        if n_hold:
            train_split = Split(x[:-n_hold], y[:-n_hold])
            hold_split = Split(x[-n_hold:], y[-n_hold:])
        else:  # a single sample: train and watch the same one
            train_split = hold_split = Split(x, y)
        classes = y.dtype == torch.int64
        if self.members > 1 and not classes:
            raise MdlkitError("an ensemble of members averages class probabilities: use members=1")
        before = previous.model if self.mode == "continue" and previous is not None else None
        # member j continues from its own previous weights; member 0 is the single network's run
        starts = [
            (before.members[j] if isinstance(before, ProbabilityAverage) else before)
            for j in range(self.members)
        ]
        states = [m.state_dict() if m is not None else None for m in starts]
        seeds = [self.seed + block + _MEMBER_SEED * j for j in range(self.members)]
        threads = self.threads if self.threads is not None else torch.get_num_threads()
        if self.workers > 1 and self.members > 1:
            trained = self._train_in_workers(train_split, hold_split, states, seeds, threads)
        else:
            with torch_threads(threads):
                trained = [
                    self._train_one(train_split, hold_split, state, seed, classes)
                    for state, seed in zip(states, seeds, strict=True)
                ]
        models = [m for m, _ in trained]
        head = trained[0][1]
        model: nn.Module = models[0] if self.members == 1 else ProbabilityAverage(models)
        if isinstance(head, GaussianHead):
            return Fitted(model, hold_split.x, hold_split.y, head=head.with_sigma(head.sigma))
        if not self.calibrate:
            return Fitted(model, hold_split.x, hold_split.y)
        mixture = temperature_posterior(model, hold_split.x, hold_split.y)
        return Fitted(model, hold_split.x, hold_split.y, mixture.temperature, mixture)

    def _train_one(
        self,
        train_split: Split,
        hold_split: Split,
        start: dict[str, torch.Tensor] | None,
        seed: int,
        classes: bool,
    ) -> tuple[nn.Module, Head]:
        """One network trained from the weights ``start`` (or a fresh init at ``seed``), and
        the head it trained with (a Gaussian head learns σ)."""
        torch.manual_seed(seed)
        model = self.spec.build()
        if start is not None:
            model.load_state_dict(start)
        head: Head = CategoricalHead() if classes else GaussianHead(epsilon=self.epsilon)
        seen = len(train_split) + (len(hold_split) if hold_split is not train_split else 0)
        phases = self.anneal if seen >= self.anneal_from else 0
        for phase in range(phases + 1):
            # phase p: lr / 10^p, its own shuffling; each phase restores its best weights
            config = replace(self.config, seed=seed + phase, lr=self.config.lr * 0.1**phase)
            batches = (
                ShiftedBatches(config.batch_size, config.seed, self.shift, self.rotate, self.scale)
                if self.shift
                else None
            )
            with _deterministic(torch.device(self.device)):
                train(
                    model,
                    train_split,
                    hold_split,
                    config,
                    loss_fn=head,
                    device=self.device,
                    batches=batches,
                )
        return model, head

    def _train_in_workers(
        self,
        train_split: Split,
        hold_split: Split,
        states: list[dict[str, torch.Tensor] | None],
        seeds: list[int],
        threads: int,
    ) -> list[tuple[nn.Module, Head]]:
        """The members (classification) trained in :func:`_member_pool`'s processes, rebuilt
        here from their weights. Pickling a tensor for a worker moves its storage to shared
        memory once (in place), so the seen data is not copied per member or per block."""
        workers = min(self.workers, self.members)
        jobs = [
            (self, train_split, hold_split, state, seed, threads)
            for state, seed in zip(states, seeds, strict=True)
        ]
        try:
            weights = list(_member_pool(workers).map(_train_member, jobs))
        except BrokenProcessPool:
            _POOLS.pop(workers, None)  # a worker died: the next fit starts a new pool
            raise
        models = []
        for state in weights:
            model = self.spec.build()
            model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            models.append(model)
        return [(m, CategoricalHead()) for m in models]


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _member_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, started at first use (2–4 s: each imports torch)
    and kept for the program's life, so an online code pays the start once, not per block."""
    if workers not in _POOLS:
        context = torch.multiprocessing.get_context("spawn")
        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=context)
    return _POOLS[workers]


@atexit.register
def close_member_pools() -> None:
    """End the processes that train ensemble members (done at exit too): frees their memory
    (about 0.6 GB each) and the pool's manager thread, whose presence makes later worker pools,
    e.g. :mod:`mdlkit.compression.blocks`', spawn instead of fork."""
    if not _POOLS:
        return
    for pool in _POOLS.values():
        pool.shutdown(cancel_futures=True)
    _POOLS.clear()
    # the thread that handed shared tensors' file descriptors to the workers
    resource_sharer.stop()


def _train_member(
    job: tuple[TorchLearner, Split, Split, dict[str, torch.Tensor] | None, int, int],
) -> dict[str, np.ndarray]:
    """In a worker: one member trained with ``threads`` torch threads (as the in-process path
    does), its weights sent back as arrays (plain bytes, no shared-memory handles to outlive)."""
    learner, train_split, hold_split, start, seed, threads = job
    torch.set_num_threads(threads)
    model, _ = learner._train_one(train_split, hold_split, start, seed, classes=True)
    return {k: v.numpy() for k, v in model.state_dict().items()}
