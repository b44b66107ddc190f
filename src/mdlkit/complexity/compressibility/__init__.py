"""Compressibility of a trained model: how far one knob goes before the loss rises by ε.

At the trained weights w* the mean loss on ``data`` (the training samples) is L(w*), in nats per
sample. Given a tolerance ε > 0 (nats), a point w is *within tolerance* when

    L(w) ≤ L(w*) + ε,

an absolute budget in nats, the same for every measure (llc.md, "Compressibility,
operationally"; :mod:`~mdlkit.complexity.compressibility.budget`). Each measure turns one knob
as far as the budget allows:

- :func:`critical_quantization_bits`: the smallest n_q such that every parameter tensor on a
  symmetric uniform grid of n_q bits, its range optimized, is within tolerance
  (:mod:`~mdlkit.complexity.compressibility.quantization`);
- :func:`critical_rank_fraction`: the largest fraction f of every weight matrix's rank that a
  truncated SVD removes within tolerance (:mod:`~mdlkit.complexity.compressibility.rank`);
- :func:`critical_pruning_fraction`: the largest fraction of parameters that global magnitude
  pruning (TAMADE, :func:`~mdlkit.pruning.tamade`) zeroes within tolerance
  (:mod:`~mdlkit.complexity.compressibility.pruning`);
- :func:`coded_bits_within`: the weight codec's size (:func:`~mdlkit.coding.weights.encode_model`)
  of a model at the codec's coarsest grid step within tolerance — the "codec only" baseline, and
  with a :class:`~mdlkit.models.ModelSpec` the size every measure reports at its point.

:func:`measure_compressibility` runs all of them once (not named after the package, whose name
it would shadow). The results are in :mod:`~mdlkit.complexity.compressibility.results`. The
caller's model is never changed.
"""

from mdlkit.complexity.compressibility.budget import coded_bits_within
from mdlkit.complexity.compressibility.measure import measure_compressibility
from mdlkit.complexity.compressibility.pruning import critical_pruning_fraction
from mdlkit.complexity.compressibility.quantization import (
    RANGE_FRACTIONS,
    critical_quantization_bits,
)
from mdlkit.complexity.compressibility.rank import critical_rank_fraction
from mdlkit.complexity.compressibility.results import (
    CodedSize,
    Compressibility,
    PruningPoint,
    QuantizationPoint,
    RankPoint,
)

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
