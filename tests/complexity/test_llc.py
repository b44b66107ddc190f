"""LLC: known λ (Aoyagi's deep linear formula), the SGLD sampler's limits, the estimator."""

import copy
import math
from dataclasses import replace

import pytest
import torch

from mdlkit.complexity import (
    SGLD,
    LLCSettings,
    calibrate_llc,
    check_step,
    deep_linear_lambda,
    estimate_llc,
    make_toy,
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
        alone = _chain(model, data, loss, result.settings, result.n_beta, c, batches).trace
        assert tuple(alone) == result.traces[c]
    assert len(set(result.per_chain)) == 3  # and the chains are not copies of each other


def test_bad_settings_and_a_nan_loss_are_clear_errors() -> None:
    model, data = _regular_problem(100)
    with pytest.raises(MdlkitError, match="unstable"):
        estimate_llc(model, data, settings=LLCSettings(step=0.1, gamma=20.0))
    with pytest.raises(MdlkitError, match="must be > 0"):
        estimate_llc(model, data, settings=LLCSettings(step=-1e-3))
    with pytest.raises(MdlkitError, match="too large"):  # SGLD diverges (MALA would refuse)
        estimate_llc(model, data, settings=LLCSettings(step=1.0, gamma=0.0, draws=500,
                                                       sampler="sgld"))  # fmt: skip
    with pytest.raises(MdlkitError, match="full-batch loss"):
        estimate_llc(model, data, settings=LLCSettings(sampler="mala", batch_size=10))


# --- the bands on toys with known λ (benchmarks/results/llc_accuracy.md has the full table) ---

SHORT = LLCSettings(chains=2, burn_in=500, draws=2000)  # the default setting, shorter chains
# the normal crossing's cross-shaped posterior: SGLD at its own step (MALA mixes slowly there)
CROSSING_SHORT = replace(SHORT, step=3e-3, burn_in=1000, draws=4000, sampler="sgld")


@pytest.mark.parametrize(
    ("name", "settings", "band"),
    [
        ("deep-linear-4-4-4-r1", SHORT, 0.10),
        ("normal-crossing", CROSSING_SHORT, 0.20),
    ],
)
def test_smoke_bands_on_a_deep_linear_network_and_a_normal_crossing(
    name: str, settings: LLCSettings, band: float
) -> None:
    toy = make_toy(name)
    result = estimate_llc(toy.model, toy.data, toy.loss_fn, settings=settings)
    assert result.llc == pytest.approx(toy.true_llc, rel=band)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "band"),
    [
        ("linear", 0.10),
        ("deep-linear-5-3-5-r0", 0.10),
        ("deep-linear-4-4-4-r1", 0.10),
        ("deep-linear-6-4-6-r2", 0.10),
        ("normal-crossing", 0.20),
    ],
)
def test_bands_at_the_benchmark_settings(name: str, band: float) -> None:
    settings = LLCSettings()
    if name == "normal-crossing":
        settings = replace(settings, step=3e-3, burn_in=2000, draws=8000, sampler="sgld")
    toy = make_toy(name)
    result = estimate_llc(toy.model, toy.data, toy.loss_fn, settings=settings)
    assert result.llc == pytest.approx(toy.true_llc, rel=band)


@pytest.mark.slow
def test_llc_grows_with_the_true_rank_at_fixed_widths() -> None:
    estimates = []
    for rank in range(5):
        toy = make_toy(f"deep-linear-6-4-6-r{rank}")
        estimates.append(estimate_llc(toy.model, toy.data, toy.loss_fn).llc)
    assert estimates == sorted(estimates)
    assert estimates[-1] < 24  # and below d/2 = 24 of the degenerate model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deep-linear-6-4-4-6-r2"])
