import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mdlkit import MdlkitError
from mdlkit.cli import main
from mdlkit.codes.learners import Fitted, TorchLearner
from mdlkit.codes.online import (
    BLENDS,
    decode_online,
    encode_online,
    prequential_code,
    switching_code,
)
from mdlkit.codes.schedules import check_schedule, doubling_schedule, fraction_schedule
from mdlkit.codes.variational import gaussian_kl_nats, variational_code
from mdlkit.data import load_digits
from mdlkit.data.splits import Split
from mdlkit.models import ModelSpec
from mdlkit.training import LossSaturation, TrainConfig, train


def _digits(n: int, shuffle: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    s = load_digits(seed=0)
    x, y = s.train.x[:n], s.train.y[:n].clone()
    if shuffle:
        y = y[torch.randperm(n, generator=torch.Generator().manual_seed(1))]
    return x, y


def _learner(hidden: int = 16, mode: str = "scratch") -> TorchLearner:
    sizes = [64, hidden, 10] if hidden else [64, 10]
    config = TrainConfig(max_epochs=30, batch_size=32, stopping=LossSaturation(window=6))
    return TorchLearner(ModelSpec("mlp", {"sizes": sizes}), config, mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["scratch", "continue"])
def test_prequential_bitstream_decodes_back_to_the_labels(mode: str) -> None:
    x, y = _digits(200)
    bounds = doubling_schedule(200, first=10)
    learner = _learner(mode=mode)
    result = prequential_code(x, y, 10, learner, bounds)
    encoded = encode_online(result)
    decoded = decode_online(encoded, x, 10, [learner], bounds)
    assert np.array_equal(decoded, y.numpy())
    ideal = result.length.total
    assert abs(encoded.coded_bits - ideal) <= 1e-4 * ideal + 64
    # block 0 is the uniform code: exactly t1 · log2 K
    assert result.block_bits[0] == pytest.approx(10 * math.log2(10), rel=1e-12)
    assert ideal < 200 * math.log2(10)  # it does learn


def test_switching_over_one_strategy_is_that_strategys_code() -> None:
    x, y = _digits(160)
    bounds = doubling_schedule(160, first=10)
    learner = _learner()
    alone = prequential_code(x, y, 10, learner, bounds)
    mixed = switching_code(x, y, 10, [learner], bounds)
    assert np.array_equal(alone.probs, mixed.probs)  # overhead 0: bit-identical distributions
    assert mixed.length.total == alone.length.total


class _Fixed:
    """A learner whose model ignores the data: fixed logits, so predictions are known exactly."""

    def __init__(self, logits: list[float]) -> None:
        self.logits = torch.tensor(logits)

    def fit(self, x: torch.Tensor, y: torch.Tensor, previous: Fitted | None, block: int) -> Fitted:
        model = nn.Linear(x.shape[1], len(self.logits))
        with torch.no_grad():
            model.weight.zero_()
            model.bias.copy_(self.logits)
        return Fitted(model, x[:0], y[:0])


def test_switching_pays_at_most_its_stated_overhead_over_the_best_strategy() -> None:
    x, y = _digits(300)
    bounds = doubling_schedule(300, first=10)
    learners = [_Fixed([3.0] + [0.0] * 9), _Fixed([0.0] * 9 + [3.0]), _learner()]
    mixed = switching_code(x, y, 10, learners, bounds)
    singles = [mixed.learner_result(j).length.total for j in range(3)]
    experts = 3 + 3 * len(BLENDS)  # each learner, and each pair's blends
    blocks = len(bounds) - 1
    assert mixed.length.total <= min(singles) + math.log2(experts) + math.log2(blocks) + 1e-9
    # and decoding the mixture re-runs the same computation
    decoded = decode_online(encode_online(mixed), x, 10, learners, bounds)
    assert np.array_equal(decoded, y.numpy())


def test_switching_length_matches_an_independent_mixture_over_blends() -> None:
    """Bayes over the experts (learners and blends) within a block, a fixed share between
    blocks, recomputed here in log space from each learner's own −log2 p."""
    x, y = _digits(200)
    bounds = doubling_schedule(200, first=10)
    blends = (0.1, 0.5)
    learners = [_learner(hidden=0), _learner(hidden=8)]
    mixed = switching_code(x, y, 10, learners, bounds, blends=blends)
    p = 2.0**-mixed.learner_bits  # (n, 2): each learner's probability of the true label
    mixes = [(1.0, 0.0), (0.0, 1.0), (0.9, 0.1), (0.5, 0.5)]
    log_v = np.full(len(mixes), -math.log(len(mixes)))
    total = 0.0
    for k, (start, end) in enumerate(itertools.pairwise(bounds)):
        for t in range(start, end):
            log_e = np.log([a * p[t, 0] + b * p[t, 1] for a, b in mixes])
            log_m = np.logaddexp.reduce(log_v + log_e)
            total -= log_m / math.log(2)
            log_v = log_v + log_e - log_m
        if end < len(y):
            alpha = 1.0 / (k + 2)
            log_v = np.log((1 - alpha) * np.exp(log_v) + alpha / len(mixes))
    assert mixed.ideal_bits == pytest.approx(total, rel=1e-9)
    # the learners' weights before block 0: the mean of the experts' rows under a flat prior
    assert np.allclose(mixed.weights[0], [0.6, 0.4])
    decoded = decode_online(encode_online(mixed), x, 10, learners, bounds, blends=blends)
    assert np.array_equal(decoded, y.numpy())


def test_on_shuffled_labels_no_code_beats_uniform_by_more_than_a_few_bits() -> None:
    x, y = _digits(300, shuffle=True)
    uniform = 300 * math.log2(10)
    bounds = doubling_schedule(300, first=10)
    preq = prequential_code(x, y, 10, _learner(), bounds).length.total
    switch = switching_code(x, y, 10, [_learner(0), _learner()], bounds).length.total
    var = variational_code(x, y, 10, ModelSpec("mlp", {"sizes": [64, 10]}), epochs=20).length
    for bits in (preq, switch, var.total):
        assert bits >= uniform - 8
    # Without charging its prior choice the variational code stays honest as well.
    assert var.parts["kl"] + var.parts["data"] >= uniform - 8


def test_variational_kl_matches_the_closed_form() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(50, generator=gen, dtype=torch.float64)
    sigma = torch.rand(50, generator=gen, dtype=torch.float64) + 0.05
    independent = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, sigma),
        torch.distributions.Normal(
            torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)
        ),
    ).sum()
    assert float(gaussian_kl_nats(mu, sigma, 0.7)) == pytest.approx(float(independent), rel=1e-12)
    assert float(gaussian_kl_nats(torch.zeros(3), torch.full((3,), 0.7), 0.7)) == pytest.approx(0)


