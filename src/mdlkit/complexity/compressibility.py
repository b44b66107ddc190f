"""Compressibility of a trained model: how far one knob goes before the loss rises by ε.

At the trained weights w* the mean loss on ``data`` (the training samples) is L(w*), in nats per
sample. Given a tolerance ε > 0 (nats), a point w is *within tolerance* when

    L(w) ≤ L(w*) + ε,

an absolute budget in nats, the same for every measure (llc.md, "Compressibility,
operationally"). Each measure turns one knob as far as the budget allows:

- :func:`critical_quantization_bits`: the smallest n_q such that every parameter tensor on a
  symmetric uniform grid of n_q bits, its range optimized, is within tolerance;
- :func:`critical_rank_fraction`: the largest fraction f of every weight matrix's rank that a
  truncated SVD removes within tolerance;
- :func:`critical_pruning_fraction`: the largest fraction of parameters that global magnitude
  pruning (TAMADE, :func:`~mdlkit.pruning.tamade`) zeroes within tolerance;
- :func:`coded_bits_within`: the weight codec's size (:func:`~mdlkit.coding.weights.encode_model`)
  of a model at the codec's coarsest grid step within tolerance — the "codec only" baseline, and
  with a :class:`~mdlkit.models.ModelSpec` the size every measure reports at its point.

:func:`measure_compressibility` runs all of them once (not named after the module, whose name
it would shadow in the package). The caller's model is never changed.

>>> import torch
>>> from mdlkit.data import Split
>>> model = torch.nn.Linear(2, 1, bias=False)
>>> _ = model.weight.data.copy_(torch.tensor([[0.75, -0.25]]))  # on the 3-bit grid k·0.25
>>> x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
>>> data = Split(x, model(x).detach())  # L(w*) = 0; L(w) = ½‖w − w*‖² on this design
>>> point = critical_quantization_bits(model, data, 1e-6)
>>> point.bits, point.curve  # 1 bit: all zero; 2 bits {−m, 0, m}: at best 0.25 off
(3, ((1, 0.3125), (2, 0.03125), (3, 0.0)))
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from mdlkit.coding.architecture import shapes
from mdlkit.coding.weights import encode_model
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import EVAL_CHUNK, head_for
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.quantize import STEPS_PER_OCTAVE, grid_step, quantize_model
from mdlkit.pruning.search import LossAccuracy, Snapshot
from mdlkit.pruning.tamade import tamade

__all__ = [
    "RANGE_FRACTIONS",
    "CodedSize",
    "Compressibility",
    "PruningPoint",
    "QuantizationPoint",
    "RankPoint",
    "coded_bits_within",
    "critical_pruning_fraction",
    "critical_quantization_bits",
    "critical_rank_fraction",
    "measure_compressibility",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

RANGE_FRACTIONS: tuple[float, ...] = tuple(j / 16 for j in range(16, 0, -1))
"""The ranges the quantization search tries for a tensor: m = c · max|w| for c in 1, 15/16, …,
1/16. Below c = 1 the largest weights are clipped to ±m, which buys a finer step for the rest;
at few bits that is usually worth it, at many bits c = 1 wins."""

# Coordinate sweeps over the tensors in the range search: the second only corrects the first's
# choices for the tensors chosen before the later ones moved; more rarely change anything.
_RANGE_SWEEPS = 2
# The codec step search spans 24 octaves below max|θ|: float32 has 24 significand bits, so a
# finer grid changes no weight (as in mdlkit.pruning.quantize).
_STEP_OCTAVES = 24
# The most bits a grid may have: past float32's 24-bit significand a finer grid changes nothing.
_MAX_GRID_BITS = 32


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodedSize:
    """A model's size in the weight codec at the coarsest grid step Δ = 2^(e/4) within tolerance.

    ``bits`` is the description length ``encode_model(...).length.total`` (architecture, header
    and payload; the file's magic, version and CRC32 are not counted), ``parts`` its breakdown;
    ``loss`` is the mean loss (nats) of the model quantized at ``step``, which is what
    ``decode_model(data)`` rebuilds; ``nonzero`` counts its nonzero parameters. ``data`` is the
    weight file itself (not in :meth:`to_dict`).
    """

    bits: float
    parts: dict[str, float]
    step: float
    exponent: int
    loss: float
    nonzero: int
    data: bytes = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the weight file left out)."""
        return {
            "bits": self.bits,
            "parts": dict(self.parts),
            "step": self.step,
            "exponent": self.exponent,
            "loss": self.loss,
            "nonzero": self.nonzero,
        }


def _coded_dict(coded: CodedSize | None) -> dict[str, Any] | None:
    return None if coded is None else coded.to_dict()


@dataclass(frozen=True)
class QuantizationPoint:
    """The critical number of bits n_q and where it was found.

    Attributes:
        bits: the smallest n_q within tolerance.
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at the quantized point (nats), ≤ reference_loss + tolerance.
        ranges: parameter name → the range m (in the weights' units) chosen for it; 0 at n_q = 1.
        naive_bits: d · n_q, the grid indices of all d parameters at n_q bits each (the ranges,
            32 bits a tensor, not counted).
        curve: (n_q, loss at the best ranges) for every n_q tried, 1 to ``bits``.
        coded: the codec's size of the quantized point, or None without a spec (or when no
            codec step keeps it within tolerance).
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    bits: int
    reference_loss: float
    tolerance: float
    loss: float
    ranges: dict[str, float]
    naive_bits: int
    curve: tuple[tuple[int, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the weights left out); the curve as ``[[n_q, loss], …]``."""
        return {
            "bits": self.bits,
            "reference_loss": self.reference_loss,
            "tolerance": self.tolerance,
            "loss": self.loss,
            "ranges": dict(self.ranges),
            "naive_bits": self.naive_bits,
            "curve": [[b, loss] for b, loss in self.curve],
            "coded": _coded_dict(self.coded),
        }


@dataclass(frozen=True)
class RankPoint:
    """The critical fraction of rank removed and where it was found.

    Attributes:
        fraction: the largest f within tolerance; every matrix keeps ceil((1 − f) · R) of its
            full rank R = min(rows, columns).
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at that point (nats).
        full_ranks: matrix name → R.
        kept_ranks: matrix name → the rank kept at ``fraction``.
        curve: (f, loss) for every distinct kept-rank pattern, f ascending from 0 to 1.
        coded: the codec's size of the point (the factorized matrices multiplied out: the codec
            does not know the factors), or None without a spec.
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    fraction: float
    reference_loss: float
    tolerance: float
    loss: float
    full_ranks: dict[str, int]
    kept_ranks: dict[str, int]
    curve: tuple[tuple[float, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the weights left out); the curve as ``[[f, loss], …]``."""
        return {
            "fraction": self.fraction,
            "reference_loss": self.reference_loss,
            "tolerance": self.tolerance,
            "loss": self.loss,
            "full_ranks": dict(self.full_ranks),
            "kept_ranks": dict(self.kept_ranks),
            "curve": [[f, loss] for f, loss in self.curve],
            "coded": _coded_dict(self.coded),
        }


@dataclass(frozen=True)
class PruningPoint:
    """The critical pruned fraction and where it was found.

    Attributes:
        fraction: the fraction of all d parameters (weights and biases) that are zero at the
            point, zeros already in w* included.
        threshold: TAMADE's magnitude threshold t (every |θ| < t was zeroed).
        reference_loss: L(w*), nats per sample.
        tolerance: ε, nats.
        loss: L at the pruned point (nats).
        curve: (fraction zero, loss) of every threshold TAMADE tried, by fraction.
        coded: the codec's size of the pruned point, or None without a spec.
        weights: parameter name → its value at the point (not in :meth:`to_dict`).
    """

    fraction: float
    threshold: float
    reference_loss: float
    tolerance: float
    loss: float
    curve: tuple[tuple[float, float], ...]
    coded: CodedSize | None
    weights: dict[str, torch.Tensor] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the weights left out); the curve as ``[[fraction, loss], …]``."""
        return {
            "fraction": self.fraction,
            "threshold": self.threshold,
            "reference_loss": self.reference_loss,
            "tolerance": self.tolerance,
            "loss": self.loss,
            "curve": [[f, loss] for f, loss in self.curve],
            "coded": _coded_dict(self.coded),
        }


@dataclass(frozen=True)
class Compressibility:
    """The three measures at one tolerance, and the codec-only baseline (None without a spec)."""

    reference_loss: float
    tolerance: float
    quantization: QuantizationPoint
    rank: RankPoint
    pruning: PruningPoint
    codec: CodedSize | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return {
            "reference_loss": self.reference_loss,
            "tolerance": self.tolerance,
            "quantization": self.quantization.to_dict(),
            "rank": self.rank.to_dict(),
            "pruning": self.pruning.to_dict(),
            "codec": _coded_dict(self.codec),
        }


# --- the budget ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Budget:
    """What every measure compares against: L(w*) on the data, and L(w*) + ε."""

    model: nn.Module  # an eval-mode copy of the caller's model at w*
    data: Split
    loss_fn: LossFn
    reference: float
    tolerance: float
    spec: ModelSpec | None

    @property
    def limit(self) -> float:
        return self.reference + self.tolerance

    def loss(self, model: nn.Module) -> float:
        return _mean_loss(model, self.data, self.loss_fn)

    def within(self, loss: float) -> bool:
        return loss <= self.limit  # False for NaN: a broken point is never within tolerance

    def copy(self) -> nn.Module:
        return copy.deepcopy(self.model)


@torch.no_grad()
def _mean_loss(model: nn.Module, data: Split, loss_fn: LossFn) -> float:
    """L over all of ``data``, nats per sample, in fixed chunks (the same number every time)."""
    total = 0.0
    for start in range(0, len(data), EVAL_CHUNK):
        x, y = data.x[start : start + EVAL_CHUNK], data.y[start : start + EVAL_CHUNK]
        total += float(loss_fn(model(x), y)) * len(x)
    return total / len(data)


def _check_spec(model: nn.Module, spec: ModelSpec) -> None:
    # Checked before any search, so that a wrong spec does not fail only after all the work.
    if shapes(spec) != shapes(model):  # the spec built on the meta device: no memory, no RNG
        raise MdlkitError(
            f"the model's parameters do not have the shapes its spec {spec.kind} builds; "
            "pass the spec the model was built from"
        )


def _budget(
    model: nn.Module,
    data: Split,
    tolerance: float,
    loss_fn: LossFn | None,
    spec: ModelSpec | None,
) -> _Budget:
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
        raise MdlkitError(f"the tolerance ε must be a number of nats, got {tolerance!r}")
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise MdlkitError(
            f"the tolerance ε must be a finite number of nats > 0 (try 0.01, 0.05 or 0.1), "
            f"got {tolerance}"
        )
    if len(data) == 0:
        raise MdlkitError("the data split is empty; pass the samples the model was trained on")
    if not any(p.numel() for p in model.parameters()):
        raise MdlkitError("the model has no parameters to compress")
    if spec is not None:
        _check_spec(model, spec)
    work = copy.deepcopy(model).eval()  # eval mode: no dropout noise in any loss compared
    loss_fn = loss_fn if loss_fn is not None else head_for(data)
    reference = _mean_loss(work, data, loss_fn)
    if not math.isfinite(reference):
        raise MdlkitError(
            f"the loss at the trained weights w* is {reference}; fix the model or the data "
            "(or the loss function) before measuring compressibility"
        )
    return _Budget(work, data, loss_fn, reference, float(tolerance), spec)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# --- the codec -------------------------------------------------------------------------------


def _coded_size(model: nn.Module, budget: _Budget) -> CodedSize | None:
    """The codec's size of ``model`` at its coarsest grid step within ``budget``, or None.

    The steps Δ = :func:`~mdlkit.pruning.grid_step` (e) are scanned downwards a whole octave at
    a time (e − 4), from the e with Δ ≥ max|θ|, until one is within tolerance (at most 24
    octaves); then the three quarter octaves above that one are tried, coarsest first. So the
    step returned is the coarsest on the grid if tolerance is lost only once along the scan (a
    coarse step that is within tolerance again after a finer one failed is not looked for). The
    model is left as it was.
    """
    if budget.spec is None:
        return None
    snapshot = Snapshot(model)
    top = snapshot.max_abs
    if top == 0:  # nothing to quantize: every step gives the same, all-zero model
        exponent, loss = 0, budget.loss(model)
        if not budget.within(loss):
            return None
    else:

        def loss_at(e: int) -> float:
            step = grid_step(e)
            return snapshot.score_change(lambda m: quantize_model(m, step), budget.loss)

        first = math.ceil(STEPS_PER_OCTAVE * math.log2(top))
        found: tuple[int, float] | None = None
        for e in range(first, first - _STEP_OCTAVES * STEPS_PER_OCTAVE - 1, -STEPS_PER_OCTAVE):
            loss = loss_at(e)
            if budget.within(loss):
                found = (e, loss)
                break
        if found is None:
            return None
        exponent, loss = found
        if exponent < first:  # the octave above failed: the quarter octaves between
            for e in range(exponent + STEPS_PER_OCTAVE - 1, exponent, -1):
                finer_loss = loss_at(e)
                if budget.within(finer_loss):
                    exponent, loss = e, finer_loss
                    break
    encoded = encode_model(model, budget.spec, grid_step(exponent))
    return CodedSize(
        bits=encoded.length.total,
        parts=dict(encoded.length.parts),
        step=encoded.step,
        exponent=exponent,
        loss=loss,
        nonzero=encoded.nonzero,
        data=encoded.data,
    )


def coded_bits_within(
    model: nn.Module,
    data: Split,
    tolerance: float,
    spec: ModelSpec,
    *,
    loss_fn: LossFn | None = None,
) -> CodedSize | None:
    """The weight codec's size of ``model`` itself at its coarsest grid step within tolerance.

    The "codec only" baseline: Δ is the largest :func:`~mdlkit.pruning.grid_step` (e), e an
    integer, with L(w quantized to q · Δ) ≤ L(w*) + ε (searched from the step just above
    max|θ| down a whole octave at a time until one is within, then the three quarter octaves
    above that one, coarsest first; a step within again below a failed one is not looked for),
    and the size is
    ``encode_model(model, spec, Δ).length.total`` bits. None if no step down to 2⁻²⁴ · max|θ|
    is within tolerance.

    Args:
        model: the trained network (not changed).
        data: the training samples L is measured on.
        tolerance: ε > 0, nats per sample.
        spec: the spec ``model`` was built from (the codec stores it).
        loss_fn: ``loss_fn(output, target)`` → mean loss in nats; default
            :func:`~mdlkit.heads.head_for` (data).
    """
    budget = _budget(model, data, tolerance, loss_fn, spec)
    return _coded_size(budget.copy(), budget)


# --- quantization ----------------------------------------------------------------------------


def _on_grid(values: torch.Tensor, bits: int, m: float) -> torch.Tensor:
    """``values`` (float64) on the n_q-bit grid over [−m, m]: k · Δ, |k| ≤ K = 2^(n_q − 1) − 1,
    Δ = m / K, values beyond ±m clipped to ±K · Δ = ±m."""
    levels = 2 ** (bits - 1) - 1
    if levels == 0 or m == 0:
        return torch.zeros_like(values)
    step = m / levels
    return torch.clamp(torch.round(values / step), -levels, levels) * step


@torch.no_grad()
def _best_ranges(
    model: nn.Module, saved: list[torch.Tensor], bits: int, budget: _Budget
) -> tuple[float, list[float]]:
    """Quantize ``model`` to ``bits`` with the ranges that minimise L; return L and the ranges.

    Coordinate descent: all tensors start at c = 1 (m = max|w|); each tensor in turn tries every
    c of :data:`RANGE_FRACTIONS` with the others fixed, keeping the lowest loss (the larger c on
    a tie); two sweeps, the second only if the first changed anything. The model is left at the
    best ranges found.
    """
    params = list(model.parameters())
    tops = [float(w.abs().max()) if w.numel() else 0.0 for w in saved]
    if bits == 1:  # the one-level grid {0}
        for p in params:
            p.zero_()
        return budget.loss(model), [0.0] * len(params)
    cache: dict[tuple[int, int], torch.Tensor] = {}

    def put(i: int, j: int) -> None:
        if (i, j) not in cache:
            m = RANGE_FRACTIONS[j] * tops[i]
            cache[i, j] = _on_grid(saved[i].double(), bits, m).to(params[i].dtype)
        params[i].copy_(cache[i, j])

    def key(loss: float) -> float:
        return math.inf if math.isnan(loss) else loss

    choice = [0] * len(params)
    for i in range(len(params)):
        put(i, 0)
    best = budget.loss(model)
    for _ in range(_RANGE_SWEEPS):
        changed = False
        for i in range(len(params)):
            if tops[i] == 0:  # an all-zero tensor is on every grid
                continue
            for j in range(len(RANGE_FRACTIONS)):
                if j == choice[i]:
                    continue
                put(i, j)
                loss = budget.loss(model)
                if key(loss) < key(best):
                    best, choice[i], changed = loss, j, True
            put(i, choice[i])
        if not changed:
            break
    return best, [RANGE_FRACTIONS[j] * top for j, top in zip(choice, tops, strict=True)]


def _quantization(budget: _Budget, max_bits: int) -> QuantizationPoint:
    if isinstance(max_bits, bool) or not isinstance(max_bits, int):
        raise MdlkitError(f"max_bits must be an integer, got {max_bits!r}")
    if not 1 <= max_bits <= _MAX_GRID_BITS:
        raise MdlkitError(f"max_bits must lie in [1, {_MAX_GRID_BITS}], got {max_bits}")
    model = budget.copy()
    saved = [p.detach().clone() for p in model.parameters()]
    names = [name for name, _ in model.named_parameters()]
    curve: list[tuple[int, float]] = []
    for bits in range(1, max_bits + 1):
        loss, ranges = _best_ranges(model, saved, bits, budget)
        curve.append((bits, loss))
        if budget.within(loss):
            d = sum(w.numel() for w in saved)
            return QuantizationPoint(
                bits=bits,
                reference_loss=budget.reference,
                tolerance=budget.tolerance,
                loss=loss,
                ranges=dict(zip(names, ranges, strict=True)),
                naive_bits=d * bits,
                curve=tuple(curve),
                coded=_coded_size(model, budget),
                weights=_weights(model),
            )
    raise MdlkitError(
        f"no grid of at most {max_bits} bits keeps the loss within {budget.tolerance:g} nats of "
        f"L(w*) = {budget.reference:.6g} (best {curve[-1][1]:.6g}); raise max_bits or the "
        "tolerance"
    )


def critical_quantization_bits(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
    max_bits: int = 16,
) -> QuantizationPoint:
    """The smallest n_q with every parameter tensor on an n_q-bit grid within tolerance.

    The grid of tensor i is symmetric and uniform over [−m_i, m_i] with 2^n_q − 1 levels, zero
    among them:

        w ↦ Δ_i · clamp(round(w / Δ_i), −K, K),   K = 2^(n_q − 1) − 1,   Δ_i = m_i / K,

    for weights and biases alike. n_q = 1 is the one-level grid {0} (every parameter zero; no
    sign bit, as 2^1 − 1 = 1 level says), n_q = 2 the ternary {−m, 0, m}, n_q = 3 seven levels.
    The ranges minimise the loss: m_i = c · max|w_i| with c in :data:`RANGE_FRACTIONS`, by
    coordinate descent over the tensors (two sweeps, deterministic). n_q = 1, 2, … is tried in
    turn; the first whose best loss is ≤ L(w*) + ε is the measure. Cost: about
    2 · 16 · (number of tensors) loss evaluations per n_q tried.

    Args:
        model: the trained network at w* (not changed).
        data: the training samples L is measured on (mean loss, nats per sample).
        tolerance: ε > 0, nats per sample.
        loss_fn: ``loss_fn(output, target)`` → mean loss in nats; default
            :func:`~mdlkit.heads.head_for` (data).
        spec: the model's spec; if given, ``coded`` holds the codec's size of the point.
        max_bits: the largest n_q tried; a :class:`~mdlkit.errors.MdlkitError` if none is
            within tolerance.
    """
    return _quantization(_budget(model, data, tolerance, loss_fn, spec), max_bits)


# --- low rank --------------------------------------------------------------------------------

_FACTORIZED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _matrices(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The weights of every Linear and convolution (each shared one once), by parameter name."""
    seen: set[int] = set()
    found = []
    for name, module in model.named_modules():
        if isinstance(module, _FACTORIZED) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            found.append((f"{name}.weight" if name else "weight", module.weight))
    return found


