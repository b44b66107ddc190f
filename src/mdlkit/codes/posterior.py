"""A diagonal Gaussian posterior q over a model's parameters and its per-tensor Gaussian priors.

q = Π_i N(μ_i, σ_i²) over every parameter; each parameter tensor t has the prior N(0, σ0_t²)
with σ0_t on :data:`PRIOR_GRID` (a choice charged log2 |grid| bits per tensor). The KL in nats
per entry is

    ln(σ0 / σ) + (σ² + μ²) / (2σ0²) − ½

The variational code (:mod:`.variational`) trains q; the bits-back coder (:mod:`.bits_back`)
turns it into a stream.

>>> post = GaussianPosterior(ModelSpec("mlp", {"sizes": [2, 1]}),
...     {"0.weight": torch.zeros(1, 2), "0.bias": torch.zeros(1)},
...     {"0.weight": torch.ones(1, 2), "0.bias": torch.ones(1)}, {"0.weight": 1.0, "0.bias": 1.0})
>>> post.kl_bits(), post.n_params
(0.0, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from mdlkit.bits import LN2
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = [
    "PRIOR_CHOICE_BITS",
    "PRIOR_GRID",
    "GaussianPosterior",
    "best_prior",
    "gaussian_kl_nats",
]

# σ0 ∈ {2^(k/2)}: 2^-10 … 2^2, 25 values.
PRIOR_GRID = tuple(2.0 ** (k / 2) for k in range(-20, 5))
PRIOR_CHOICE_BITS = math.log2(len(PRIOR_GRID))


def gaussian_kl_nats(
    mu: torch.Tensor, sigma: torch.Tensor, prior_sigma: float | torch.Tensor
) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, σ0²)) summed over entries, in nats (closed form).

    >>> round(float(gaussian_kl_nats(torch.tensor([0.0]), torch.tensor([1.0]), 1.0)), 12)
    0.0
    """
    s0 = torch.as_tensor(prior_sigma, dtype=mu.dtype)
    return (torch.log(s0 / sigma) + (sigma.square() + mu.square()) / (2 * s0.square()) - 0.5).sum()


def best_prior(mu: torch.Tensor, sigma: torch.Tensor) -> float:
    """The grid σ0 with the smallest KL for one tensor's posterior.

    >>> best_prior(torch.zeros(100), torch.full((100,), 0.25))
    0.25
    """
    kls = [float(gaussian_kl_nats(mu, sigma, s0)) for s0 in PRIOR_GRID]
    return PRIOR_GRID[int(np.argmin(kls))]


@dataclass(frozen=True)
class GaussianPosterior:
    """q = Π N(μ, σ²) per parameter tensor of ``spec``'s model, and the prior scales σ0.

    ``mu`` and ``sigma`` map parameter names (as in ``named_parameters``) to float32 tensors
    of the parameters' shapes; ``prior_sigma`` maps them to σ0 (on :data:`PRIOR_GRID` for a
    code length with a charged prior choice).
    """

    spec: ModelSpec
    mu: dict[str, torch.Tensor]
    sigma: dict[str, torch.Tensor]
    prior_sigma: dict[str, float]

    def __post_init__(self) -> None:
        if set(self.mu) != set(self.sigma) or set(self.mu) != set(self.prior_sigma):
            raise MdlkitError("a posterior needs μ, σ and σ0 for the same parameter tensors")
        for name in self.mu:
            if self.mu[name].shape != self.sigma[name].shape:
                raise MdlkitError(f"μ and σ of {name!r} differ in shape")
            if not bool(torch.all(self.sigma[name] > 0)) or not self.prior_sigma[name] > 0:
                raise MdlkitError(f"σ and σ0 of {name!r} must be > 0")

    @property
    def names(self) -> list[str]:
        """The parameter tensors, in the model's order."""
        return list(self.mu)

    @property
    def n_params(self) -> int:
        return sum(int(t.numel()) for t in self.mu.values())

    def tensor_kl_bits(self) -> dict[str, float]:
        """KL(q ‖ prior) of each tensor in bits (closed form, float64)."""
        return {
            k: float(
                gaussian_kl_nats(self.mu[k].double(), self.sigma[k].double(), self.prior_sigma[k])
            )
            / LN2
            for k in self.names
        }

    def kl_bits(self) -> float:
        """KL(q ‖ prior) in bits."""
        return sum(self.tensor_kl_bits().values())

    def snapped(self) -> GaussianPosterior:
        """The same q with each tensor's σ0 the grid value of smallest KL."""
        prior = {k: best_prior(self.mu[k].double(), self.sigma[k].double()) for k in self.names}
        return GaussianPosterior(self.spec, self.mu, self.sigma, prior)

    def sample(self, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """One draw θ ~ q (float32)."""
        return {
            k: self.mu[k] + self.sigma[k] * torch.randn(self.mu[k].shape, generator=gen)
            for k in self.names
        }
