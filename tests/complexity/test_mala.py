"""MALA: exact on a Gaussian where SGLD's step biases it, every proposal kept on a flat
potential, a refused proposal leaves the weights untouched, the step tunes toward 0.574."""

import math

import torch

from mdlkit.complexity import MALA, SGLD


def _run(sampler: str, step: float, steps: int, dim: int = 20, adapt: int = 0) -> tuple:
    """Mean of L = ½‖w‖² over the last ``steps`` of a chain on U = L (nβ = 1, γ = 0), and the
    optimizer. The target is N(0, I): E[L] = dim/2 exactly."""
    w = torch.nn.Parameter(torch.zeros(dim, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    opt: torch.optim.Optimizer
    if sampler == "mala":
        opt = MALA([w], step=step, n_beta=1.0, gamma=0.0, adapt=adapt, generator=generator)
    else:
        opt = SGLD([w], step=step, n_beta=1.0, gamma=0.0, generator=generator)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * w.square().sum()
        loss.backward()
        return loss

    values = []
    for t in range(adapt + steps):
        if sampler == "mala":
            value = float(opt.step(closure))
        else:
            value = float(closure().detach())
            opt.step()
        if t >= adapt:
            values.append(value)
    return sum(values) / len(values), opt


def test_mala_is_exact_where_sgld_s_step_biases_the_loss() -> None:
    # Euler–Maruyama at ε·h = 1.5 on N(0, I): variance 1/(1 − ε/4) = 1.6, so E[L] = 16 not 10
    sgld, _ = _run("sgld", 1.5, 1500)
    mala, opt = _run("mala", 1.5, 1500)
    assert abs(sgld - 10 / (1 - 1.5 / 4)) < 1.5
    assert abs(mala - 10.0) < 1.0  # 10 %: the mean of 1500 correlated draws, std ≈ 0.3
    assert 0.2 < opt.acceptance < 0.95


def test_a_flat_potential_keeps_every_proposal() -> None:
    # U constant: the Hastings ratio is ‖ξ‖²/2 − ‖√ε·ξ‖²/(2ε) = 0, so every move is kept
    w = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = MALA([w], step=0.1, n_beta=1.0, gamma=0.0, generator=torch.Generator().manual_seed(1))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.0 * w.sum()
        loss.backward()
        return loss

    for _ in range(200):
        opt.step(closure)
    assert opt.acceptance == 1.0 and float(w.detach().abs().sum()) > 0


def test_a_refused_proposal_leaves_the_weights_bit_for_bit() -> None:
    # a step of 1e6 on N(0, I) is refused (the proposal lands ~10³ standard deviations out)
    w = torch.nn.Parameter(torch.linspace(-1, 1, 7))
    start = w.detach().clone()
    opt = MALA([w], step=1e6, n_beta=1.0, gamma=0.0, generator=torch.Generator().manual_seed(2))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * w.square().sum()
        loss.backward()
        return loss

    losses = {float(opt.step(closure)) for _ in range(20)}
    assert opt.acceptance == 0.0 and torch.equal(w.detach(), start)
    assert losses == {float(0.5 * start.square().sum())}


def test_the_step_tunes_toward_the_target_acceptance() -> None:
    # from a step 1000× too small, the burn-in walk raises ε until about 57 % are kept
    _, opt = _run("mala", 1e-3, 800, dim=50, adapt=600)
    assert opt.step_size > 0.1 and math.isfinite(opt.step_size)
    assert 0.4 < opt.acceptance < 0.75