def test_deep_networks_meet_the_band_by_default_where_plain_sgld_overshoots(name: str) -> None:
    # three layers: SGLD at ε = 1e-4 (the former default) drifts along the layers' rescaling
    # symmetry into curvature near its stability limit and overshoots by more than 15 %; MALA
    # refuses those steps, and the self-check, which never sees λ, flags SGLD's estimate
    toy = make_toy(name)
    sgld = check_step(toy.model, toy.data, toy.loss_fn, settings=LLCSettings(sampler="sgld"))
    assert sgld.at_step.llc > 1.15 * toy.true_llc and not sgld.reliable
    check = check_step(toy.model, toy.data, toy.loss_fn)
    assert check.chosen.settings.sampler == "mala"
    assert check.chosen.llc == pytest.approx(toy.true_llc, rel=0.10)


def test_the_toys_put_w_star_at_the_empirical_minimum() -> None:
    for name in ("linear", "deep-linear-6-4-6-r2", "deep-linear-5-4-3-4-5-r2", "normal-crossing"):
        toy = make_toy(name, n=500)
        loss = toy.loss_fn(toy.model(toy.data.x), toy.data.y)
        grads = torch.autograd.grad(loss, list(toy.model.parameters()))
        assert max(float(g.abs().max()) for g in grads) < 1e-5, name
    # the known λ come from truth.py
    assert make_toy("deep-linear-5-3-5-r0", n=20).true_llc == deep_linear_lambda([5, 3, 5], 0)
    with pytest.raises(MdlkitError, match="unknown toy"):
        make_toy("deep-linear-5-x")


def test_warnings_say_what_is_wrong() -> None:
    toy = make_toy("deep-linear-6-4-6-r2", n=2_000)
    quick = LLCSettings(chains=2, burn_in=100, draws=300, sampler="sgld")
    # a step far too large for SGLD: λ̂ beyond d/2
    result = estimate_llc(toy.model, toy.data, toy.loss_fn, settings=replace(quick, step=5e-3))
    assert any("exceeds d/2" in w for w in result.warnings)
    # w* moved off the minimum: the chain falls below L_n(w*)
    moved = copy.deepcopy(toy.model)
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.3)
    result = estimate_llc(moved, toy.data, toy.loss_fn, settings=quick)
    assert result.llc < 0
    assert any("below L_n(w*)" in w for w in result.warnings)
    # a localizer far stronger than the loss: γ takes the equipartition
    result = estimate_llc(toy.model, toy.data, toy.loss_fn,
                          settings=replace(quick, gamma=1e4, step=1e-5))  # fmt: skip
    assert any("localizer dominates" in w for w in result.warnings)


def test_calibration_recommends_a_healthy_step_on_the_plateau() -> None:
    toy = make_toy("linear", n=2_000)
    settings = LLCSettings(chains=2, burn_in=200, draws=800, sampler="sgld")
    calibration = calibrate_llc(toy.model, toy.data, toy.loss_fn, settings=settings,
                                steps=[1e-5, 1e-4, 1e-3, 1e-1])  # fmt: skip
    steps = [row[0].step for row in calibration.rows]
    assert steps == [1e-5, 1e-4, 1e-3, 1e-1]
    assert calibration.rows[-1][1] is None  # ε = 0.1 diverges: the row says so, not a number
    assert "too large" in calibration.rows[-1][2][0]
    assert calibration.recommended is not None
    assert calibration.recommended.step in (1e-5, 1e-4)
    assert str(calibration.recommended.step) in calibration.reason or "step" in calibration.reason


def test_rmsprop_sampler_without_noise_is_preconditioned_descent() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    w0 = model.weight.detach().clone()
    opt = SGLD(model.parameters(), step=1e-2, n_beta=10.0, gamma=2.0, noise=0.0, rmsprop=0.9)
    torch.nn.functional.mse_loss(model(x), y).backward()
    g = model.weight.grad.detach().clone()
    opt.step()
    # first step: V̂ = (nβ g)², G = 1 / (|nβ g| + 0.1), drift nβ g (w = w* so no localizer)
    expected = w0 - 1e-2 / 2 * (10 * g) / ((10 * g).abs() + 0.1)
    assert torch.allclose(model.weight.detach(), expected, atol=1e-7)
