"""Complexity: the local learning coefficient λ̂ (SGLD) and the known λ it is tested against."""

from mdlkit.complexity.llc import SGLD, LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.truth import deep_linear_lambda, normal_crossing_lambda, regular_lambda

__all__ = [
    "SGLD",
    "LLCResult",
    "LLCSettings",
    "deep_linear_lambda",
    "estimate_llc",
    "normal_crossing_lambda",
    "regular_lambda",
]
