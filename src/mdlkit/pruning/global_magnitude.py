"""Global magnitude pruning to a target compression rate: the baseline a user would reach for.

The weight matrices and kernels of every ``Linear`` and ``Conv2d`` layer are pruned together by
magnitude (``torch.nn.utils.prune.global_unstructured``, L1 norm) so that

    CR = parameters / nonzero parameters

is the target; biases stay and count as nonzero.

>>> import torch
>>> from torch import nn
>>> from mdlkit.pruning import count_nonzero, count_parameters
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
>>> mask = prune_to_compression_rate(model, 4)
>>> count_parameters(model), count_nonzero(model)  # 132 / 4 = 33 nonzero: 12 biases + 21
(132, 33)
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import prune as torch_prune

from mdlkit.pruning.masks import Mask, count_parameters

__all__ = ["prune_to_compression_rate"]


def prune_to_compression_rate(model: nn.Module, cr: float) -> Mask:
    """Zero the smallest-magnitude weights of ``model`` (in place, over all its ``Linear`` and
    ``Conv2d`` weights at once) until parameters / nonzero is ``cr``, keeping every bias and at
    least one weight; return the mask of what is left, to hold the zeros through fine-tuning."""
    weights = [(m, "weight") for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    total = count_parameters(model)
    n_weights = sum(m.weight.numel() for m, _ in weights)
    n_biases = total - n_weights
    keep = max(total / cr - n_biases, 1.0)  # biases stay: CR counts them as nonzero
    torch_prune.global_unstructured(
        weights, pruning_method=torch_prune.L1Unstructured, amount=round(n_weights - keep)
    )
    for module, name in weights:
        torch_prune.remove(module, name)
    return Mask.from_nonzero(model)
