"""Evaluating a model on a split: mean loss (nats) and accuracy, in fixed-size chunks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.data.splits import Split

__all__ = ["EVAL_CHUNK", "DataLoss", "Evaluation", "data_loss", "evaluate"]

# A fixed chunk size keeps every evaluation bit-reproducible (batch shapes change float sums).
EVAL_CHUNK = 1024


@dataclass(frozen=True)
class Evaluation:
    """Mean per-sample loss in nats, and accuracy in [0, 1] (NaN for regression)."""

    loss: float
    accuracy: float


def data_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean data loss in nats: cross-entropy for class labels, ½·MSE for regression."""
    if target.dtype == torch.int64:
        return F.cross_entropy(output, target)
    return 0.5 * F.mse_loss(output, target)


class DataLoss(nn.Module):
    """:func:`data_loss` as a module without parameters (the default loss of training)."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return data_loss(output, target)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, loss_fn: nn.Module | None = None) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``split`` (eval mode, restored afterwards).

    ``loss_fn(output, target)`` gives the mean loss in nats; by default :func:`data_loss`.
    """
    loss_fn = loss_fn if loss_fn is not None else DataLoss()
    was_training = model.training
    model.eval()
    try:
        total_loss, correct, n = 0.0, 0, len(split)
        for start in range(0, n, EVAL_CHUNK):
            x, y = split.x[start : start + EVAL_CHUNK], split.y[start : start + EVAL_CHUNK]
            out = model(x)
            total_loss += float(loss_fn(out, y)) * len(x)
            if y.dtype == torch.int64:
                correct += int((out.argmax(dim=1) == y).sum())
    finally:
        model.train(was_training)
    accuracy = correct / n if split.y.dtype == torch.int64 else float("nan")
    return Evaluation(total_loss / n, accuracy)