def test_schedules() -> None:
    assert doubling_schedule(100, 10) == [0, 10, 20, 40, 80, 100]
    assert fraction_schedule(60000)[:4] == [0, 60, 120, 240]
    assert fraction_schedule(60000)[-1] == 60000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_schedule([0, 10, 10, 20], 20), "strictly increasing"),
        (lambda: check_schedule([0, 30, 20], 20), "strictly increasing"),
        (lambda: doubling_schedule(20, first=50), "larger than the data"),
        (lambda: fraction_schedule(100, [0.5, 0.2, 1.0]), "strictly increasing"),
        (lambda: prequential_code(*_digits(20), 5, _learner(), [0, 10, 20]), "labels must lie"),
        (lambda: replace(_learner(), members=0), "members >= 1"),
        (lambda: replace(_learner(), anneal=-1), "give both >= 0"),
        (
            lambda: replace(_learner(), members=2).fit(torch.zeros(4, 64), torch.zeros(4), None, 1),
            "averages class probabilities",
        ),
    ],
)
def test_bad_online_inputs_give_clear_errors(call: object, message: str) -> None:
    with pytest.raises(MdlkitError, match=message):
        call()  # type: ignore[operator]


def test_codelength_cli_bad_input(refused: Callable[..., str]) -> None:
    refused(["codelength", "--codes", "uniform,zip"], "unknown code 'zip'")
    refused(["codelength", "--first-block", "5000"], "larger than the data")
    refused(["codelength", "--schedule", "halving"])
    refused(["codelength", "--members", "0"], "--members must be >= 1")
    refused(["codelength", "--threads", "0"], "--threads must be >= 1")
    refused(["codelength", "--workers", "0"], "--workers must be >= 1")
    refused(["codelength", "--anneal", "-1"], "--anneal counts learning-rate phases")
    refused(["codelength", "--anneal-from", "-5"], "--anneal-from labels: give both >= 0")
    refused(["codelength", "--shift", "-1"], "--shift and --rotate must be >= 0")
    refused(["codelength", "--scale", "100", "--shift", "1"], "--scale 0–99")
    refused(["codelength", "--rotate", "10"], "--rotate, --scale need --shift 1+")
    refused(["codelength", "--shift", "2"], "--shift needs image inputs")  # an MLP by default


