"""The teacher-student regression problem of Barth & von Petersenn (methods.md).

Teacher: MLP [2, 5, 8, 1] with tanh hidden units and a linear output, default-initialised from a
seed, then made more nonlinear: layer-1 weights W ← 2W + 1, layer-2 weights W ← 2W.
Inputs x ~ U[−1, 1]², targets y = teacher(x) + N(0, σ_noise²). Train, validation and test sets
are drawn with distinct seeds.
"""

from __future__ import annotations

import torch
from torch import nn

from mdlkit.data.splits import Split, Splits
from mdlkit.errors import MdlkitError
from mdlkit.models.teacher_student import teacher_mlp

__all__ = ["make_teacher", "teacher_student"]


def make_teacher(seed: int = 0) -> nn.Sequential:
    """The fixed teacher network for a seed."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        teacher = teacher_mlp()
    finally:
        torch.random.set_rng_state(gen_state)
    with torch.no_grad():
        first, second = teacher[0], teacher[2]
        assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
        first.weight.mul_(2.0).add_(1.0)
        second.weight.mul_(2.0)
    teacher.requires_grad_(False)
    return teacher


def _sample(teacher: nn.Module, n: int, noise: float, seed: int) -> Split:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=gen) * 2.0 - 1.0
    with torch.no_grad():
        y = teacher(x) + noise * torch.randn(n, 1, generator=gen)
    return Split(x, y)


def teacher_student(
    n_train: int = 300,
    *,
    noise: float = 0.01,
    n_val: int = 1000,
    n_test: int = 5000,
    teacher_seed: int = 0,
    seed: int = 0,
) -> Splits:
    """Sample the teacher-student regression data (``n_classes`` is ``None``).

    Each split gets its own seed derived from ``seed`` (train, validation and test never share
    draws).
    """
    if n_train <= 0 or n_val <= 0 or n_test <= 0:
        raise MdlkitError("teacher-student sizes must be positive")
    if noise < 0:
        raise MdlkitError(f"noise standard deviation must be >= 0, got {noise}")
    teacher = make_teacher(teacher_seed)
    base = 1000 * seed
    return Splits(
        "teacher-student",
        _sample(teacher, n_train, noise, base + 1),
        _sample(teacher, n_val, noise, base + 2),
        _sample(teacher, n_test, noise, base + 3),
        None,
    )
