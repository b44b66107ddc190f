"""The teacher and student MLPs of the teacher-student setup (tanh hidden units, linear output)."""

from __future__ import annotations

from torch import nn

from mdlkit.models.mlp import mlp

__all__ = ["STUDENT_SIZES", "TEACHER_SIZES", "student_mlp", "teacher_mlp"]

TEACHER_SIZES = (2, 5, 8, 1)
STUDENT_SIZES = (2, 25, 25, 1)


def teacher_mlp() -> nn.Sequential:
    """[2, 5, 8, 1] with tanh: the untransformed teacher (see :func:`mdlkit.data.make_teacher`)."""
    return mlp(TEACHER_SIZES, "tanh")


def student_mlp() -> nn.Sequential:
    """[2, 25, 25, 1] with tanh (751 parameters).

    >>> sum(p.numel() for p in student_mlp().parameters())
    751
    """
    return mlp(STUDENT_SIZES, "tanh")
