"""Heads: how a model's outputs become a distribution — for training, reporting and coding.

A head is the one place that knows what the network's outputs mean:

- ``head(output, target)`` is the training loss, mean nats per sample (it is an ``nn.Module``:
  a learned σ is its parameter and is trained with the model);
- ``head.data_loss(output, target)`` is the positive data loss that tolerances are relative to
  (cross-entropy; ½·MSE for regression);
- ``head.predict(model, x)`` gives the coding distribution (:mod:`mdlkit.coding.distributions`):
  eval mode, fixed chunks of :data:`EVAL_CHUNK` rows, float32 outputs turned into float64 before
  any nonlinearity — the rule that makes encoder and decoder bit-identical;
- ``head.bits(model, x, y)`` is −log2 p(y_i | x_i) per sample;
- ``head.symbols(y)`` is what a stream codes (class indices, or bins k of y at precision ε).

:class:`CategoricalHead` (softmax with an optional temperature T) and :class:`GaussianHead`
(N(f(x), σ²) discretized at ε; σ learned or given) are the two kinds; :func:`head_for` picks
one for a split. :func:`evaluate` scores a model with a head.

>>> head = CategoricalHead()
>>> model = torch.nn.Linear(3, 4)
>>> with torch.no_grad():
...     _ = model.weight.zero_(), model.bias.zero_()
>>> head.bits(model, torch.zeros(2, 3), torch.tensor([0, 3])).tolist()
[2.0, 2.0]
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.bits import LN2, CodeLength
from mdlkit.coding.distributions import Categorical, DiscretizedGaussian, bins
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError

__all__ = [
    "EVAL_CHUNK",
    "CategoricalHead",
    "Evaluation",
    "GaussianHead",
    "Head",
    "TemperatureMixtureHead",
    "evaluate",
    "head_for",
    "outputs",
]

# A fixed chunk size keeps every evaluation bit-reproducible (batch shapes change float sums).
EVAL_CHUNK = 1024
_BITS_ROWS = 64  # rows turned into float64 probabilities at once by Head.bits


@torch.no_grad()
def outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs on ``x`` in eval mode (restored afterwards), in fixed-size chunks."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[s : s + EVAL_CHUNK]) for s in range(0, len(x), EVAL_CHUNK)])
    finally:
        model.train(was_training)


class Head(nn.Module, ABC):
    """Model outputs → a distribution (see the module docstring)."""

    is_classification: bool

    @abstractmethod
    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss: mean over samples, in nats."""

    @abstractmethod
    def data_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The positive mean data loss in nats that tolerances are relative to."""

    @abstractmethod
    def distribution(self, output: torch.Tensor) -> Categorical | DiscretizedGaussian:
        """The coding distribution of float64 ``output`` rows."""

    @abstractmethod
    def symbols(self, target: torch.Tensor | np.ndarray) -> np.ndarray:
        """What a stream codes for ``target`` (int64)."""

    def n_correct(self, output: torch.Tensor, target: torch.Tensor) -> int | None:
        """How many predictions are right (None where accuracy means nothing)."""
        return None

    def checkpoint_key(self) -> str:
        """What a training checkpoint must have been written with besides the config ("" for a
        plain head; a distillation loss names its teacher)."""
        return ""

    def predict(self, model: nn.Module, x: torch.Tensor) -> Categorical | DiscretizedGaussian:
        """The coding distribution of p(y | x): eval mode, fixed chunks, float64."""
        return self.distribution(outputs(model, x).to(torch.float64))

    def bits(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | np.ndarray) -> np.ndarray:
        """−log2 p(y_i | x_i) per coded symbol (float64), in the order of :meth:`symbols`.

        The outputs come from :func:`outputs` (its fixed chunks, so the same numbers as one
        :meth:`predict`), one chunk at a time, and go to float64 ``_BITS_ROWS`` rows at a time:
        a byte model's float64 probabilities of every window at once would take hundreds of MB.
        """
        symbols = self.symbols(y)
        if len(x) == 0:
            return self.predict(model, x).ideal_bits(symbols)
        per_row = len(symbols) // len(x)
        if per_row * len(x) != len(symbols):
            raise MdlkitError(
                f"{len(symbols)} targets do not divide evenly over {len(x)} inputs; "
                "give one target row per input"
            )
        parts = []
        for s in range(0, len(x), EVAL_CHUNK):
            out = outputs(model, x[s : s + EVAL_CHUNK])
            for r in range(0, len(out), _BITS_ROWS):
                first = (s + r) * per_row
                rows = out[r : r + _BITS_ROWS].to(torch.float64)
                parts.append(self.distribution(rows).ideal_bits(
                    symbols[first : first + len(rows) * per_row]
                ))  # fmt: skip
        return np.concatenate(parts)


class CategoricalHead(Head):
    """Softmax over K classes, p = softmax(logits / T); T = 1 unless calibrated.

    Logits are (N, K) for N targets (N,), or (N, T, K) for a next-token model's targets (N, T):
    every position is one categorical, the loss is the mean over all N·T positions (nats per
    token), and distributions and symbols run over positions in row-major (sample, position)
    order.

    Args:
        temperature: T > 0; it divides the logits in training and in coding alike.
    """

    is_classification = True

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise MdlkitError(f"the softmax temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.temperature != 1.0:
            output = output / self.temperature
        return F.cross_entropy(*_positions(output, target))

    def data_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.forward(output, target)

    def distribution(self, output: torch.Tensor) -> Categorical:
        logits = output.to(torch.float64)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return Categorical(torch.softmax(logits.reshape(-1, logits.shape[-1]), dim=1).numpy())

    def symbols(self, target: torch.Tensor | np.ndarray) -> np.ndarray:
        return np.asarray(target, dtype=np.int64).ravel()

    def n_correct(self, output: torch.Tensor, target: torch.Tensor) -> int:
        logits, labels = _positions(output, target)
        return int((logits.argmax(dim=1) == labels).sum())

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


class TemperatureMixtureHead(CategoricalHead):
    """A mixture of tempered softmaxes: p(y | x) = Σ_j w_j softmax(logits / T_j)_y.

    The coding head of a calibrated online learner: the weights w_j are a posterior over the
    temperatures T_j given held-out samples, so a handful of samples cannot push the code to a
    single over-sharp T (a mixture pays at most −log2 w_j over its component j). Computed in
    float64; the loss is −ln p(y | x), mean nats per sample.

    >>> logits = torch.tensor([[0.0, math.log(3.0)]])
    >>> TemperatureMixtureHead([1.0, 2.0], [1.0, 0.0]).distribution(logits).probs.round(6)
    array([[0.25, 0.75]])
    >>> TemperatureMixtureHead([1.0, 1e9], [0.5, 0.5]).distribution(logits).probs.round(6)
    array([[0.375, 0.625]])
    """

    def __init__(self, temperatures: Sequence[float], weights: Sequence[float]) -> None:
        super().__init__()
        t, w = np.asarray(temperatures, dtype=np.float64), np.asarray(weights, dtype=np.float64)
        if t.ndim != 1 or t.shape != w.shape or not len(t) or (t <= 0).any() or (w < 0).any():
            raise MdlkitError("a temperature mixture needs positive temperatures and weights ≥ 0")
        if not w.sum() > 0:
            raise MdlkitError("a temperature mixture needs some weight > 0")
        keep = w > 0
        self.temperatures, self.weights = t[keep], w[keep] / w[keep].sum()
        self.temperature = float(self.temperatures[np.argmax(self.weights)])

    def _probs(self, output: torch.Tensor) -> torch.Tensor:
        logits = output.to(torch.float64).reshape(-1, output.shape[-1])
        mixed = torch.zeros_like(logits)
        for t, w in zip(self.temperatures.tolist(), self.weights.tolist(), strict=True):
            mixed += w * torch.softmax(logits / t, dim=1)
        return mixed

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, labels = _positions(output, target)
        return -torch.log(self._probs(logits)[torch.arange(len(labels)), labels]).mean()

    def distribution(self, output: torch.Tensor) -> Categorical:
        return Categorical(self._probs(output).numpy())

    def extra_repr(self) -> str:
        return f"temperatures={self.temperatures.tolist()}, weights={self.weights.tolist()}"


def _positions(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (…, K) and targets (…) as (M, K) and (M,): one row per categorical."""
    if output.dim() < 2 or output.shape[:-1] != target.shape:
        raise MdlkitError(
            f"a categorical head needs logits of shape (…, classes) and targets of shape (…), "
            f"got {list(output.shape)} and {list(target.shape)}"
        )
    return output.reshape(-1, output.shape[-1]), target.reshape(-1)


