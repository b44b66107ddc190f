"""Multilayer perceptrons: a general builder and LeNet-300-100."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn

from mdlkit.errors import MdlkitError

__all__ = ["ACTIVATIONS", "lenet_300_100", "mlp"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """A fully connected network ``sizes[0] → … → sizes[-1]`` with a linear output layer.

    Layers alternate ``Linear`` and the activation; parameter names are ``"0.weight"``,
    ``"0.bias"``, ``"2.weight"``, … as in any ``nn.Sequential``.

    >>> sum(p.numel() for p in mlp([784, 300, 100, 10]).parameters())
    266610
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise MdlkitError(f"MLP sizes must be at least two positive integers, got {sizes}")
    if activation not in ACTIVATIONS:
        raise MdlkitError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def lenet_300_100(n_inputs: int = 784, n_classes: int = 10) -> nn.Sequential:
    """LeNet-300-100: 784-300-100-10 with ReLU (266,610 parameters on MNIST)."""
    return mlp([n_inputs, 300, 100, n_classes], "relu")
