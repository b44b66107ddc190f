"""Models whose λ is known exactly, with data made so that the true parameter is the minimum.

Each toy is a model at w*, its training data, its loss (mean per-sample negative log-likelihood
in nats, noise σ = 1) and the true λ from :mod:`mdlkit.complexity.truth`:

- ``linear``: a bias-free 5×5 linear map, regular, λ = d/2 = 12.5;
- ``deep-linear-W-…-W-rR``: a bias-free deep linear network with those widths whose product has
  rank R (Aoyagi's λ), e.g. ``deep-linear-5-3-5-r0`` (6.5), ``deep-linear-6-4-6-r2`` (13.5);
- ``normal-crossing``: f(x) = x·w1·w2² on pure-noise targets, K(w) ∝ w1²·w2⁴, λ = 1/4 with
  multiplicity 1.

Why the data are made the way they are: with y = f_{w0}(x) + noise, the sampled loss is compared
with L_n(w*), so w* must be the EMPIRICAL minimum, not only the population one. The noise is
therefore projected orthogonal to the columns of the inputs (y = W0·x + P⊥·ξ): then
L_n(w) − L_n(w0) = ½·mean‖(W − W0)·x‖² exactly, w0 is the exact empirical minimizer of every model
below, and the tempered posterior is the idealized one the theory speaks of. (Without the
projection the estimate carries an offset of about −β·d/2 = −d/(2 ln n).)

>>> toy = make_toy("deep-linear-6-4-6-r2", n=200)
>>> toy.true_llc, toy.n_parameters, len(toy.data)
(13.5, 48, 200)
>>> toy.loss_fn(toy.model(toy.data.x), toy.data.y).backward()   # w* is the empirical minimum:
>>> max(float(p.grad.abs().max()) for p in toy.model.parameters()) < 1e-5
True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mdlkit.complexity.truth import deep_linear_lambda, normal_crossing_lambda, regular_lambda
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError

__all__ = ["TOYS", "NormalCrossing", "Toy", "deep_linear", "half_squared_error", "make_toy"]

TOYS: tuple[str, ...] = (
    "linear",
    "deep-linear-5-3-5-r0",
    "deep-linear-4-4-4-r1",
    "deep-linear-6-4-6-r2",
    "deep-linear-6-4-6-r4",
    "normal-crossing",
)
"""The named toys; any ``deep-linear-<widths>-r<rank>`` is accepted too."""


def half_squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ½‖y − f(x)‖² (the Gaussian NLL at σ = 1 without its constant), nats."""
    return 0.5 * (target - output).square().sum(dim=1).mean()


@dataclass(frozen=True)
class Toy:
    """A model at w*, its training data, its loss and its known λ."""

    name: str
    model: nn.Module
    data: Split
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    true_llc: float
    n_parameters: int
    description: str


class NormalCrossing(nn.Module):
    """f(x) = x·w1·w2² with scalar input and output; w* = (0, 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(()))
        self.w2 = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w1 * self.w2.square()


def deep_linear(widths: Sequence[int], rank: int) -> nn.Sequential:
    """Bias-free linear layers H_0 → … → H_L at a true point of product rank ``rank``: each layer
    has ones on its first ``rank`` diagonal entries and zeros elsewhere, so the product is the
    identity on the first ``rank`` coordinates."""
    layers = []
    for n_in, n_out in itertools.pairwise(widths):
        layer = nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            layer.weight.zero_()
            layer.weight[:rank, :rank] = torch.eye(rank)
        layers.append(layer)
    return nn.Sequential(*layers)


def _orthogonal_noise(x: torch.Tensor, outputs: int, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise (σ = 1) with its projection on the columns of x removed, in float64."""
    noise = torch.randn(len(x), outputs, generator=generator, dtype=torch.float64)
    x64 = x.to(torch.float64)
    coef = torch.linalg.lstsq(x64, noise).solution
    return noise - x64 @ coef


def _regression(
    model: nn.Module, inputs: int, outputs: int, n: int, generator: torch.Generator
) -> Split:
    x = torch.randn(n, inputs, generator=generator)
    with torch.no_grad():
        clean = model(x).to(torch.float64)
    y = clean + _orthogonal_noise(x, outputs, generator)
    return Split(x, y.to(torch.float32))


def make_toy(name: str, *, n: int = 10_000, seed: int = 0) -> Toy:
    """The toy ``name`` (see :data:`TOYS`) with ``n`` training samples, x ~ N(0, I)."""
    if n < 10:
        raise MdlkitError(f"a toy needs at least 10 samples, got n = {n}")
    generator = torch.Generator().manual_seed(seed)
    if name == "linear":
        linear = nn.Sequential(nn.Linear(5, 5, bias=False))
        with torch.no_grad():  # a generic full-rank map
            linear[0].weight = nn.Parameter(torch.randn(5, 5, generator=generator))
        data = _regression(linear, 5, 5, n, generator)
        return Toy(
            name,
            linear,
            data,
            half_squared_error,
            regular_lambda(25),
            25,
            "bias-free 5×5 linear map, regular: λ = d/2",
        )
    if name == "normal-crossing":
        x = torch.randn(n, 1, generator=generator)
        data = Split(x, _orthogonal_noise(x, 1, generator).to(torch.float32))
        return Toy(
            name,
            NormalCrossing(),
            data,
            half_squared_error,
            normal_crossing_lambda([1, 2]),
            2,
            "f(x) = x·w1·w2² on pure noise: K ∝ w1²·w2⁴, λ = 1/4, multiplicity 1",
        )
    match = re.fullmatch(r"deep-linear-((?:\d+-)+\d+)-r(\d+)", name)
    if match is None:
        raise MdlkitError(
            f"unknown toy {name!r}; choose one of {', '.join(TOYS)} "
            "(or deep-linear-<widths>-r<rank>)"
        )
    widths = [int(w) for w in match.group(1).split("-")]
    rank = int(match.group(2))
    true_llc = deep_linear_lambda(widths, rank)  # refuses a rank above the narrowest width
    model = deep_linear(widths, rank)
    data = _regression(model, widths[0], widths[-1], n, generator)
    d = sum(a * b for a, b in itertools.pairwise(widths))
    return Toy(
        name,
        model,
        data,
        half_squared_error,
        true_llc,
        d,
        f"bias-free deep linear network {widths}, true rank {rank}: Aoyagi's λ",
    )