class GaussianHead(Head):
    """Regression targets coded with N(f_θ(x), σ²) discretized at the precision ε of the data.

    Bits per sample (one output), for ε ≪ σ:

        (y − f)² / (2σ² ln 2) + ½ log2(2π σ²) − log2 ε

    σ = exp(log σ) is a trainable parameter (or a fixed buffer). The training loss is the
    σ-dependent part in nats, Σ_outputs (y − f)²/(2σ²) + ln σ; with a fixed σ it is MSE up to
    constants. Coding uses the exact bin masses (:class:`DiscretizedGaussian`).

    Args:
        sigma_init: σ > 0 at the start (in the units of y).
        epsilon: the data precision ε > 0 (in the units of y).
        learn_sigma: make σ trainable (else fixed).

    >>> head = GaussianHead(sigma_init=1.0, epsilon=1.0, learn_sigma=False)
    >>> y = torch.zeros(4, 1)
    >>> round(head.codelength(y, y).total / 4, 6)  # ½ log2(2π) per sample at the mean
    1.325748
    """

    is_classification = False

    def __init__(
        self, sigma_init: float = 0.1, epsilon: float = 1e-3, learn_sigma: bool = True
    ) -> None:
        super().__init__()
        if not sigma_init > 0 or not epsilon > 0:
            raise MdlkitError(f"σ init and ε must be > 0, got σ={sigma_init}, ε={epsilon}")
        log_sigma = torch.tensor(math.log(sigma_init), dtype=torch.float32)
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)
        # A given σ is coded exactly as given (exp(log σ) in float32 would round it again).
        self._given_sigma = None if learn_sigma else float(sigma_init)
        self.epsilon = float(epsilon)

    @property
    def sigma(self) -> float:
        """The current σ as a Python float (exactly ``sigma_init`` when σ is not learned)."""
        if self._given_sigma is not None:
            return self._given_sigma
        return float(torch.exp(self.log_sigma.detach()))

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.shape != target.shape:  # broadcasting would silently give a wrong loss
            raise MdlkitError(
                f"the model gives outputs of shape {list(output.shape[1:])} per sample, the "
                f"targets have {list(target.shape[1:])}; build the model for the targets"
            )
        sigma2 = torch.exp(2 * self.log_sigma)
        per_sample = ((target - output).square() / (2 * sigma2) + self.log_sigma).sum(dim=1)
        return per_sample.mean()

    def data_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * F.mse_loss(output, target)

    def distribution(self, output: torch.Tensor) -> DiscretizedGaussian:
        return DiscretizedGaussian(
            output.to(torch.float64).numpy().ravel(), self.sigma, self.epsilon
        )

    def symbols(self, target: torch.Tensor | np.ndarray) -> np.ndarray:
        return bins(np.asarray(target, dtype=np.float64), self.epsilon)

    def predict(self, model: nn.Module, x: torch.Tensor) -> DiscretizedGaussian:
        return self.distribution(outputs(model, x).to(torch.float64))

    def refit_sigma(self, model: nn.Module, split: Split) -> float:
        """The σ that minimises the Gaussian data length of ``split`` under ``model``: the RMS
        residual √(mean (y − f(x))²) over all targets, floored at ε, in float64 from the
        outputs :meth:`predict` gives (eval mode, fixed chunks). Not yet rounded to float32:
        :meth:`with_sigma` does that.

        >>> model = torch.nn.Linear(1, 1)
        >>> with torch.no_grad():
        ...     _ = model.weight.zero_(), model.bias.zero_()
        >>> split = Split(torch.zeros(4, 1), torch.tensor([[2.0], [-2.0], [2.0], [-2.0]]))
        >>> GaussianHead().refit_sigma(model, split)  # f = 0, |y| = 2
        2.0
        """
        y = np.asarray(split.y, dtype=np.float64).ravel()
        residual = y - self.predict(model, split.x).means
        return max(float(np.sqrt(np.mean(residual**2))), self.epsilon)

    def with_sigma(self, sigma: float) -> GaussianHead:
        """A fixed-σ copy (σ rounded to float32, the precision it is sent at)."""
        return GaussianHead(float(np.float32(sigma)), self.epsilon, learn_sigma=False)

    @torch.no_grad()
    def codelength(self, output: torch.Tensor, target: torch.Tensor) -> CodeLength:
        """The continuous-formula length of ``target`` in bits, split into its two terms."""
        sigma = torch.tensor(self.sigma, dtype=torch.float64)
        residual = (target.double() - output.double()).square().sum()
        per_sample = 0.5 * math.log2(2 * math.pi * float(sigma) ** 2) - math.log2(self.epsilon)
        if per_sample < 0:
            raise MdlkitError(
                f"ε = {self.epsilon} is coarser than σ = {float(sigma):.3g}: the continuous "
                "formula fails there; use a finer ε or the discretized length"
            )
        return CodeLength(
            {
                "residual": float(residual / (2 * sigma**2 * LN2)),
                "normalizer": target.numel() * per_sample,
            },
            name="gaussian",
        )

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:.4g}, epsilon={self.epsilon}"


