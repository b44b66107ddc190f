"""Binary masks over a model's parameters, and parameter counts.

A :class:`Mask` records which entries of each parameter tensor are kept (True). Applying it zeroes
the rest in place; during fine-tuning it is re-applied after every optimizer step so that a pruned
weight stays exactly zero.

>>> import torch
>>> from torch import nn
>>> layer = nn.Linear(2, 2)
>>> with torch.no_grad():
...     layer.weight.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
...     layer.bias.zero_()
Parameter containing:...
>>> mask = Mask.from_nonzero(layer)
>>> mask.n_kept, mask.n_total
(2, 6)
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["Mask", "count_nonzero", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """All parameter entries (weights and biases)."""
    return sum(p.numel() for p in model.parameters())


def count_nonzero(model: nn.Module) -> int:
    """Parameter entries that are not exactly zero."""
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


class Mask:
    """Kept entries per parameter name (bool tensors shaped like the parameters)."""

    def __init__(self, keep: Mapping[str, torch.Tensor]) -> None:
        self.keep = {name: k.detach().to(torch.bool).clone() for name, k in keep.items()}

    @classmethod
    def from_nonzero(cls, model: nn.Module) -> Mask:
        """Keep exactly the entries that are currently nonzero."""
        return cls({name: p.detach() != 0 for name, p in model.named_parameters()})

    @classmethod
    def ones(cls, model: nn.Module) -> Mask:
        """Keep everything (applying it changes nothing)."""
        return cls(
            {name: torch.ones_like(p, dtype=torch.bool) for name, p in model.named_parameters()}
        )

    @torch.no_grad()
    def apply(self, model: nn.Module) -> None:
        """Zero every pruned entry of ``model`` in place."""
        for name, p in model.named_parameters():
            keep = self.keep.get(name)
            if keep is not None:
                p.mul_(keep.to(device=p.device, dtype=p.dtype))

    def __and__(self, other: Mask) -> Mask:
        """Keep what both keep; a tensor only one mask covers keeps that mask's entries."""
        merged = dict(other.keep)
        for name, keep in self.keep.items():
            merged[name] = keep & other.keep[name] if name in other.keep else keep
        return Mask(merged)

    @property
    def n_kept(self) -> int:
        return sum(int(k.sum()) for k in self.keep.values())

    @property
    def n_total(self) -> int:
        return sum(k.numel() for k in self.keep.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask) or self.keep.keys() != other.keep.keys():
            return False
        return all(torch.equal(self.keep[n], other.keep[n]) for n in self.keep)

    def __repr__(self) -> str:
        return f"Mask(kept={self.n_kept}/{self.n_total})"
