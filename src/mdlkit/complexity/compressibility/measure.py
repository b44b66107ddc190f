"""All compressibility measures at one tolerance, on one L(w*)."""

from __future__ import annotations

from torch import nn

from mdlkit.complexity.compressibility.budget import coded_size, make_budget
from mdlkit.complexity.compressibility.pruning import pruning_point
from mdlkit.complexity.compressibility.quantization import quantization_point
from mdlkit.complexity.compressibility.rank import rank_point
from mdlkit.complexity.compressibility.results import Compressibility
from mdlkit.complexity.loss import LossFn
from mdlkit.data.splits import Split
from mdlkit.models.spec import ModelSpec

__all__ = ["measure_compressibility"]


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
    codec-only baseline (:func:`~mdlkit.complexity.coded_bits_within`) and each point's coded
    size.

    Arguments as :func:`~mdlkit.complexity.critical_quantization_bits`.
    """
    budget = make_budget(model, data, tolerance, loss_fn, spec)
    return Compressibility(
        reference_loss=budget.reference,
        tolerance=budget.tolerance,
        quantization=quantization_point(budget, max_bits),
        rank=rank_point(budget),
        pruning=pruning_point(budget),
        codec=coded_size(budget.copy(), budget),
    )
