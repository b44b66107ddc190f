"""The variational (bits-back) code with a diagonal Gaussian posterior and a Gaussian prior.

L = KL(q ‖ prior) + E_{θ~q}[Σ_i −log2 p_θ(y_i | x_i)] + (prior choice), in bits, with
q = Π N(μ, σ²) over all weights and prior N(0, σ0²) per layer. The KL in nats per entry is

    ln(σ0 / σ) + (σ² + μ²) / (2σ0²) − ½

q is trained by Bayes by Backprop (reparameterised samples, the ELBO as loss) with each layer's
prior scale fixed at the spread of its initial weights (re-fitting σ0 during training feeds back
into ever smaller weights and collapses q onto the prior). Afterwards each layer's σ0 is the
grid value (``len(PRIOR_GRID)`` choices) with the smallest KL, and that choice, made from the
data, is charged log2 |grid| bits per layer.

What is reported is the ideal length. A bits-back coder (e.g. constriction's ANS with the
posterior as the "borrowed" bits) reaches it up to the quantisation of q and the prior to a
finite precision and the initial bits it must borrow; mdlkit does not produce that bitstream,
so this length is not backed by a decodable file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from mdlkit.bits import LN2, CodeLength
from mdlkit.codes.result import CodeResult
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = [
    "PRIOR_GRID",
    "VariationalCode",
    "gaussian_kl_nats",
    "variational_code",
]

# σ0 ∈ {2^(k/2)}: 2^-10 … 2^2, 25 values.
PRIOR_GRID = tuple(2.0 ** (k / 2) for k in range(-20, 5))


def gaussian_kl_nats(
    mu: torch.Tensor, sigma: torch.Tensor, prior_sigma: float | torch.Tensor
) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, σ0²)) summed over entries, in nats (closed form).

    >>> round(float(gaussian_kl_nats(torch.tensor([0.0]), torch.tensor([1.0]), 1.0)), 12)
    0.0
    """
    s0 = torch.as_tensor(prior_sigma, dtype=mu.dtype)
    return (torch.log(s0 / sigma) + (sigma.square() + mu.square()) / (2 * s0.square()) - 0.5).sum()


def _best_prior(mu: torch.Tensor, rho: torch.Tensor) -> float:
    """The grid σ0 with the smallest KL for this layer's posterior."""
    kls = [float(gaussian_kl_nats(mu, F.softplus(rho), s0)) for s0 in PRIOR_GRID]
    return PRIOR_GRID[int(np.argmin(kls))]


@dataclass(frozen=True, kw_only=True)
class VariationalCode(CodeResult):
    """The variational code length (ideal only: no bitstream), its parts, and what was chosen.

    ``data_bits_stderr`` is the Monte Carlo standard error of the data part.
    """

    data_bits_stderr: float
    prior_sigmas: dict[str, float]
    train_accuracy: float

    def details(self) -> dict[str, Any]:
        return {"data_bits_stderr": self.data_bits_stderr, "train_accuracy": self.train_accuracy}


def variational_code(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    spec: ModelSpec,
    *,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    init_sigma: float = 1e-3,
    mc_samples: int = 10,
    seed: int = 0,
    verify: bool = False,
) -> VariationalCode:
    """Train q by Bayes by Backprop on (x, y) and return the variational code length in bits."""
    if verify:
        raise MdlkitError(
            "the variational code writes no bitstream, so nothing can be decoded "
            "back; call it with verify=False for its ideal length"
        )
    if len(x) == 0 or len(x) != len(y):
        raise MdlkitError("the variational code needs as many labels as inputs, and at least one")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise MdlkitError(f"labels must lie in [0, {n_classes - 1}] (the number of classes)")
    torch.manual_seed(seed)
    model = spec.build()
    names = [n for n, _ in model.named_parameters()]
    mu = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    rho0 = math.log(math.expm1(init_sigma))  # softplus⁻¹
    rho = {n: torch.full_like(mu[n], rho0).requires_grad_(True) for n in names}
    # The spread of each layer's initial weights (biases share their layer's): a prior that
    # neither pulls the weights in nor lets them run away.
    prior = {}
    for k in names:
        weight_name = k.rsplit(".", 1)[0] + ".weight"
        source = mu.get(weight_name, mu[k])
        prior[k] = max(float(source.detach().std()), PRIOR_GRID[0]) if source.numel() > 1 else 1.0
    # The scales need a larger step than the means: they start orders of magnitude too small.
    opt = torch.optim.Adam(
        [{"params": list(mu.values()), "lr": lr}, {"params": list(rho.values()), "lr": 10 * lr}]
    )
    gen = torch.Generator().manual_seed(seed)
    n = len(x)

    def sample() -> dict[str, torch.Tensor]:
        return {
            k: mu[k] + F.softplus(rho[k]) * torch.randn(mu[k].shape, generator=gen) for k in names
        }

    def kl_nats() -> torch.Tensor:
        return torch.stack(
            [gaussian_kl_nats(mu[k], F.softplus(rho[k]), prior[k]) for k in names]
        ).sum()

    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            nll = F.cross_entropy(
                functional_call(model, sample(), (x[idx],)), y[idx], reduction="sum"
            ) * (n / len(idx))
            loss = (nll + kl_nats()) / n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        prior = {k: _best_prior(mu[k], rho[k]) for k in names}
        kl_bits = float(kl_nats()) / LN2
        totals, correct = [], 0
        for _ in range(mc_samples):
            logits = functional_call(model, sample(), (x,))
            totals.append(float(F.cross_entropy(logits, y, reduction="sum")) / LN2)
            correct += int((logits.argmax(1) == y).sum())
        mean_nll = float(np.mean(totals))
        stderr = float(np.std(totals, ddof=1) / math.sqrt(mc_samples)) if mc_samples > 1 else 0.0
    length = CodeLength(
        {"kl": kl_bits, "data": mean_nll, "prior choice": len(names) * math.log2(len(PRIOR_GRID))},
        name="variational",
    )
    return VariationalCode(
        name="variational",
        length=length,
        ideal_bits=length.total,
        data_bits_stderr=stderr,
        prior_sigmas=prior,
        train_accuracy=correct / (mc_samples * n),
    )
