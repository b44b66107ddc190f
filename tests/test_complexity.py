"""LLC: known λ (Aoyagi's deep linear formula), the SGLD sampler's limits, the estimator."""

import math

import pytest
import torch

from mdlkit.complexity import (
    SGLD,
    LLCSettings,
    deep_linear_lambda,
    estimate_llc,
    normal_crossing_lambda,
    regular_lambda,
)
from mdlkit.complexity.llc import _chain
from mdlkit.data import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import head_for
from mdlkit.training import ShuffledBatches


def _reduced_rank_regression(m: int, n: int, h: int, r: int) -> float:
    """Aoyagi & Watanabe (2005): λ of y = B A x, output M, input N, hidden H, true rank r."""
    if n + r <= m + h and m + r <= n + h and h + r <= m + n:
        extra = 0 if (m + h + n + r) % 2 == 0 else 1
        return (2 * (h + r) * (m + n) - (m - n) ** 2 - (h + r) ** 2 + extra) / 8
    if m + h < n + r:
        return (h * m - h * r + n * r) / 2
    if n + h < m + r:
        return (h * n - h * r + m * r) / 2
    return m * n / 2


@pytest.mark.parametrize(("m", "k"), [(1, 1), (5, 5), (3, 7), (10, 2)])
def test_aoyagi_one_layer_is_mk_over_two(m: int, k: int) -> None:
    assert deep_linear_lambda([k, m], 0) == m * k / 2 == regular_lambda(m * k)


def test_aoyagi_reproduces_reduced_rank_regression() -> None:
    checked = 0
    for n in range(1, 8):
        for h in range(1, 8):
            for m in range(1, 8):
                for r in range(0, min(n, h, m) + 1):
                    assert deep_linear_lambda([n, h, m], r) == pytest.approx(
                        _reduced_rank_regression(m, n, h, r)
                    ), (n, h, m, r)
                    checked += 1
    assert checked > 500


def test_known_examples_and_normal_crossings() -> None:
    assert deep_linear_lambda([5, 3, 5], 0) == 6.5
    assert deep_linear_lambda([6, 4, 6], 2) == 13.5
    assert normal_crossing_lambda([1, 2]) == 0.25
    with pytest.raises(MdlkitError):
        deep_linear_lambda([5, 3, 5], 4)


def test_sgld_without_noise_is_gradient_descent() -> None:
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    step, n_beta, gamma = 1e-2, 40.0, 3.0
    sgld = SGLD(a.parameters(), step=step, n_beta=n_beta, gamma=gamma, noise=0.0)
    centers = [p.detach().clone() for p in b.parameters()]
    for _ in range(5):
        sgld.zero_grad()
        torch.nn.functional.mse_loss(a(x), y).backward()
        sgld.step()
        # by hand: gradient descent with step ε·nβ/2 on L + (γ / (2 nβ))·‖w − w*‖²
        loss = torch.nn.functional.mse_loss(b(x), y)
        loss = loss + gamma / (2 * n_beta) * sum(
            ((p - c) ** 2).sum() for p, c in zip(b.parameters(), centers, strict=True)
        )
        grads = torch.autograd.grad(loss, list(b.parameters()))
        with torch.no_grad():
            for p, g in zip(b.parameters(), grads, strict=True):
                p -= step * n_beta / 2 * g
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def _regular_problem(n: int = 10_000) -> tuple[torch.nn.Linear, Split]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=g)
    y = x @ torch.randn(5, 5, generator=g).T + torch.randn(n, 5, generator=g)
    model = torch.nn.Linear(5, 5, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(x, y).solution.T)  # w*: the exact minimum
    return model, Split(x, y)


def test_llc_of_a_regular_model_is_within_10_percent_of_d_over_2() -> None:
    model, data = _regular_problem()
    settings = LLCSettings(step=1e-4, gamma=1.0, chains=4, burn_in=300, draws=700,
                           batch_size=None)  # fmt: skip
    result = estimate_llc(model, data, settings=settings)
    assert result.llc == pytest.approx(12.5, rel=0.10)  # a 5×5 linear map: d/2 = 12.5
    assert result.warnings == ()
    assert result.n_beta == pytest.approx(10_000 / math.log(10_000))


def test_chains_do_not_depend_on_their_order() -> None:
    model, data = _regular_problem(2_000)
    settings = LLCSettings(step=1e-4, gamma=1.0, chains=3, burn_in=5, draws=10)
    result = estimate_llc(model, data, settings=settings)
    loss = head_for(data)
    # each chain run on its own, last one first, gives the same trace as inside the estimate
    for c in (2, 0, 1):
        batches = lambda seed: ShuffledBatches(settings.batch_size, seed)  # noqa: E731
        alone, _ = _chain(model, data, loss, settings, result.n_beta, c, batches)
        assert tuple(alone) == result.traces[c]
    assert len(set(result.per_chain)) == 3  # and the chains are not copies of each other


def test_bad_settings_and_a_nan_loss_are_clear_errors() -> None:
    model, data = _regular_problem(100)
    with pytest.raises(MdlkitError, match="unstable"):
        estimate_llc(model, data, settings=LLCSettings(step=0.1, gamma=20.0))
    with pytest.raises(MdlkitError, match="must be > 0"):
        estimate_llc(model, data, settings=LLCSettings(step=-1e-3))
    with pytest.raises(MdlkitError, match="too large"):
        estimate_llc(model, data, settings=LLCSettings(step=1.0, gamma=0.0, draws=500))
