"""Complexity: the local learning coefficient λ̂ (MALA, SGLD), the known λ it is tested against (the
formulas and toy models with data that make them exact), and compressibility at a loss
tolerance — critical quantization bits, rank and pruning fractions, coded sizes."""

from mdlkit.complexity.calibration import CALIBRATION_STEPS, Calibration, calibrate_llc
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
from mdlkit.complexity.llc import LLCResult, LLCSettings, estimate_llc
from mdlkit.complexity.mala import MALA
from mdlkit.complexity.sgld import SGLD
from mdlkit.complexity.step_check import (
    STEP_CHECK_TOLERANCE,
    StepCheck,
    check_step,
    length_gap,
)
from mdlkit.complexity.toys import TOYS, Toy, make_toy
from mdlkit.complexity.truth import deep_linear_lambda, normal_crossing_lambda, regular_lambda

__all__ = [
    "CALIBRATION_STEPS",
    "MALA",
    "RANGE_FRACTIONS",
    "SGLD",
    "STEP_CHECK_TOLERANCE",
    "TOYS",
    "Calibration",
    "CodedSize",
    "Compressibility",
    "LLCResult",
    "LLCSettings",
    "PruningPoint",
    "QuantizationPoint",
    "RankPoint",
    "StepCheck",
    "Toy",
    "calibrate_llc",
    "check_step",
    "coded_bits_within",
    "critical_pruning_fraction",
    "critical_quantization_bits",
    "critical_rank_fraction",
    "deep_linear_lambda",
    "estimate_llc",
    "length_gap",
    "make_toy",
    "measure_compressibility",
    "normal_crossing_lambda",
    "regular_lambda",
]
