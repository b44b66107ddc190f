"""Fine-tuning on the quantization grid: the forward pass sees θ̂ = Δ · round(θ / Δ), the
gradient reaches θ as if the rounding were the identity (the straight-through estimator).

Why: a step chosen by the code length is often coarse (a few grid values per weight), and a
model trained in floating point loses accuracy when rounded to it. Training through the
rounding lets the remaining weights move to grid points that fit the data; the weights that
are then encoded are exactly θ̂, so nothing is lost at the end.

>>> import torch
>>> layer = torch.nn.Linear(2, 1, bias=False)
>>> _ = layer.weight.data.copy_(torch.tensor([[0.26, -0.74]]))
>>> QuantizedForward(layer, 0.5)(torch.tensor([[1.0, 1.0]])).item()  # 0.5 − 0.5
0.0
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from mdlkit.pruning.quantize import dequantize, grid_indices

__all__ = ["QuantizedForward"]


class QuantizedForward(nn.Module):
    """Runs ``model`` with every parameter on the grid of ``step``, straight through.

    Pass it as the training loop's ``wrap_model``: the loop's optimizer, mask and checkpoints
    keep working on ``model``'s own (floating point) parameters.
    """

    def __init__(self, model: nn.Module, step: float) -> None:
        super().__init__()
        self.model = model
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = {
            name: p + (dequantize(grid_indices(p, self.step), self.step) - p).detach()
            for name, p in self.model.named_parameters()
        }
        return functional_call(self.model, params, (x,))
