"""Codes for description lengths: uniform and two-part."""

from mdlkit.codes.two_part import TwoPartCode, two_part_code
from mdlkit.codes.uniform import uniform_codelength

__all__ = ["TwoPartCode", "two_part_code", "uniform_codelength"]
