from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from mdlkit.codes.bits_back import BitsBackStream, decode_bits_back, encode_bits_back
from mdlkit.codes.bits_back_grid import Q_HALF_WIDTH, choose_grids, log2_bin_mass
from mdlkit.codes.posterior import PRIOR_GRID, GaussianPosterior
from mdlkit.codes.variational import variational_code
from mdlkit.data import load_digits
from mdlkit.errors import MdlkitError
from mdlkit.models import ModelSpec

SPEC = ModelSpec("mlp", {"sizes": [64, 12, 10]})
N = 300


def _digits(shuffle: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    s = load_digits(seed=0)
    x, y = s.train.x[:N], s.train.y[:N].clone()
    if shuffle:
        y = y[torch.randperm(N, generator=torch.Generator().manual_seed(1))]
    return x, y


def _fitted(x: torch.Tensor, y: torch.Tensor, sigma: float = 0.03) -> GaussianPosterior:
    """q around a net fitted by plain Adam (fast and deterministic): μ its weights, σ fixed,
    each σ0 the grid value of smallest KL. Any q is a valid bits-back posterior."""
    torch.manual_seed(0)
    model = SPEC.build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    mu = {n: p.detach().clone() for n, p in model.named_parameters()}
    sig = {n: torch.full_like(p, sigma) for n, p in mu.items()}
    return GaussianPosterior(SPEC, mu, sig, dict.fromkeys(mu, 1.0)).snapped()


@pytest.fixture(scope="module")
def trained() -> tuple[GaussianPosterior, torch.Tensor, torch.Tensor]:
    torch.set_num_threads(1)
    x, y = _digits()
    return _fitted(x, y), x, y


def test_round_trip_gives_back_labels_and_borrowed_words(trained) -> None:  # type: ignore[no-untyped-def]
    post, x, y = trained
    code = encode_bits_back(post, x, y, 10, seed=3)
    stream = code.stream
    assert code.coded_bits == 32 * (len(stream.words) - stream.initial_words)
    assert code.borrowed_bits == 32 * stream.initial_words
    # drawing the weights took bits from the borrowed stack, and no more than it held
    assert 0 < code.consumed_bits < code.borrowed_bits
    assert np.array_equal(decode_bits_back(stream, x, 10, SPEC, post), y.numpy())
    # the posterior is fitted: the sampled net beats chance, so the draw is not the prior's
    assert code.accuracy > 0.5
    assert code.data_bits < N * math.log2(10)


def test_coded_length_is_the_ideal_within_one_percent(trained) -> None:  # type: ignore[no-untyped-def]
    post, x, y = trained
    codes = [encode_bits_back(post, x, y, 10, seed=s) for s in range(4)]
    for c in codes:
        # this draw's ideal: Σ log2 q(k)/p(k) + Σ −log2 p_θ(y) + side info
        assert abs(c.coded_bits - c.ideal_bits) <= 0.01 * c.ideal_bits + 64
        # side info: σ0 index, exponent, two bit lengths L, and L − 1 bits of each number
        lengths = [
            (2 * g.k_min if g.k_min >= 0 else -2 * g.k_min - 1).bit_length()
            for g in c.grids.values()
        ] + [(g.k_max - g.k_min).bit_length() for g in c.grids.values()]
        fixed = 4 * math.log2(25 * 57 * 25 * 22)
        assert c.side_bits == pytest.approx(fixed + sum(max(n - 1, 0) for n in lengths))
    # on average: KL (closed form) + the expected loss + side info
    mean_coded = np.mean([c.coded_bits for c in codes])
    expected = codes[0].kl_bits + np.mean([c.data_bits for c in codes]) + codes[0].side_bits
    assert abs(mean_coded - expected) <= 0.01 * expected + 64


def test_shuffled_labels_cost_at_least_the_uniform_code() -> None:
    # decoding is a bijection from the final stack onto (labels, borrowed words), so no
    # q — even one trained on these labels — makes random labels shorter than their entropy
    # except by a few bits with tiny probability.
    x, y = _digits(shuffle=True)
    post = _fitted(x, y)
    code = encode_bits_back(post, x, y, 10)
    assert code.coded_bits >= N * math.log2(10) - 32
    assert np.array_equal(decode_bits_back(code.stream, x, 10, SPEC, post), y.numpy())


def test_variational_code_verify_decodes_by_retraining() -> None:
    x, y = _digits()
    kwargs = {"epochs": 2, "batch_size": 64, "mc_samples": 2}
    r = variational_code(x[:100], y[:100], 10, SPEC, verify=True, **kwargs)  # type: ignore[arg-type]
    assert r.decoded and r.bits_back is not None
    assert r.coded_bits == r.bits_back.coded_bits
    assert r.to_dict()["bits_back"]["borrowed_bits"] == r.bits_back.borrowed_bits


def test_a_different_posterior_does_not_give_the_borrowed_bits_back(trained) -> None:  # type: ignore[no-untyped-def]
    post, x, y = trained
    stream = encode_bits_back(post, x, y, 10).stream
    other = GaussianPosterior(
        post.spec, post.mu, {k: s * 1.01 for k, s in post.sigma.items()}, post.prior_sigma
    )
    with pytest.raises(MdlkitError, match="borrowed bits"):
        decode_bits_back(stream, x, 10, SPEC, other)


@settings(max_examples=25, deadline=None)
@given(position=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 31))
def test_a_damaged_stream_fails_cleanly(trained, position: float, bit: int) -> None:  # type: ignore[no-untyped-def]
    post, x, y = trained
    stream = _encoded(post, x, y)
    words = stream.words.copy()
    i = int(position * len(words))
    words[i] ^= np.uint32(1 << bit)
    damaged = BitsBackStream(words, stream.initial_words, stream.seed, stream.n_labels)
    try:
        labels = decode_bits_back(damaged, x, 10, SPEC, post)
    except MdlkitError:
        return
    assert not np.array_equal(labels, y.numpy())  # pragma: no cover (never seen)


