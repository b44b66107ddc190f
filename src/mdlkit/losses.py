"""The Gaussian description-length loss with a learned σ.

For regression y = f(x) + noise, each y is coded with N(f_θ(x), σ²) discretized at the precision
ε the data is stored at. Bits per sample (one output):

    (y − f)² / (2σ² ln 2) + ½ log2(2π σ²) − log2 ε

σ is a trainable scalar (init 0.1) optimized jointly with the network. Training uses the
σ-dependent part in nats (``forward``); reports use the full expression with its constants
(``codelength``) so description lengths are absolute. With fixed σ it is MSE up to constants.

>>> import torch
>>> loss = GaussianCodelength(sigma_init=1.0, epsilon=1.0, learn_sigma=False)
>>> y = torch.zeros(4, 1)
>>> round(loss.codelength(y, y).total / 4, 6)  # ½ log2(2π) per sample at the mean
1.325748
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mdlkit.bits import LN2, CodeLength
from mdlkit.errors import MdlkitError

__all__ = ["GaussianCodelength"]


class GaussianCodelength(nn.Module):
    """Gaussian negative log-likelihood with σ = exp(log σ) learned (or fixed).

    Args:
        sigma_init: initial σ > 0 (in the units of y).
        epsilon: the data precision ε > 0 (in the units of y); only reports depend on it.
        learn_sigma: make σ a trainable parameter (else a fixed buffer).
    """

    def __init__(
        self, sigma_init: float = 0.1, epsilon: float = 1e-3, learn_sigma: bool = True
    ) -> None:
        super().__init__()
        if not sigma_init > 0 or not epsilon > 0:
            raise MdlkitError(f"σ init and ε must be > 0, got σ={sigma_init}, ε={epsilon}")
        log_sigma = torch.tensor(math.log(sigma_init), dtype=torch.float32)
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)
        self.epsilon = float(epsilon)

    @property
    def sigma(self) -> float:
        """The current σ as a Python float."""
        return float(torch.exp(self.log_sigma.detach()))

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean over samples of the σ-dependent nats: Σ_outputs (y − f)²/(2σ²) + ln σ."""
        sigma2 = torch.exp(2 * self.log_sigma)
        per_sample = ((target - output).square() / (2 * sigma2) + self.log_sigma).sum(dim=1)
        return per_sample.mean()

    @torch.no_grad()
    def codelength(self, output: torch.Tensor, target: torch.Tensor) -> CodeLength:
        """The full description length of ``target`` in bits, split into its three terms."""
        sigma = torch.exp(self.log_sigma.double())
        residual = (target.double() - output.double()).square().sum()
        count = target.numel()
        per_sample = 0.5 * math.log2(2 * math.pi * float(sigma) ** 2) - math.log2(self.epsilon)
        if per_sample < 0:
            raise MdlkitError(
                f"ε = {self.epsilon} is coarser than σ = {float(sigma):.3g}: the continuous "
                "formula fails there; use a finer ε or the discretized length"
            )
        return CodeLength(
            {
                "residual": float(residual / (2 * sigma**2 * LN2)),
                "normalizer": count * per_sample,
            },
            name="gaussian",
        )