class _Truncation:
    """One weight's SVD, viewed as a matrix (out, in · kernel), and its rank-r reconstructions."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.original = weight.detach().clone()
        matrix = self.original.reshape(len(self.original), -1).double()
        self.full_rank = min(matrix.shape)
        self.u, self.s, self.vh = torch.linalg.svd(matrix, full_matrices=False)

    def at(self, rank: int) -> torch.Tensor:
        if rank >= self.full_rank:  # kept whole, not rebuilt: U S Vᵀ is not W to the last bit
            return self.original
        low = (self.u[:, :rank] * self.s[:rank]) @ self.vh[:rank]
        return low.reshape(self.original.shape).to(self.original.dtype)


def _rank(budget: _Budget) -> RankPoint:
    model = budget.copy()
    matrices = _matrices(model)
    if not matrices:
        raise MdlkitError(
            "the model has no Linear or convolution weights to factorize; the rank measure "
            "needs at least one"
        )
    truncations = [_Truncation(w) for _, w in matrices]
    full = [t.full_rank for t in truncations]
    # Matrix i's kept rank ceil((1 − f)·R_i) = R_i − floor(f·R_i) changes only at f = j/R_i:
    # those fractions, as exact rationals, are all the distinct patterns there are.
    fractions = sorted({Fraction(j, r) for r in full for j in range(r + 1)})

    def kept(f: Fraction) -> list[int]:
        return [math.ceil((1 - f) * r) for r in full]

    @torch.no_grad()
    def put(ranks: list[int]) -> None:
        for (_, w), t, r in zip(matrices, truncations, ranks, strict=True):
            w.copy_(t.at(r))

    curve: list[tuple[float, float]] = []
    best, best_loss = Fraction(0), budget.reference
    for f in fractions:
        if f == 0:  # the model itself
            loss = budget.reference
        else:
            put(kept(f))
            loss = budget.loss(model)
        curve.append((float(f), loss))
        if budget.within(loss):
            best, best_loss = f, loss
    put(kept(best))
    names = [name for name, _ in matrices]
    return RankPoint(
        fraction=float(best),
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        loss=best_loss,
        full_ranks=dict(zip(names, full, strict=True)),
        kept_ranks=dict(zip(names, kept(best), strict=True)),
        curve=tuple(curve),
        coded=_coded_size(model, budget),
        weights=_weights(model),
    )


def critical_rank_fraction(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
) -> RankPoint:
    """The largest fraction f of rank that truncated SVD removes within tolerance.

    Every weight matrix W (an ``nn.Linear`` weight; a convolution weight viewed as (out,
    in · kernel)) of full rank R = min(rows, columns) is replaced by its best approximation of
    rank r = ceil((1 − f) · R) (Eckart–Young: the r largest singular values, computed in
    float64), the same f for all; biases and other parameters stay. r = R leaves W untouched,
    r = 0 zeroes it. As r only changes at f = j / R, the candidates are those fractions for
    every matrix's R (each distinct pattern once, at its smallest f), and ALL of them are
    tried — no monotonicity is assumed — so the curve is complete and the measure is the
    largest f whose loss is ≤ L(w*) + ε (f = 0, the model itself, always is). Cost: at most
    ΣR + 1 loss evaluations. For a single matrix f is exactly the fraction of its rank removed.

    Arguments as :func:`critical_quantization_bits`.
    """
    return _rank(_budget(model, data, tolerance, loss_fn, spec))


# --- pruning ---------------------------------------------------------------------------------

# TAMADE's relative test is loss ≤ (1 + δ) · reference. It is handed a score whose "loss" is 1
# inside the absolute budget L ≤ L(w*) + ε and 3 outside, and δ = 1: then the test is 1 ≤ 2 or
# 3 ≤ 2, exactly the budget's own comparison, with no rounding in δ = ε / L(w*) and no trouble
# when L(w*) is zero or negative (a Gaussian loss may be).
_INSIDE, _OUTSIDE, _DELTA = 1.0, 3.0, 1.0


def _zero_fraction(model: nn.Module) -> float:
    params = list(model.parameters())
    return sum(int((p == 0).sum()) for p in params) / sum(p.numel() for p in params)


def _pruning(budget: _Budget) -> PruningPoint:
    model = budget.copy()
    tried: dict[float, float] = {}

    def score(m: nn.Module) -> LossAccuracy:
        loss = budget.loss(m)
        # pruning |θ| < t is nested in t: the same count of zeros is the same model, same loss
        tried[_zero_fraction(m)] = loss
        return LossAccuracy(_INSIDE if budget.within(loss) else _OUTSIDE, float("nan"))

    # TAMADE bisects t in [0, 2 · max|θ|]; stopping at float32's relative precision of the
    # largest weight keeps ~25 halvings whatever the weights' scale (its default is absolute).
    top = Snapshot(model).max_abs
    result = tamade(
        model, score, mode="relative", delta=_DELTA, resolution=top * 2.0**-24 if top else 1e-7
    )
    loss = budget.loss(model)
    return PruningPoint(
        fraction=_zero_fraction(model),
        threshold=result.threshold,
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        loss=loss,
        curve=tuple(sorted(tried.items())),
        coded=_coded_size(model, budget),
        weights=_weights(model),
    )


def critical_pruning_fraction(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    loss_fn: LossFn | None = None,
    spec: ModelSpec | None = None,
) -> PruningPoint:
    """The largest fraction of parameters magnitude pruning zeroes within tolerance.

    TAMADE (:func:`~mdlkit.pruning.tamade`) bisects the global threshold t — every parameter,
    weights and biases, with |θ| < t becomes 0 — for the largest t with L ≤ L(w*) + ε exactly
    (its relative tolerance is converted so: see the comment at ``_INSIDE``), assuming the loss
    stays within up to a boundary. The measure is the fraction of the d parameters that are zero
    at that t, zeros already in w* counted:

        fraction = #{θ = 0 after pruning} / d.

    Arguments as :func:`critical_quantization_bits`.
    """
    return _pruning(_budget(model, data, tolerance, loss_fn, spec))


# --- all at once -----------------------------------------------------------------------------


def measure_compressibility(
    model: nn.Module,
    data: Split,
    tolerance: float,
    *,
    spec: ModelSpec | None = None,
    loss_fn: LossFn | None = None,
    max_bits: int = 16,
) -> Compressibility:
    """All three measures at one tolerance ε (nats) on one L(w*), and with a ``spec`` the
    codec-only baseline (:func:`coded_bits_within`) and each point's coded size.

    Arguments as :func:`critical_quantization_bits`.
    """
    budget = _budget(model, data, tolerance, loss_fn, spec)
    return Compressibility(
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        quantization=_quantization(budget, max_bits),
        rank=_rank(budget),
        pruning=_pruning(budget),
        codec=_coded_size(budget.copy(), budget),
    )
