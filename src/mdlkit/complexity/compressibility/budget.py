"""The loss budget every compressibility measure works within, and the codec's size inside it.

At the trained weights w* the mean loss on the data is L(w*) (nats per sample); a point w is
within tolerance ε when L(w) ≤ L(w*) + ε. :func:`make_budget` checks the arguments and measures
L(w*) once; :func:`coded_size` finds the coarsest codec grid step within the budget and the
size of the weight file there (:func:`coded_bits_within` for a model by itself).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from mdlkit.coding.architecture import shapes
from mdlkit.coding.weights import encode_model
from mdlkit.complexity.compressibility.results import CodedSize
from mdlkit.complexity.loss import LossFn, mean_loss
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import head_for
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.quantize import STEPS_PER_OCTAVE, grid_step, quantize_model
from mdlkit.pruning.search import Snapshot

__all__ = ["Budget", "coded_bits_within", "coded_size", "make_budget", "weights_of"]

# The codec step search spans 24 octaves below max|θ|: float32 has 24 significand bits, so a
# finer grid changes no weight (as in mdlkit.pruning.quantize).
_STEP_OCTAVES = 24


@dataclass(frozen=True)
class Budget:
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
        return mean_loss(model, self.data, self.loss_fn)

    def within(self, loss: float) -> bool:
        return loss <= self.limit  # False for NaN: a broken point is never within tolerance

    def copy(self) -> nn.Module:
        return copy.deepcopy(self.model)


def _check_spec(model: nn.Module, spec: ModelSpec) -> None:
    # Checked before any search, so that a wrong spec does not fail only after all the work.
    if shapes(spec) != shapes(model):  # the spec built on the meta device: no memory, no RNG
        raise MdlkitError(
            f"the model's parameters do not have the shapes its spec {spec.kind} builds; "
            "pass the spec the model was built from"
        )


def make_budget(
    model: nn.Module,
    data: Split,
    tolerance: float,
    loss_fn: LossFn | None,
    spec: ModelSpec | None,
) -> Budget:
    """The budget of ``model`` (copied, in eval mode) on ``data`` at ε = ``tolerance`` nats;
    ``loss_fn`` defaults to :func:`~mdlkit.heads.head_for` (data). Refuses a tolerance that is
    not a finite number > 0, empty data, a model without parameters, a spec of other shapes and
    a non-finite L(w*)."""
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
    reference = mean_loss(work, data, loss_fn)
    if not math.isfinite(reference):
        raise MdlkitError(
            f"the loss at the trained weights w* is {reference}; fix the model or the data "
            "(or the loss function) before measuring compressibility"
        )
    return Budget(work, data, loss_fn, reference, float(tolerance), spec)


def weights_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameter name → a detached copy of its value."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def coded_size(model: nn.Module, budget: Budget) -> CodedSize | None:
    """The codec's size of ``model`` at its coarsest grid step within ``budget``, or None.

    The steps Δ = :func:`~mdlkit.pruning.grid_step` (e) are scanned downwards a whole octave at
    a time (e − 4), from the e with Δ ≥ max|θ|, until one is within tolerance (at most 24
    octaves); then the three quarter octaves above that one are tried, coarsest first. So the
    step returned is the coarsest on the grid if tolerance is lost only once along the scan (a
    coarse step that is within tolerance again after a finer one failed is not looked for). The
    model is left as it was. None without a spec in the budget.
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

        def first_within(exponents: Iterable[int]) -> tuple[int, float] | None:
            """The first e (in the order given) whose quantized model is within, and its L."""
            for e in exponents:
                loss = loss_at(e)
                if budget.within(loss):
                    return e, loss
            return None

        first = math.ceil(STEPS_PER_OCTAVE * math.log2(top))
        octaves = range(first, first - _STEP_OCTAVES * STEPS_PER_OCTAVE - 1, -STEPS_PER_OCTAVE)
        found = first_within(octaves)
        if found is None:
            return None
        exponent, loss = found
        if exponent < first:  # the octave above failed: the quarter octaves between
            quarters = range(exponent + STEPS_PER_OCTAVE - 1, exponent, -1)
            exponent, loss = first_within(quarters) or found
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
    budget = make_budget(model, data, tolerance, loss_fn, spec)
    return coded_size(budget.copy(), budget)