_CACHE: dict[int, BitsBackStream] = {}


def _encoded(post: GaussianPosterior, x: torch.Tensor, y: torch.Tensor) -> BitsBackStream:
    if id(post) not in _CACHE:
        _CACHE[id(post)] = encode_bits_back(post, x, y, 10).stream
    return _CACHE[id(post)]


def test_truncated_or_padded_streams_and_bad_arguments_fail_cleanly(trained) -> None:  # type: ignore[no-untyped-def]
    post, x, y = trained
    s = _encoded(post, x, y)
    cases = [
        BitsBackStream(s.words[1:], s.initial_words, s.seed, s.n_labels),
        BitsBackStream(s.words[:-1], s.initial_words, s.seed, s.n_labels),
        BitsBackStream(np.append(s.words, np.uint32(0)), s.initial_words, s.seed, s.n_labels),
        BitsBackStream(np.append(s.words, np.uint32(7)), s.initial_words, s.seed, s.n_labels),
        BitsBackStream(s.words[:3], s.initial_words, s.seed, s.n_labels),
        BitsBackStream(s.words, s.initial_words, s.seed + 1, s.n_labels),
    ]
    for stream in cases:
        with pytest.raises(MdlkitError):
            decode_bits_back(stream, x, 10, SPEC, post)
    with pytest.raises(MdlkitError, match="inputs"):
        decode_bits_back(s, x[:10], 10, SPEC, post)
    with pytest.raises(MdlkitError, match="labels must lie"):
        encode_bits_back(post, x, torch.full((N,), 10), 10)
    off_grid = GaussianPosterior(post.spec, post.mu, post.sigma, dict.fromkeys(post.mu, 0.3))
    with pytest.raises(MdlkitError, match="PRIOR_GRID"):
        encode_bits_back(off_grid, x, y, 10)


def test_grids_are_powers_of_two_below_the_smallest_sigma_and_cover_q() -> None:
    gen = torch.Generator().manual_seed(0)
    spec = ModelSpec("mlp", {"sizes": [5, 3]})
    mu = {"0.weight": torch.randn(3, 5, generator=gen), "0.bias": torch.tensor([0.5, -2.0, 9.0])}
    sigma = {
        "0.weight": torch.rand(3, 5, generator=gen) * 0.1 + 0.01,
        "0.bias": torch.tensor([0.3, 0.01, 2.0]),
    }
    post = GaussianPosterior(spec, mu, sigma, {"0.weight": 1.0, "0.bias": PRIOR_GRID[3]})
    for name, g in choose_grids(post, ratio=8.0).items():
        m, s = mu[name].double().numpy().ravel(), sigma[name].double().numpy().ravel()
        assert g.delta <= s.min() / 8 < 2 * g.delta  # the largest power of two ≤ σ_min / 8
        # every weight's σ spans 8–16 coarse bins, and its range covers μ ± 5.9σ (96 bins
        # from a centre within ½ bin of μ)
        b, _, params = g.q_params(m, s)
        assert np.all((params[1] >= 8) | (b == 0)) and np.all(params[1] < 16)
        assert np.all(Q_HALF_WIDTH - np.abs(params[0]) >= 5.9 * params[1])
        assert g.k_min * g.delta <= (m - 5.9 * s).min()
        assert g.k_max * g.delta >= (m + 5.9 * s).max()
        # q's log-masses sum to one over a weight's whole range (the 0.3 bias: b = 4)
        k = np.arange(g.k_min, g.k_max + 1)
        if name == "0.bias":
            total = np.exp2(g.q_log2(k, np.full(len(k), m[0]), np.full(len(k), s[0]))).sum()
            assert total == pytest.approx(1.0, abs=1e-9)
    assert choose_grids(post)["0.bias"].prior_sigma == PRIOR_GRID[3]
    with pytest.raises(MdlkitError, match="too many grid steps"):
        tiny = {"0.weight": sigma["0.weight"], "0.bias": torch.tensor([0.3, 1e-9, 2.0])}
        choose_grids(GaussianPosterior(spec, mu, tiny, post.prior_sigma))


def test_bin_masses_match_scipy() -> None:
    k = np.array([-3.0, 0.0, 2.0, 40.0])
    mean = np.array([0.2, 0.0, 1.7, 1.0])
    std = np.array([1.5, 0.3, 8.0, 4.0])
    lo, hi = (k - 0.5 - mean) / std, (k + 0.5 - mean) / std
    mass = np.where(lo > 0, norm.sf(lo) - norm.sf(hi), norm.cdf(hi) - norm.cdf(lo))
    expected = np.log2(mass)  # the last bin is 9.6σ out: 3e-22
    assert np.allclose(log2_bin_mass(k, mean, std), expected, rtol=1e-9, atol=1e-12)
