"""Complexity: the local learning coefficient λ̂ (SGLD) and the known λ it is tested against."""

from mdlkit.complexity.compressibility import (
    RANGE_FRACTIONS,
    CodedSize,
    Compressibility,
    PruningPoint,
    QuantizationPoint,
    RankPoint,
    coded_bits_within,
    critical_pruning_fraction,
    critical_quantization_bits,
    critical_rank_fraction,
    measure_compressibility,
)
from mdlkit.complexity.llc import SGLD, LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.truth import deep_linear_lambda, normal_crossing_lambda, regular_lambda

__all__ = [
    "RANGE_FRACTIONS",
    "SGLD",
    "CodedSize",
    "Compressibility",
    "LLCResult",
    "LLCSettings",
    "PruningPoint",
    "QuantizationPoint",
    "RankPoint",
    "coded_bits_within",
    "critical_pruning_fraction",
    "critical_quantization_bits",
    "critical_rank_fraction",
    "deep_linear_lambda",
    "estimate_llc",
    "measure_compressibility",
    "normal_crossing_lambda",
    "regular_lambda",
]
