"""The step self-check (complexity.check_step) needs no true λ: it compares λ̂ at ε and ε/2."""

from __future__ import annotations

import math

from mdlkit.complexity import LLCSettings, check_step, length_gap, make_toy
from mdlkit.complexity.step_check import StepCheck


def _short(step: float) -> LLCSettings:
    return LLCSettings(step=step, chains=2, burn_in=200, draws=400, sampler="sgld")


def test_a_step_too_large_for_the_curvature_is_caught_and_the_half_step_reported() -> None:
    toy = make_toy("linear", n=2000)  # regular: λ = d/2 = 12.5
    check = check_step(toy.model, toy.data, toy.loss_fn, settings=_short(3e-3))
    assert check.at_half.settings.step == 1.5e-3 and check.at_half.settings.draws == 400
    assert check.gap == abs(check.at_step.llc - check.at_half.llc) / check.at_half.llc
    assert not check.reliable and check.chosen is check.at_half
    # halving moved the estimate toward the truth, which the check never saw
    assert abs(check.at_half.llc - 12.5) < abs(check.at_step.llc - 12.5)
    warning = check.warning()
    assert warning is not None and f"changed by {100 * check.gap:.0f} %" in warning
    assert "SGLD's step biases" in warning
    assert check.to_dict()["reliable"] is False


def test_mala_s_tuned_step_passes_and_keeps_its_estimate() -> None:
    toy = make_toy("linear", n=2000)
    settings = LLCSettings(chains=2, burn_in=200, draws=400)  # MALA, ε tuned in the burn-in
    check = check_step(toy.model, toy.data, toy.loss_fn, settings=settings)
    assert check.at_step.settings.sampler == "mala" and not check.at_half.settings.adapt_step
    assert check.at_half.settings.step == check.at_step.step_used / 2
    assert check.reliable and check.chosen is check.at_step and check.warning() is None
    assert math.isclose(check.chosen.llc, 12.5, rel_tol=0.1)
    assert check.error_bound == check.gap + check.length_gap + 2 * check.standard_error <= 0.10
    strict = StepCheck(check.at_step, check.at_half, tolerance=0.0)  # the tolerance decides
    assert not strict.reliable and strict.chosen is check.at_step  # MALA keeps its ε estimate


def test_the_length_gap_reads_the_first_half_of_each_chain() -> None:
    toy = make_toy("linear", n=300)
    result = check_step(toy.model, toy.data, toy.loss_fn,
                        settings=LLCSettings(chains=2, burn_in=4, draws=6)).at_step  # fmt: skip
    first = [sum(t[2:5]) / 3 for t in result.traces]  # burn-in 2, draws 3: steps 2, 3, 4
    half = result.n_beta * (sum(first) / 2 - result.initial_loss)
    assert math.isclose(length_gap(result), abs(result.llc - half) / abs(result.llc))


def test_chains_too_short_on_a_four_layer_network_are_flagged_with_the_sizes() -> None:
    toy = make_toy("deep-linear-5-4-4-4-5-r2", n=1000)  # λ = 9.5
    settings = LLCSettings(chains=2, burn_in=10, draws=30)
    check = check_step(toy.model, toy.data, toy.loss_fn, settings=settings)
    assert abs(check.chosen.llc / 9.5 - 1) > 0.15  # far off after 40 steps ...
    warning = check.warning()  # ... and the check says so, with the sizes and what to do
    assert not check.reliable and warning is not None
    assert f"changed by {100 * check.gap:.0f} %" in warning
    assert f"may be off by {100 * check.error_bound:.0f} %" in warning
    assert f"by {100 * check.length_gap:.0f} % from half the chain length" in warning
    assert "4× the burn-in and draws" in warning
