"""A physically smaller network: the neurons and channels that cannot change the output removed.

In a pruned ``nn.Sequential`` of linear and convolutional layers (with elementwise activations,
pooling and flattening between them), unit j of a weight layer — a neuron of a linear layer, an
output channel of a convolution — is removed when

- its **outgoing** weights are all zero (every weight of the next weight layer that reads it):
  it contributes nothing, exactly; or
- its **incoming** weights are all zero: its output is then the constant a = act(b_j) (a
  convolution's whole map is b_j, pooling keeps a constant), and a·(the sum of its outgoing
  weights) is added to the next layer's biases — exact up to float32 rounding of those biases.
  This is done when a = 0, when the next layer is linear, or when it is a convolution without
  padding (with zero padding the borders would see a·fewer weights, so such a unit is kept).

Input features of a network whose first weight layer is linear are removed when every weight
reading them is zero (a :class:`~mdlkit.models.layers.Select` layer keeps the others), and the
outputs are never removed. Removing units zeroes nothing new but can leave other units without
inputs or outputs, so the rules are applied until nothing changes. Weights are copied, never
recomputed; biases are folded in float64 and stored as float32.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.models.layers import ELEMENTWISE, Select, describe_layers, quiet_empty_layers

__all__ = ["Shrunk", "shrink_sequential"]

_WEIGHTED = (nn.Linear, nn.Conv2d)


@dataclass(frozen=True)
class Shrunk:
    """The smaller network and what was kept."""

    model: nn.Sequential
    """the network without its dead units, in eval mode"""
    widths: tuple[tuple[int, int], ...]
    """(kept, original) of the inputs, then of every weight layer's outputs"""
    folded: int
    """removed units whose nonzero constant output went into the next layer's biases"""

    def layout(self) -> str:
        """``"784→300→100→10 kept as 412→47→31→10"``."""
        before = "→".join(str(n) for _, n in self.widths)
        after = "→".join(str(k) for k, _ in self.widths)
        return f"{before} kept as {after}"


def _units(m: nn.Module) -> tuple[int, int]:
    """(inputs, outputs) of a weight layer: features or channels."""
    if isinstance(m, nn.Linear):
        return m.in_features, m.out_features
    assert isinstance(m, nn.Conv2d)
    return m.in_channels, m.out_channels


def _constant(between: Sequence[nn.Module], b: float) -> float | None:
    """What the layers ``between`` make of a constant map of value b (None: not constant)."""
    value = torch.tensor([b], dtype=torch.float64)
    for m in between:
        if isinstance(m, nn.AvgPool2d) and _any(m.padding) and m.count_include_pad:
            return None  # a border average counts the padding zeros
        if isinstance(m, ELEMENTWISE):
            value = m.eval()(value)
    return float(value)


def _any(value: int | tuple[int, ...]) -> bool:
    return any(v != 0 for v in (value if isinstance(value, tuple) else (value,)))