def head_for(split: Split, *, epsilon: float = 1e-3, learn_sigma: bool = False) -> Head:
    """The head a split's targets call for: class indices (int64) → categorical; real-valued
    targets → Gaussian at precision ε, with σ = 1 given (its training loss is ½·Σ(y − f)² per
    sample, the classic squared error) or, with ``learn_sigma``, σ learned from 0.1 (the head
    the pipeline trains and codes with). The one place the task is decided."""
    if split.y.dtype == torch.int64:
        return CategoricalHead()
    if learn_sigma:
        return GaussianHead(sigma_init=0.1, epsilon=epsilon, learn_sigma=True)
    return GaussianHead(sigma_init=1.0, epsilon=epsilon, learn_sigma=False)


@dataclass(frozen=True)
class Evaluation:
    """Mean per-sample loss in nats, and accuracy in [0, 1] (NaN for regression)."""

    loss: float
    accuracy: float


@torch.no_grad()
def evaluate(
    model: nn.Module, split: Split, head: Head | None = None, *, objective: bool = False
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``split`` (eval mode, fixed chunks).

    For windows of a sequence (targets (n, T)) the loss is the mean per token, as every window
    holds the same number T of them, and the accuracy is per token.

    The loss is the head's data loss, or with ``objective=True`` its training loss (which may be
    negative for a Gaussian head). ``head`` defaults to :func:`head_for` the split.
    """
    head = head if head is not None else head_for(split)
    was_training = model.training
    model.eval()
    try:
        total_loss, correct, n = 0.0, 0, len(split)
        loss_of = head.forward if objective else head.data_loss
        device = next(model.parameters(), split.x).device  # a model trained on a GPU
        for start in range(0, n, EVAL_CHUNK):
            x, y = split.x[start : start + EVAL_CHUNK], split.y[start : start + EVAL_CHUNK]
            x, y = x.to(device), y.to(device)
            out = model(x)
            total_loss += float(loss_of(out, y)) * len(x)
            correct += head.n_correct(out, y) or 0
    finally:
        model.train(was_training)
    # A next-token split has several targets per sample: accuracy is per target.
    accuracy = correct / split.y.numel() if head.is_classification else float("nan")
    return Evaluation(total_loss / n, accuracy)