def test_an_annealed_learner_is_two_trainings_the_second_at_a_tenth_of_the_rate() -> None:
    """anneal=1 equals train() at lr (seed s) then train() at lr / 10 (seed s + 1) from its
    result, run here by hand; the extra phase changes the weights."""
    x, y = _digits(120)
    learner = replace(_learner(), config=TrainConfig(max_epochs=3, batch_size=32, stopping=None))
    annealed = replace(learner, anneal=1).fit(x, y, None, 5)
    plain = learner.fit(x, y, None, 5)
    fit_part, hold = (x[:-12], y[:-12]), (x[-12:], y[-12:])  # holdout: the last 10 %
    torch.manual_seed(5)
    model = learner.spec.build()
    for seed, lr in ((5, 1e-3), (6, 1e-4)):
        config = replace(learner.config, seed=seed, lr=lr)
        train(model, Split(*fit_part), Split(*hold), config)
        if seed == 5:
            for a, b in zip(model.parameters(), plain.model.parameters(), strict=True):
                assert torch.equal(a, b)
    for a, b in zip(model.parameters(), annealed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(plain.model[0].weight, annealed.model[0].weight)
    # below anneal_from seen samples the learner trains one phase: the plain weights
    late = replace(learner, anneal=1, anneal_from=121).fit(x, y, None, 5)
    for a, b in zip(late.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_codelength_cli_small_run(tmp_path: Path) -> None:
    out = tmp_path / "cl"
    argv = [
        "codelength",
        "--codes",
        "uniform,prequential,switching",
        "--epochs",
        "5",
        "--first-block",
        "100",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    import json

    report = json.loads((out / "results.json").read_text())
    codes = report["codes"]
    assert codes["uniform"]["bits"] == pytest.approx(1077 * math.log2(10))
    assert codes["prequential"]["verified"] and codes["switching"]["verified"]
    assert codes["prequential"]["bits"] < codes["uniform"]["bits"]
    assert (out / "codelength.png").exists()
    table = (out / "table.txt").read_text()  # lengths in bits; kbit only as a labelled extra
    assert f"{codes['uniform']['bits']:,.1f}" in table and "kbit" in table


def test_temperature_calibration_recovers_a_known_temperature() -> None:
    # Labels drawn from softmax(z / 2.5): the NLL-optimal temperature is 2.5 (large sample).
    from mdlkit.codes.learners import fit_temperature

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 4, generator=gen)
    model = nn.Linear(4, 5)
    with torch.no_grad():
        model.weight.copy_(3 * torch.randn(5, 4, generator=gen))
        model.bias.zero_()
        probs = torch.softmax(model(x) / 2.5, dim=1)
    y = torch.multinomial(probs, 1, generator=gen).squeeze(1)
    assert fit_temperature(model, x, y) == pytest.approx(2.5, rel=0.05)
    # The posterior over the grid 2^(k/4) puts nearly all weight on its point nearest 2.5.
    from mdlkit.codes.learners import temperature_posterior

    head = temperature_posterior(model, x, y)
    assert head.temperature == pytest.approx(2 ** (5 / 4))  # 2.378, the grid's nearest
    assert head.weights.max() > 0.9
    # Its weights are the likelihoods of the held-out labels, normalised (independently here).
    few_x, few_y = x[:5], model(x[:5]).argmax(1)  # five samples, all predicted right
    few = temperature_posterior(model, few_x, few_y)
    grid = np.array([2 ** (k / 4) for k in range(-8, 17)])
    with torch.no_grad():
        lik = np.array(
            [float(torch.softmax(model(few_x) / t, 1)[torch.arange(5), few_y].prod()) for t in grid]
        )
    assert np.allclose(few.weights, lik / lik.sum(), rtol=1e-6)
    assert few.weights.max() < 0.5  # five samples leave it spread, not at T = 0.25


def test_calibrated_prequential_code_still_decodes() -> None:
    x, y = _digits(120)
    bounds = doubling_schedule(120, first=10)
    config = TrainConfig(max_epochs=10, batch_size=32, stopping=None)
    learner = TorchLearner(ModelSpec("mlp", {"sizes": [64, 10]}), config, calibrate=True)
    result = prequential_code(x, y, 10, learner, bounds)
    assert all(f is not None and f.head is not None for f in result.fitted)
    assert np.array_equal(decode_online(encode_online(result), x, 10, [learner], bounds), y.numpy())


def test_codelength_runs_on_images_with_a_cnn() -> None:
    from mdlkit.recipes.codelength import CodelengthConfig, run_codelength

    config = CodelengthConfig(
        model="small-cnn",
        codes=("prequential", "switching"),
        epochs=2,
        first_block=200,
        verify=True,
    )
    report = run_codelength(config)
    assert report["codes"]["switching"]["verified"]
    assert [c["kind"] for c in report["codes"]["switching"]["candidates"]] == ["small-cnn"] * 2


def test_a_learners_own_stream_decodes_in_the_mixtures_pass_and_damage_is_caught() -> None:
    x, y = _digits(80)
    bounds = doubling_schedule(80, first=10)
    learners = [_learner(hidden=0), _learner(hidden=8)]
    mixed = switching_code(x, y, 10, learners, bounds)
    own = {1: mixed.learner_streams[1]}
    decoded = decode_online(encode_online(mixed), x, 10, learners, bounds, learner_streams=own)
    assert np.array_equal(decoded, y.numpy())
    # learner 1's stream decoded alone gives the same labels (what the joint pass vouches for)
    alone = decode_online(mixed.learner_streams[1], x, 10, [learners[1]], bounds)
    assert np.array_equal(alone, y.numpy())
    # learner 0's stream is not learner 1's: the pass notices
    with pytest.raises(MdlkitError, match="own stream decodes to other targets"):
        wrong = {1: mixed.learner_streams[0]}
        decode_online(encode_online(mixed), x, 10, learners, bounds, learner_streams=wrong)


@pytest.mark.parametrize("blend", [0.0, 1.0, -0.5, float("nan")])
def test_a_blend_weight_outside_the_open_unit_interval_is_refused(blend: float) -> None:
    x, y = _digits(40)
    with pytest.raises(MdlkitError, match="blend weight must lie strictly between 0 and 1"):
        switching_code(x, y, 10, [_Fixed([1.0] * 10)], [0, 10, 40], blends=(0.5, blend))
