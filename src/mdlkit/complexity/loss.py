"""The mean loss L of a model on a split, in nats per sample, that every complexity measure
compares against (the LLC's L_n(w*), the compressibility budget's L(w*) + ε).

>>> import torch
>>> from mdlkit.data import Split
>>> model = torch.nn.Linear(1, 1, bias=False)
>>> _ = model.weight.data.fill_(2.0)
>>> x = torch.ones(3, 1)
>>> mean_loss(model, Split(x, 3 * x), lambda out, y: (out - y).square().mean())  # (2 − 3)²
1.0
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mdlkit.data.splits import Split
from mdlkit.heads import EVAL_CHUNK

__all__ = ["LossFn", "mean_loss"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss_fn(output, target)`` → the mean loss of a batch in nats (a head, or any function)."""


@torch.no_grad()
def mean_loss(model: nn.Module, data: Split, loss_fn: LossFn) -> float:
    """L = (1/n) Σ_chunks loss_fn(model(x_c), y_c) · |c| over all n samples of ``data``, nats per
    sample, in fixed chunks of :data:`~mdlkit.heads.EVAL_CHUNK` rows: the same number every time
    (batch shapes change float sums). The model is used in the mode it is in."""
    total = 0.0
    for start in range(0, len(data), EVAL_CHUNK):
        x, y = data.x[start : start + EVAL_CHUNK], data.y[start : start + EVAL_CHUNK]
        total += float(loss_fn(model(x), y)) * len(x)
    return total / len(data)
