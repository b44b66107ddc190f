import numpy as np

from mdlkit.training import LossSaturation, epanechnikov_smooth, is_saturated


def test_saturation_fires_on_flat_noisy_curves() -> None:
    # On pure noise the halves' mean difference (sd σ·√(2/10) ≈ 0.45σ) exceeds the residual sd
    # (≈ 0.85σ with h = 5) only in the tail, about 3 % of windows: demand at least 90 %.
    rng = np.random.default_rng(1)
    fired = [is_saturated(0.5 + 0.02 * rng.standard_normal(20)) for _ in range(300)]
    assert np.mean(fired) >= 0.9
    assert is_saturated([0.5] * 20)  # exactly flat: fires through the 1e-10 margin


def test_saturation_does_not_fire_on_a_steadily_falling_curve() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        falling = np.linspace(1.0, 0.5, 20) + 0.005 * rng.standard_normal(20)
        assert not is_saturated(falling)


def test_rule_waits_for_min_epochs_and_checks_every_k() -> None:
    flat = [1.0] * 30
    assert not LossSaturation(window=10, min_epochs=31).should_stop(flat)
    assert LossSaturation(window=10, min_epochs=10).should_stop(flat)
    assert not LossSaturation(window=10, min_epochs=10, check_every=7).should_stop(flat)


def test_smoother_reproduces_a_constant_and_averages_noise() -> None:
    assert np.allclose(epanechnikov_smooth([3.0] * 9, bandwidth=2.5), 3.0)
    noisy = np.random.default_rng(0).standard_normal(200)
    assert np.std(epanechnikov_smooth(noisy, 5.0)) < 0.7 * np.std(noisy)
