"""Plain sequential networks described as JSON: which layers, in order, with their sizes.

A description is a list of dicts, one per layer of an ``nn.Sequential`` — ``linear`` (``in``,
``out``), ``conv2d`` (``in``, ``out``, ``kernel``, ``stride``, ``padding``, ``dilation``), the
activations ``relu``, ``tanh``, ``gelu`` (``approximate``), ``identity``, ``maxpool2d`` and
``avgpool2d`` (``kernel``, ``stride``, ``padding``), ``flatten`` and ``select`` (``in``,
``out``: keeps the input features ``indices``, a buffer). :func:`build_layers` rebuilds the
network with the same state-dict keys (``"0.weight"``, ``"0.bias"``, ``"1.indices"``, …), so
a description and a safetensors file are a model any PyTorch user can load.

>>> net = build_layers(describe_layers(nn.Sequential(nn.Linear(3, 2), nn.ReLU())))
>>> net
Sequential(
  (0): Linear(in_features=3, out_features=2, bias=True)
  (1): ReLU()
)
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from mdlkit.errors import MdlkitError

__all__ = ["ELEMENTWISE", "Select", "build_layers", "describe_layers", "quiet_empty_layers"]

ELEMENTWISE: tuple[type[nn.Module], ...] = (nn.ReLU, nn.Tanh, nn.GELU, nn.Identity, nn.Dropout)
"""Layers that act on each value alone (dropout is the identity in eval mode)."""


class Select(nn.Module):
    """Keeps the input features ``indices`` (in that order) of flat inputs (N, in)."""

    indices: torch.Tensor

    def __init__(self, n_in: int, indices: torch.Tensor) -> None:
        super().__init__()
        self.n_in = int(n_in)
        self.register_buffer("indices", torch.as_tensor(indices, dtype=torch.int64).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.indices)

    def extra_repr(self) -> str:
        return f"in_features={self.n_in}, out_features={len(self.indices)}"


@contextlib.contextmanager
def quiet_empty_layers() -> Iterator[None]:
    """No warning for a layer of zero units (a shrunk network may have them: all pruned)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        yield


def _pair(value: int | tuple[int, ...]) -> list[int]:
    return [int(v) for v in value] if isinstance(value, tuple) else [int(value)] * 2


def _describe(m: nn.Module) -> dict[str, Any]:
    if isinstance(m, nn.Linear):
        return {"type": "linear", "in": m.in_features, "out": m.out_features}
    if isinstance(m, nn.Conv2d):
        if m.groups != 1 or not isinstance(m.padding, tuple) or m.padding_mode != "zeros":
            raise MdlkitError("only plain convolutions (groups 1, zero padding) are described")
        return {
            "type": "conv2d", "in": m.in_channels, "out": m.out_channels,
            "kernel": _pair(m.kernel_size), "stride": _pair(m.stride),
            "padding": _pair(m.padding), "dilation": _pair(m.dilation),
        }  # fmt: skip
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        kind = "maxpool2d" if isinstance(m, nn.MaxPool2d) else "avgpool2d"
        return {
            "type": kind, "kernel": _pair(m.kernel_size),  # type: ignore[arg-type]
            "stride": _pair(m.stride), "padding": _pair(m.padding),  # type: ignore[arg-type]
        }  # fmt: skip
    if isinstance(m, nn.GELU):
        return {"type": "gelu", "approximate": m.approximate}
    if isinstance(m, Select):
        return {"type": "select", "in": m.n_in, "out": len(m.indices)}
    for kind, cls in (("relu", nn.ReLU), ("tanh", nn.Tanh), ("flatten", nn.Flatten)):
        if isinstance(m, cls):
            return {"type": kind}
    if isinstance(m, nn.Identity | nn.Dropout):
        return {"type": "identity"}
    raise MdlkitError(f"a {type(m).__name__} layer has no description (plain layers only)")


def describe_layers(model: nn.Module) -> list[dict[str, Any]]:
    """The description of an ``nn.Sequential`` of plain layers (anything else is refused)."""
    if not isinstance(model, nn.Sequential):
        raise MdlkitError(f"only sequential networks are described, not {type(model).__name__}")
    for m in model:
        if isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) != (1, -1):
            raise MdlkitError("only Flatten() of all but the batch dimension is described")
    return [_describe(m) for m in model]


def _build(layer: Mapping[str, Any]) -> nn.Module:
    kind = layer.get("type")
    if kind == "linear":
        return nn.Linear(int(layer["in"]), int(layer["out"]))
    if kind == "conv2d":
        return nn.Conv2d(
            int(layer["in"]), int(layer["out"]), tuple(layer["kernel"]),
            stride=tuple(layer["stride"]), padding=tuple(layer["padding"]),
            dilation=tuple(layer["dilation"]),
        )  # fmt: skip
    if kind in ("maxpool2d", "avgpool2d"):
        pool = nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d
        return pool(tuple(layer["kernel"]), tuple(layer["stride"]), tuple(layer["padding"]))
    if kind == "gelu":
        return nn.GELU(approximate=str(layer.get("approximate", "none")))
    if kind == "select":
        return Select(int(layer["in"]), torch.zeros(int(layer["out"]), dtype=torch.int64))
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "flatten": nn.Flatten, "identity": nn.Identity}
    if kind in simple:
        return simple[kind]()
    raise MdlkitError(f"unknown layer type {kind!r} in the architecture description")


def build_layers(layers: Sequence[Mapping[str, Any]]) -> nn.Sequential:
    """The network a description describes, freshly initialised (load its state dict next)."""
    try:
        with quiet_empty_layers():
            return nn.Sequential(*(_build(layer) for layer in layers))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MdlkitError(f"the architecture description is damaged ({exc!r})") from None