class _Plan:
    """The weight layers of a sequential network, float64 copies of their weights, and which
    units are kept."""

    def __init__(self, layers: list[nn.Module]) -> None:
        self.layers = layers
        self.pos = [i for i, m in enumerate(layers) if isinstance(m, _WEIGHTED)]
        mods: list[nn.Linear | nn.Conv2d] = [layers[i] for i in self.pos]  # type: ignore[misc]
        self.w = [m.weight.detach().to(torch.float64).clone() for m in mods]
        self.b = [
            m.bias.detach().to(torch.float64).clone()
            if m.bias is not None
            else torch.zeros(_units(m)[1], dtype=torch.float64)
            for m in mods
        ]
        self.keep = [torch.ones(_units(m)[1], dtype=torch.bool) for m in mods]
        first = self.pos[0]
        self.select = isinstance(layers[first], nn.Linear) and all(
            isinstance(m, nn.Flatten | nn.Identity | nn.Dropout) for m in layers[:first]
        )
        self.keep_in = torch.ones(_units(mods[0])[0], dtype=torch.bool)
        self.block = [self._block(k) for k in range(len(self.pos) - 1)]
        self.folded = 0

    def _block(self, k: int) -> int:
        """How many inputs of weight layer k+1 each unit of layer k feeds (a flattened
        channel's positions; 1 otherwise)."""
        n_in, n_out = _units(self.layers[self.pos[k + 1]])[0], _units(self.layers[self.pos[k]])[1]
        if n_in % n_out:
            raise MdlkitError(f"layer {self.pos[k + 1]} reads {n_in} inputs of {n_out} units")
        return n_in // n_out

    def columns(self, k: int) -> torch.Tensor:
        """The kept inputs of weight layer k as a mask over its weight's dimension 1."""
        if k == 0:
            return self.keep_in
        return self.keep[k - 1].repeat_interleave(
            self.block[k - 1] if isinstance(self.layers[self.pos[k]], nn.Linear) else 1
        )

    def outgoing(self, k: int, j: int) -> torch.Tensor:
        """The weights of layer k+1 that read unit j of layer k (kept rows only)."""
        w, rows = self.w[k + 1], self.keep[k + 1]  # the last layer's rows are all kept
        if isinstance(self.layers[self.pos[k + 1]], nn.Linear):
            size = self.block[k]
            return w[rows, j * size : (j + 1) * size]
        return w[rows, j]

    def fold(self, k: int, j: int) -> bool:
        """Unit j of layer k has no inputs: fold its constant output into layer k+1's biases
        when that is exact (True), else False."""
        between = self.layers[self.pos[k] + 1 : self.pos[k + 1]]
        a = _constant(between, float(self.b[k][j]))
        if a is None:
            return False
        if a == 0.0:
            return True
        nxt = self.layers[self.pos[k + 1]]
        if isinstance(nxt, nn.Conv2d) and _any(nxt.padding):  # type: ignore[arg-type]
            return False
        dims = (1,) if isinstance(nxt, nn.Linear) else (1, 2)
        full = self.w[k + 1]
        size = self.block[k]
        reads = full[:, j * size : (j + 1) * size] if isinstance(nxt, nn.Linear) else full[:, j]
        self.b[k + 1] += a * reads.sum(dim=dims)
        self.folded += 1
        return True

    def sweep(self) -> bool:
        """One pass of the rules over every unit; whether anything was removed."""
        changed = False
        if self.select:
            dead = (self.w[0][self.keep[0]] == 0).all(dim=0) & self.keep_in
            if dead.any():
                self.keep_in &= ~dead
                changed = True
        for k in range(len(self.pos) - 1):  # the last layer's units are the outputs
            incoming = self.w[k][:, self.columns(k)]
            no_inputs = (incoming.flatten(1) == 0).all(dim=1)
            for j in torch.nonzero(self.keep[k]).flatten().tolist():
                if bool((self.outgoing(k, j) == 0).all()) or (no_inputs[j] and self.fold(k, j)):
                    self.keep[k][j] = False
                    changed = True
        return changed

    def build(self) -> nn.Sequential:
        out: list[nn.Module] = []
        for i, m in enumerate(self.layers):
            if i not in self.pos:
                out.append(copy.deepcopy(m))
                continue
            k = self.pos.index(i)
            if k == 0 and self.select and not bool(self.keep_in.all()):
                out.append(Select(len(self.keep_in), torch.nonzero(self.keep_in).flatten()))
            rows = self.keep[k] if k + 1 < len(self.pos) else torch.ones_like(self.keep[k])
            cols = self.columns(k) if k > 0 or not self.select else self.keep_in
            w = self.w[k][rows][:, cols]
            new: nn.Module
            with quiet_empty_layers():
                if isinstance(m, nn.Linear):
                    new = nn.Linear(w.shape[1], w.shape[0])
                else:
                    assert isinstance(m, nn.Conv2d)
                    new = nn.Conv2d(
                        w.shape[1], w.shape[0], m.kernel_size, stride=m.stride,  # type: ignore[arg-type]
                        padding=m.padding, dilation=m.dilation,  # type: ignore[arg-type]
                    )  # fmt: skip
            with torch.no_grad():
                new.weight.copy_(w.to(m.weight.dtype))
                assert new.bias is not None
                new.bias.copy_(self.b[k][rows].to(m.weight.dtype))
            out.append(new)
        return nn.Sequential(*out).eval()


def shrink_sequential(model: nn.Module) -> Shrunk:
    """``model`` (an ``nn.Sequential`` of plain layers) without the units that cannot change
    its outputs; ``model`` is not changed.

    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     net[0].weight[1:] = 0; net[0].weight[:, 2] = 0; net[0].bias[:] = -1
    >>> shrink_sequential(net).layout()
    '3→4→2 kept as 2→1→2'
    """
    describe_layers(model)  # plain layers only, else one line saying which is not
    layers = list(model)  # type: ignore[call-overload]
    if not any(isinstance(m, _WEIGHTED) for m in layers):
        raise MdlkitError("the network has no linear or convolutional layer to shrink")
    plan = _Plan(layers)
    while plan.sweep():
        pass
    widths = [(int(plan.keep_in.sum()), len(plan.keep_in))]
    widths += [(int(k.sum()), len(k)) for k in plan.keep[:-1]]
    widths.append((len(plan.keep[-1]), len(plan.keep[-1])))
    return Shrunk(plan.build(), tuple(widths), plan.folded)
