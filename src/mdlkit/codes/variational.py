"""The variational (bits-back) code with a diagonal Gaussian posterior and a Gaussian prior.

L = KL(q ‖ prior) + E_{θ~q}[Σ_i −log2 p_θ(y_i | x_i)] + (prior choice), in bits, with
q = Π N(μ, σ²) over all weights and prior N(0, σ0²) per parameter tensor
(:class:`~mdlkit.codes.posterior.GaussianPosterior`; the KL is in closed form there).

q is trained by Bayes by Backprop: the ELBO (KL + n · mean NLL of a minibatch) as loss, with
reparameterised samples. For a network of ``Linear`` layers (an ``mlp``) the samples are drawn
with the local reparameterisation trick (Kingma, Salimans & Welling 2015): each unit's
pre-activation a = h·W + b under q is N(h·μ_W + μ_b, h²·σ_W² + σ_b²), sampled per example —
the same ELBO with a gradient of much lower variance; other models draw one θ per minibatch.

The prior scales σ0 (one per tensor) are either fixed at the spread of the tensor's initial
weights (``learn_prior=False``), or learned jointly with q (``learn_prior=True``: ln σ0 is a
parameter of the loss, empirical Bayes). Either way each tensor's σ0 is afterwards replaced
by the grid value (``len(PRIOR_GRID)`` choices) of smallest KL, and that choice, made from the
data, is charged log2 |grid| bits per tensor.

The length reported in ``length`` is the ideal one (the expected NLL from ``mc_samples``
draws). With ``verify=True`` q is also coded into a real bits-back stream by
:func:`mdlkit.codes.bits_back.encode_bits_back` and decoded back: ``coded_bits`` is the
stream's net size (final minus borrowed words), ``decoded`` says the labels and the borrowed
bits came back. The decoder obtains q by re-running this (deterministic) training on the
labels it decoded, as a receiver would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from mdlkit.bits import LN2, CodeLength
from mdlkit.codes.bits_back import BitsBackCode, decode_bits_back, encode_bits_back
from mdlkit.codes.posterior import (
    PRIOR_CHOICE_BITS,
    PRIOR_GRID,
    GaussianPosterior,
    gaussian_kl_nats,
)
from mdlkit.codes.result import CodeResult
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = [
    "PRIOR_GRID",
    "VariationalCode",
    "gaussian_kl_nats",
    "train_posterior",
    "variational_code",
]


@dataclass(frozen=True, kw_only=True)
class VariationalCode(CodeResult):
    """The variational code length, its parts, what was chosen, and the bits-back stream
    (``bits_back``, only with ``verify=True``).

    ``data_bits_stderr`` is the Monte Carlo standard error of the data part.
    """

    data_bits_stderr: float
    prior_sigmas: dict[str, float]
    train_accuracy: float
    posterior: GaussianPosterior | None = field(default=None, repr=False, compare=False)
    bits_back: BitsBackCode | None = field(default=None, repr=False, compare=False)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "data_bits_stderr": self.data_bits_stderr,
            "train_accuracy": self.train_accuracy,
        }
        if self.bits_back is not None:
            out["bits_back"] = self.bits_back.details()
        return out


def _lrt_ready(model: nn.Module) -> bool:
    """Whether ``model`` is a Sequential of biased ``Linear`` layers and parameter-free ones."""
    if not isinstance(model, nn.Sequential):
        return False
    for child in model.children():
        if isinstance(child, nn.Linear):
            if child.bias is None:
                return False
        elif any(True for _ in child.parameters()):
            return False
    return True


def _lrt_forward(
    model: nn.Module,
    mu: dict[str, torch.Tensor],
    sigma: dict[str, torch.Tensor],
    x: torch.Tensor,
    gen: torch.Generator,
) -> torch.Tensor:
    """Logits with each Linear pre-activation drawn from its Gaussian under q (per example)."""
    h = x
    for name, child in model.named_children():
        if isinstance(child, nn.Linear):
            w, b = f"{name}.weight", f"{name}.bias"
            mean = F.linear(h, mu[w], mu[b])
            var = F.linear(h.square(), sigma[w].square(), sigma[b].square())
            h = mean + var.clamp_min(1e-16).sqrt() * torch.randn(mean.shape, generator=gen)
        else:
            h = child(h)
    return h


def train_posterior(
    x: torch.Tensor,
    y: torch.Tensor,
    spec: ModelSpec,
    *,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    init_sigma: float = 1e-3,
    learn_prior: bool = True,
    seed: int = 0,
) -> GaussianPosterior:
    """q trained by Bayes by Backprop on (x, y), σ0 snapped to the grid (see the module doc).

    Deterministic for a given seed, data and machine (a bits-back decoder re-runs it).
    """
    torch.manual_seed(seed)
    model = spec.build()
    names = [n for n, _ in model.named_parameters()]
    mu = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    rho0 = math.log(math.expm1(init_sigma))  # softplus⁻¹
    rho = {n: torch.full_like(mu[n], rho0).requires_grad_(True) for n in names}
    # Start each σ0 at the spread of its layer's initial weights (biases share their layer's):
    # a prior that neither pulls the weights in nor lets them run away.
    log_s0 = {}
    for k in names:
        weight_name = k.rsplit(".", 1)[0] + ".weight"
        source = mu.get(weight_name, mu[k])
        s0 = max(float(source.detach().std()), PRIOR_GRID[0]) if source.numel() > 1 else 1.0
        log_s0[k] = torch.tensor(math.log(s0), requires_grad=learn_prior)
    # The scales need a larger step than the means: they start orders of magnitude too small.
    groups: list[dict[str, Any]] = [
        {"params": list(mu.values()), "lr": lr},
        {"params": list(rho.values()), "lr": 10 * lr},
    ]
    if learn_prior:
        groups.append({"params": list(log_s0.values()), "lr": 10 * lr})
    opt = torch.optim.Adam(groups)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    lrt = _lrt_ready(model)

    def kl_nats() -> torch.Tensor:
        return torch.stack(
            [gaussian_kl_nats(mu[k], F.softplus(rho[k]), log_s0[k].exp()) for k in names]
        ).sum()

    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            sigma = {k: F.softplus(rho[k]) for k in names}
            if lrt:
                logits = _lrt_forward(model, mu, sigma, x[idx], gen)
            else:
                theta = {
                    k: mu[k] + sigma[k] * torch.randn(mu[k].shape, generator=gen) for k in names
                }
                logits = functional_call(model, theta, (x[idx],))
            nll = F.cross_entropy(logits, y[idx], reduction="sum") * (n / len(idx))
            loss = (nll + kl_nats()) / n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        post = GaussianPosterior(
            spec,
            {k: mu[k].detach().clone() for k in names},
            {k: F.softplus(rho[k]).detach().clone() for k in names},
            {k: float(log_s0[k].exp()) for k in names},
        )
    return post.snapped()


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
    learn_prior: bool = True,
) -> VariationalCode:
    """Train q by Bayes by Backprop on (x, y) and return the variational code length in bits.

    With ``verify=True`` also write the bits-back stream and decode it back (re-training q on
    the decoded labels): ``coded_bits`` and ``decoded`` are then set, ``bits_back`` holds the
    stream's figures.
    """
    if len(x) == 0 or len(x) != len(y):
        raise MdlkitError("the variational code needs as many labels as inputs, and at least one")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise MdlkitError(f"labels must lie in [0, {n_classes - 1}] (the number of classes)")
    if epochs < 1 or batch_size < 1 or mc_samples < 1 or not init_sigma > 0:
        raise MdlkitError("epochs, batch_size and mc_samples must be ≥ 1 and init_sigma > 0")

    def train(labels: torch.Tensor) -> GaussianPosterior:
        return train_posterior(
            x,
            labels,
            spec,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            init_sigma=init_sigma,
            learn_prior=learn_prior,
            seed=seed,
        )

    post = train(y)
    gen = torch.Generator().manual_seed(seed + 1)
    model = spec.build()
    with torch.no_grad():
        totals, correct = [], 0
        for _ in range(mc_samples):
            logits = functional_call(model, post.sample(gen), (x,))
            totals.append(float(F.cross_entropy(logits, y, reduction="sum")) / LN2)
            correct += int((logits.argmax(1) == y).sum())
    mean_nll = float(np.mean(totals))
    stderr = float(np.std(totals, ddof=1) / math.sqrt(mc_samples)) if mc_samples > 1 else 0.0
    length = CodeLength(
        {
            "kl": post.kl_bits(),
            "data": mean_nll,
            "prior choice": len(post.names) * PRIOR_CHOICE_BITS,
        },
        name="variational",
    )
    coded, decoded, stream_code = None, False, None
    if verify:
        stream_code = encode_bits_back(post, x, y, n_classes, seed=seed)
        labels = decode_bits_back(
            stream_code.stream,
            x,
            n_classes,
            spec,
            lambda decoded_y: train(torch.from_numpy(decoded_y.astype(np.int64))),
        )
        decoded = bool(np.array_equal(labels, y.numpy()))
        coded = stream_code.coded_bits
    return VariationalCode(
        name="variational",
        length=length,
        ideal_bits=length.total,
        coded_bits=coded,
        decoded=decoded,
        data_bits_stderr=stderr,
        prior_sigmas=dict(post.prior_sigma),
        train_accuracy=correct / (mc_samples * len(x)),
        posterior=post,
        bits_back=stream_code,
    )
