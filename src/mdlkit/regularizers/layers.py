"""Which parameters of any ``nn.Module`` a regularizer pulls to zero.

A regularizer acts on the ``(name, tensor)`` pairs it is handed. ``mdlkit fit`` hands it every
parameter of the model (``regularize="all"``: weights and biases of every module, a user's
factory's too), or only the weights of its :data:`LAYERS` (``regularize="layers"``); in a
training loop of one's own, :func:`layer_weights` gives those pairs.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
...                           torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
>>> [name for name, _ in layer_weights(net)]
['0.weight', '3.weight']
>>> [name for name, _ in layer_weights(net, biases=True)]
['0.weight', '0.bias', '3.weight', '3.bias']
"""

from __future__ import annotations

from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import Regularizer, masked

__all__ = ["LAYERS", "REGULARIZE", "layer_weights", "restrict"]

LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Embedding,
    nn.EmbeddingBag,
)
"""The layers whose weights :func:`layer_weights` selects (subclasses included): the linear maps
that hold nearly all of a network's parameters. Normalisation layers' scales, an RNN's or an
attention block's own matrices (``nn.MultiheadAttention``'s ``in_proj_weight``, which is no
``Linear``) are not among them: pass ``layers=`` to add a type."""

REGULARIZE = ("all", "layers")
"""The choices of ``FitConfig.regularize``: every parameter, or :func:`layer_weights`."""


def layer_weights(
    model: nn.Module,
    layers: tuple[type[nn.Module], ...] = LAYERS,
    *,
    biases: bool = False,
) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of the ``weight`` (and with ``biases`` the ``bias``) of every
    module of ``model`` that is an instance of one of ``layers``, in ``named_modules`` order;
    a parameter shared by several modules comes once."""
    wanted = ("weight", "bias") if biases else ("weight",)
    seen: set[int] = set()
    chosen = []
    for prefix, module in model.named_modules():
        if not isinstance(module, layers):
            continue
        for attribute in wanted:
            p = getattr(module, attribute, None)
            if isinstance(p, nn.Parameter) and id(p) not in seen:
                seen.add(id(p))
                chosen.append((f"{prefix}.{attribute}" if prefix else attribute, p))
    return chosen


def restrict(regularizer: Regularizer, model: nn.Module, regularize: str) -> Regularizer:
    """``regularizer`` acting on the parameters ``regularize`` names (:data:`REGULARIZE`) of
    ``model``, which the training loop hands over as ``model.named_parameters()``."""
    if regularize == "all":
        return regularizer
    if regularize != "layers":
        raise MdlkitError(f"regularize must be all or layers, got {regularize!r}")
    # By name, as named_parameters() gives it: the loop's tensors may be moved copies.
    ids = {id(p) for _, p in layer_weights(model)}
    names = {name for name, p in model.named_parameters() if id(p) in ids}
    if not names:
        raise MdlkitError(
            "regularize=layers: the model has no Linear, Conv or Embedding layer; use all"
        )
    return masked(regularizer, lambda name, p: name in names)
