"""Codes for description lengths: uniform and two-part (classification and regression)."""

from mdlkit.codes.two_part import (
    RegressionTwoPartCode,
    TwoPartCode,
    two_part_code,
    two_part_regression_code,
)
from mdlkit.codes.uniform import uniform_codelength

__all__ = [
    "RegressionTwoPartCode",
    "TwoPartCode",
    "two_part_code",
    "two_part_regression_code",
    "uniform_codelength",
]
