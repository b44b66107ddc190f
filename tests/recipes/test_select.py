"""Selection by the code: α from the description length, the charged choice, the all-pruned
candidate, pruning and quantization by code length, the exact uniform stream."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mdlkit.bits import LN2
from mdlkit.codes import (
    codec_bits_per_nonzero,
    decode_uniform,
    description_length_alpha,
    encode_uniform,
    select_shortest,
    two_part_bits,
    two_part_code,
    uniform_bits,
    uniform_codelength,
)
from mdlkit.coding import encode_model
from mdlkit.data import Split, load_dataset
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, evaluate
from mdlkit.models import ModelSpec
from mdlkit.pruning import (
    cheapest,
    cheapest_step,
    codelength_threshold,
    magnitude_prune,
    quantize_model,
    tamade,
)
from mdlkit.recipes import FitConfig, SelectConfig, run_select
from mdlkit.recipes.fit import fit_alpha, run_fit
from mdlkit.runs import RunFolder

# workers=1: a pool's start-up would cost more than these tiny runs
FAST = dict(epochs=4, finetune_epochs=2, warmup_epochs=1, window=4, prequential=False, workers=1)


# --- α from the description length ------------------------------------------------------------


def test_description_length_alpha_is_c_ln2_over_n() -> None:
    # by hand: 12 bits per nonzero over 1,000 samples = 12 · 0.693147… / 1000 nats per sample
    assert description_length_alpha(1000, 12.0) == pytest.approx(0.0083177661667, rel=1e-12)
    assert description_length_alpha(1, 1.0) == LN2
    with pytest.raises(MdlkitError, match="n >= 1"):
        description_length_alpha(0, 12.0)
    with pytest.raises(MdlkitError, match="> 0 bits"):
        description_length_alpha(10, 0.0)


def test_codec_cost_per_nonzero_matches_an_independent_encoding() -> None:
    spec = ModelSpec("mlp", {"sizes": [64, 32, 10]})
    torch.manual_seed(0)
    model = spec.build()
    before = [p.detach().clone() for p in model.parameters()]
    c = codec_bits_per_nonzero(model, spec)
    # The same probe built by hand: keep the largest 10 % by magnitude, step RMS(kept)/16.
    flat = torch.cat([p.detach().abs().flatten() for p in model.parameters()]).double()
    keep = round(0.1 * flat.numel())
    threshold = float(torch.sort(flat, descending=True).values[keep - 1])
    kept = flat[flat >= threshold]
    step = float(kept.pow(2).mean().sqrt()) / 16
    probe = spec.build()
    probe.load_state_dict(model.state_dict())
    magnitude_prune(probe, threshold)
    quantize_model(probe, step)
    encoded = encode_model(probe, spec, step)
    assert c == encoded.length.parts["payload"] / encoded.nonzero
    assert 4 < c < 20  # mask (log2 of 1/density + 1.4) plus ~5 value bits
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_fit_alpha_auto_uses_the_training_set_size() -> None:
    spec = ModelSpec("mlp", {"sizes": [4, 8, 3]})
    torch.manual_seed(0)
    model = spec.build()
    alpha, c = fit_alpha(FitConfig(), model, spec, n=90)
    assert alpha == pytest.approx(c * math.log(2) / 90, rel=1e-12)
    fixed, c2 = fit_alpha(FitConfig(alpha=0.25), model, spec, n=90)
    assert (fixed, c2) == (0.25, c)


# --- the charged choice -----------------------------------------------------------------------


def test_select_shortest_charges_log2_of_the_grid() -> None:
    s = select_shortest([10.0, 7.5, 7.5, 9.0, 8.0])
    assert s.index == 1  # the first of a tie
    assert s.choice_bits == pytest.approx(math.log2(5))
    assert s.length.total == pytest.approx(7.5 + math.log2(5))
    assert select_shortest([3.0]).choice_bits == 0.0
    with pytest.raises(MdlkitError):
        select_shortest([])


def test_cheapest_takes_the_minimum_and_the_first_tie() -> None:
    assert cheapest(lambda x: abs(x - 3), [1, 3, 5, 3]) == (3, 0)
    assert cheapest(lambda x: 1.0, ["a", "b"]) == ("a", 1.0)


# --- the exact uniform stream -----------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(0, 11), max_size=300))
def test_uniform_stream_round_trips_in_ceil_n_log2_k_bits(k: int, raw: list[int]) -> None:
    labels = np.array([v % k for v in raw], dtype=np.int64)
    stream = encode_uniform(labels, k)
    assert np.array_equal(decode_uniform(stream.data, len(labels), k), labels)
    n = len(labels)
    # independent: the smallest b with 2^b ≥ K^n (exact integer arithmetic)
    b = 0
    while 2**b < k**n:
        b += 1
    assert stream.bits == uniform_bits(n, k) == b
    assert n * math.log2(k) <= stream.bits < n * math.log2(k) + 1 or n * k <= 1


def test_uniform_stream_refuses_damage_it_can_see() -> None:
    stream = encode_uniform(np.array([2, 2, 2]), 3)  # 26 = 3^3 − 1 in 5 bits
    with pytest.raises(MdlkitError, match="out of range"):
        decode_uniform(b"\x1f", 3, 3)  # 31 ≥ 27
    with pytest.raises(MdlkitError, match="takes 1 bytes"):
        decode_uniform(stream.data + b"\x00", 3, 3)


# --- the all-pruned model ---------------------------------------------------------------------


def test_all_pruned_model_costs_a_few_dozen_bits_above_uniform() -> None:
    splits = load_dataset("digits")
    spec = ModelSpec("mlp", {"sizes": [64, 32, 10]})
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    n = len(splits.train)
    uniform = uniform_codelength(n, 10).total
    encoded = encode_model(model, spec, 1.0)
    exact = encoded.length.total + encode_uniform(splits.train.y.numpy(), 10).bits
    assert exact - uniform <= 64  # architecture + "no nonzero weight" + < 1 bit of rounding
    # the two-part code sends that model's labels in the same exact stream
    coded = two_part_code(model, spec, splits.train, 1.0, 10).length.total
    assert coded == exact


def _tiny_splits() -> tuple[Split, Split]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=g)
    x = x[x[:, 0].abs() > 0.3][:200]  # a margin: the separating model's loss is near zero
    y = (x[:, 0] > 0).long()
    return Split(x[:150], y[:150]), Split(x[150:], y[150:])


def _separating_model() -> nn.Linear:
    """Logits ±20·x₀ (training loss ≈ 0 nats) plus weights of ±0.3 on 5 noise features: each
    moves that tiny loss by far more than 1 % and the code length by far less than a bit."""
    model = nn.Linear(6, 2)
    with torch.no_grad():
        signs = torch.randint(0, 2, (2, 6), generator=torch.Generator().manual_seed(1))
        model.weight.copy_(0.3 * (2.0 * signs - 1.0))
        model.weight[:, 0] = torch.tensor([-20.0, 20.0])
        model.bias.zero_()
    return model


def test_pruning_by_code_length_works_at_near_zero_training_loss() -> None:
    train, _ = _tiny_splits()
    head = CategoricalHead()
    spec = ModelSpec("mlp", {"sizes": [6, 2]})
    model = _separating_model()
    assert evaluate(model, train).loss < 1e-3  # near zero: the case a relative tolerance fails
    # a relative tolerance of 1 % on that loss keeps every noise weight
    relative = _separating_model()
    tamade(relative, lambda m: evaluate(m, train), delta=0.01)
    assert int((relative.weight != 0).sum()) == 12
    # the code length removes exactly the noise: only the two weights on x₀ carry bits
    mlp = spec.build()
    with torch.no_grad():
        mlp[0].weight.copy_(model.weight)
        mlp[0].bias.copy_(model.bias)

    def cost(m: nn.Module) -> float:
        return two_part_bits(m, spec, 1.0, head, train)

    codelength_threshold(mlp, cost, lambda m: evaluate(m, train))
    nonzero = mlp[0].weight != 0
    assert nonzero[:, 0].all() and not nonzero[:, 1:].any() and not mlp[0].bias.any()
    assert evaluate(mlp, train).accuracy == 1.0


def test_cheapest_step_minimises_the_cost_over_quarter_octaves() -> None:
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.3, -0.7]]))
    steps: list[float] = []

    def cost(m: nn.Module, step: float) -> float:
        steps.append(step)
        return (math.log2(step) + 2.25) ** 2  # smallest at Δ = 2^−2.25

    step, bits = cheapest_step(model, cost)
    assert math.log2(step) == pytest.approx(-2.25, abs=1e-6)
    assert bits == min((math.log2(s) + 2.25) ** 2 for s in steps)
    assert torch.equal(model.weight, torch.tensor([[1.0, 0.3, -0.7]]))  # left as it was


def test_cheapest_step_looks_below_the_bulk_when_coarse_steps_lose_to_the_zero_model() -> None:
    # One weight of 10 and a bulk near 0.5: every step down to the bulk rounds the model into
    # confident garbage (cost 1000, worse than the all-zero model's 500 at the top step); the
    # right step, 0.1, lies two octaves below the median |θ|. The search must get there.
    model = nn.Linear(5, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[10.0, 0.5, -0.45, 0.55, 0.4]]))

    def cost(m: nn.Module, step: float) -> float:
        if step >= 10:
            return 500.0
        return 1000.0 if step > 0.12 else 100.0 + abs(math.log2(step) - math.log2(0.1))

    step, bits = cheapest_step(model, cost)
    assert step <= 0.12 and bits < 101.0


# --- the recipe and the command ---------------------------------------------------------------


def test_select_always_has_the_all_pruned_candidate_and_charges_the_choice(
    tmp_path: Path,
) -> None:
    config = SelectConfig(dataset="sklearn:iris", alphas=(0.001, 0.01), widths=(32,), **FAST)
    result = run_select(config, folder=RunFolder.new(tmp_path / "sel", kind="select"))
    keys = [row["key"] for row in result.rows]
    assert keys[0] == "all-pruned" and len(keys) == 3
    best = min(row["two_part_bits"] for row in result.rows)
    assert result.selected_bits == pytest.approx(best + math.log2(3))
    assert result.selected_bits <= result.bound_bits
    uniform = uniform_codelength(90, 3).total
    assert result.uniform_bits == pytest.approx(uniform)
    all_pruned = result.rows[0]
    assert all_pruned["data_bits"] == math.ceil(uniform)  # the exact uniform stream
    # four epochs teach the MLP nothing a weight pays for: the select says so in one line
    notes = [n for n in result.report().notes if "pays for itself" in n]
    chosen = result.chosen_row
    assert len(notes) == (chosen["nonzero"] == 0 or chosen["two_part_bits"] >= uniform)
    saved = json.loads((tmp_path / "sel" / "results.json").read_text())
    assert saved["chosen"] == result.chosen_row["key"]
    assert (tmp_path / "sel" / "selection.png").stat().st_size > 0
    assert (tmp_path / "sel" / "selected.mdlw").stat().st_size > 0


def test_default_grid_has_a_linear_model_beside_the_mlp_and_seven_strengths() -> None:
    jobs = SelectConfig(dataset="sklearn:iris").candidates(0.08)
    assert len(jobs) == 2 * 7
    linear = [job for key, job in jobs if key.startswith("drr-h0-")]
    mlp = [job for key, job in jobs if key.startswith("drr-h32-")]
    assert len(linear) == len(mlp) == 7
    assert {job.hidden for job in linear} == {()} and {job.lr for job in linear} == {0.01}
    assert {job.lr for job in mlp} == {FitConfig().lr}  # the MLP keeps fit's settings
    # α·2^k for k = −4…2, exactly
    assert sorted(job.alpha for job in linear) == [0.08 * 2.0**k for k in range(-4, 3)]
    # an explicit --widths is taken as given
    assert len(SelectConfig(dataset="sklearn:iris", widths=(16,)).candidates(0.08)) == 7
    # a user's factory: one network per strength and method, keyed without a width
    own = SelectConfig(model="pkg:net", alphas=(1e-3, 0.01), methods=("drr", "l1"))
    assert [key for key, _ in own.candidates(0.08)] == [
        "drr-a0.001", "drr-a0.01", "l1-a0.001", "l1-a0.01"
    ]  # fmt: skip


def test_select_resumes_without_rerunning_finished_candidates(tmp_path: Path) -> None:
    config = SelectConfig(dataset="sklearn:wine", alphas=(0.003, 0.03), widths=(0,), **FAST)
    folder = RunFolder.new(tmp_path / "sel", kind="select")
    first = run_select(config, folder=folder)
    (tmp_path / "sel" / "results.json").unlink()  # as if killed before the end
    record = tmp_path / "sel" / "runs" / f"{first.rows[1]['key']}.json"
    stamp = record.stat().st_mtime_ns
    again = run_select(config, folder=RunFolder.resume(tmp_path / "sel"))
    assert record.stat().st_mtime_ns == stamp
    assert again.rows == first.rows and again.selected_bits == first.selected_bits


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["select", "--widths", "-1"], "must be >= 0"),
        (["select", "--method", "none"], "needs a regularizer"),
        (["select", "--methods", "drr,magic"], "unknown method 'magic'"),
        (["select", "--workers", "0"], "workers must be >= 1"),
        (["select", "--data", "missing.csv", "--target", "y"], "missing.csv"),
        (["select", "--alpha", "lots"], "--alpha"),
        (["select", "--linear-lr", "0"], "linear learning rate must be > 0"),
    ],
)
def test_select_bad_input_is_one_line_and_exit_2(
    refused: Callable[..., str], argv: list[str], message: str
) -> None:
    refused(argv, message)


def test_select_with_a_teacher_at_weight_0_is_the_plain_select_bit_for_bit(
    tmp_path: Path,
) -> None:
    teacher = tmp_path / "teacher"
    quick = {"epochs": 4, "finetune_epochs": 2, "grid_epochs": 0, "warmup_epochs": 1, "window": 4}
    run_fit(FitConfig(dataset="sklearn:iris", method="none", **quick), folder=RunFolder(teacher))
    # Linear candidates that keep weights (all-zero models would be equal trivially).
    grid = {"dataset": "sklearn:iris", "alphas": (0.001, 0.01), "widths": (0,), "epochs": 30,
            "finetune_epochs": 4, "warmup_epochs": 1, "window": 4, "prequential": False,
            "workers": 1, "linear_lr": 0.05, "batch_size": 0}  # fmt: skip
    results = {}
    for name, distill in [("plain", {}), ("w0", {"teacher": str(teacher), "teacher_weight": 0.0}),
                          ("w05", {"teacher": str(teacher), "teacher_weight": 0.5})]:  # fmt: skip
        config = SelectConfig(**grid, **distill)  # type: ignore[arg-type]
        results[name] = run_select(config, folder=RunFolder.new(tmp_path / name, kind="select"))
    plain, zero, half = results["plain"], results["w0"], results["w05"]
    assert zero.rows == plain.rows and zero.selected_bits == plain.selected_bits
    assert all(row["nonzero"] > 0 for row in plain.rows[1:])
    for key in [row["key"] for row in plain.rows[1:]]:  # the same weight files, byte for byte
        model = f"models/{key}.mdlw"
        assert (tmp_path / "w0" / model).read_bytes() == (tmp_path / "plain" / model).read_bytes()
    # A weight of 0.5 trains every candidate on the soft labels too: other models, other codes;
    # the all-pruned candidate is not trained and costs the same.
    assert half.rows[0] == plain.rows[0]
    assert all(h != p for h, p in zip(half.rows[1:], plain.rows[1:], strict=True))
    record = json.loads((tmp_path / "w05" / "runs" / f"{half.rows[1]['key']}.json").read_text())
    assert record["config"]["teacher"] == str(teacher) and record["config"]["teacher_weight"] == 0.5
