import math

import numpy as np
import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.coding import decode_gaussian, encode_gaussian, gaussian_bin_bits
from mdlkit.data import Split
from mdlkit.heads import GaussianHead as GaussianCodelength
from mdlkit.training import TrainConfig, train


def test_gaussian_loss_recovers_the_true_sigma_on_a_large_sample() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(20000, 1, generator=gen) * 2 - 1
    true_sigma = 0.3
    y = 2.0 * x + 1.0 + true_sigma * torch.randn(20000, 1, generator=gen)
    split = Split(x, y)
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    loss = GaussianCodelength(sigma_init=0.1)
    config = TrainConfig(max_epochs=40, batch_size=500, lr=2e-2, stopping=None)
    train(model, split, split, config, loss_fn=loss)
    assert loss.sigma == pytest.approx(true_sigma, rel=0.05)
    assert float(model.weight.detach()) == pytest.approx(2.0, abs=0.05)


def test_full_codelength_matches_the_closed_form() -> None:
    loss = GaussianCodelength(sigma_init=0.5, epsilon=0.01, learn_sigma=False)
    out = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[0.5], [0.0]])
    expected = sum(
        r**2 / (2 * 0.25 * math.log(2)) + 0.5 * math.log2(2 * math.pi * 0.25) - math.log2(0.01)
        for r in (0.5, -1.0)
    )
    assert loss.codelength(out, y).total == pytest.approx(expected, rel=1e-6)
    with pytest.raises(MdlkitError, match="coarser than"):
        GaussianCodelength(sigma_init=1e-4, epsilon=0.01).codelength(out, y)


@pytest.mark.parametrize("epsilon", [1e-2, 1e-3, 1e-6, 2.0**-23])
def test_discretized_gaussian_stream_round_trips_and_costs_its_ideal_length(
    epsilon: float,
) -> None:
    rng = np.random.default_rng(1)
    mu = rng.uniform(-2, 2, 4000)
    y = mu + 0.05 * rng.standard_normal(4000)
    enc = encode_gaussian(y, mu, sigma=0.05, epsilon=epsilon)
    assert np.array_equal(decode_gaussian(enc, mu, sigma=0.05), np.round(y / epsilon))
    # For ε ≪ σ the bin mass is ε·density: the ideal length is the continuous formula.
    continuous = float(
        ((y - mu) ** 2 / (2 * 0.05**2 * math.log(2))).sum()
        + len(y) * (0.5 * math.log2(2 * math.pi * 0.05**2) - math.log2(epsilon))
    )
    assert enc.ideal_bits == pytest.approx(continuous, rel=2e-3)
    assert enc.ideal_bits - 64 <= enc.coded_bits <= enc.ideal_bits * 1.001 + 64


def test_bin_mass_is_exact_in_the_far_tail() -> None:
    # 40 σ away the mass is tiny but must stay finite and large in bits, not inf or NaN.
    bits = gaussian_bin_bits(np.array([4000]), np.array([0.0]), sigma=1.0, epsilon=0.01)
    assert np.isfinite(bits).all() and bits[0] > 1000
    both_sides = gaussian_bin_bits(np.array([-300, 300]), np.zeros(2), sigma=1.0, epsilon=0.01)
    assert both_sides[0] == pytest.approx(both_sides[1], rel=1e-12)  # symmetric


def test_bad_gaussian_inputs() -> None:
    with pytest.raises(MdlkitError, match="one mean per target"):
        encode_gaussian(np.zeros(3), np.zeros(2), sigma=1.0, epsilon=0.1)
    with pytest.raises(MdlkitError, match="finite"):
        encode_gaussian(np.array([np.nan]), np.zeros(1), sigma=1.0, epsilon=0.1)
    with pytest.raises(MdlkitError, match="> 0"):
        GaussianCodelength(sigma_init=0.0)
