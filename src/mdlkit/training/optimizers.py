"""Which optimizer updates the trained tensors.

The loop builds its optimizer by calling an :class:`OptimizerFactory` with every tensor it trains
— the model's parameters, then the regularizer's own variables (PMMP's), then the loss module's
parameters (a learned σ) — and the phase's :class:`TrainConfig`. Anything with the
``torch.optim.Optimizer`` interface works, including a sampler such as SGLD written as one.

>>> sgd: OptimizerFactory = lambda params, config: torch.optim.SGD(params, lr=config.lr)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from mdlkit.training.state import TrainConfig

__all__ = ["OptimizerFactory", "fused_adam"]


class OptimizerFactory(Protocol):
    """Builds the optimizer of one phase over ``params`` (in the order the loop gives them)."""

    def __call__(
        self, params: Sequence[torch.Tensor], config: TrainConfig
    ) -> torch.optim.Optimizer: ...


def fused_adam(params: Sequence[torch.Tensor], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam at ``config.lr`` with PyTorch's default betas and ε (the default of training)."""
    # The fused kernel is several times faster on CPU for the same update rule.
    return torch.optim.Adam(list(params), lr=config.lr, fused=True)
