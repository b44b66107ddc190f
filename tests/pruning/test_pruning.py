import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mdlkit import Evaluation, MdlkitError
from mdlkit.models import lenet5_caffe, mlp, small_cnn
from mdlkit.pruning import (
    LossAccuracy,
    Mask,
    Snapshot,
    TamadeResult,
    choose_step,
    largest_accepted,
    layerwise_prune,
    magnitude_prune,
    random_gradient_prune,
    tamade,
)

MAGNITUDES = [0.8, -0.1, 0.5, 0.3, -0.2, 1.2]  # sorted |θ|: 0.1 0.2 0.3 0.5 0.8 1.2


def _layer() -> nn.Linear:
    layer = nn.Linear(len(MAGNITUDES), 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([MAGNITUDES]))
    return layer


def _pruned(model: nn.Module) -> int:
    return sum(int((p == 0).sum()) for p in model.parameters())


def test_tamade_relative_returns_the_largest_threshold_meeting_the_tolerance() -> None:
    # loss = 1 + 0.004 · (#pruned); δ = 0.01 accepts at most 2 pruned weights. |θ| < t prunes
    # 0.1 and 0.2 for every t in (0.2, 0.3], and a third weight beyond: the answer is t = 0.3.
    layer = _layer()
    result = tamade(
        layer,
        lambda m: Evaluation(1.0 + 0.004 * _pruned(m), float("nan")),
        mode="relative",
        delta=0.01,
        resolution=1e-9,
    )
    answer = float(np.float32(0.3))  # the weight as stored
    assert result.threshold == pytest.approx(answer, abs=1e-8)
    assert result.threshold <= answer  # never above the true answer
    assert torch.equal(layer.weight, torch.tensor([[0.8, 0.0, 0.5, 0.3, 0.0, 1.2]]))


def test_tamade_absolute_mode_uses_the_accuracy_drop() -> None:
    # Accuracy drops 1 point per pruned weight; ε_acc = 0.035 allows 3 → answer t = |θ|₍₄₎ = 0.5.
    layer = _layer()
    result = tamade(
        layer,
        lambda m: Evaluation(0.0, 0.99 - 0.01 * _pruned(m)),
        mode="absolute",
        max_accuracy_drop=0.035,
        resolution=1e-9,
    )
    assert result.threshold == pytest.approx(0.5, abs=1e-8)  # 0.5 is exact in float32
    assert result.threshold <= 0.5
    assert _pruned(layer) == 3


def test_tamade_prunes_nothing_when_no_pruning_is_tolerated() -> None:
    # Every t up to the smallest magnitude prunes nothing, so that is the largest accepted t.
    layer = _layer()
    result = tamade(layer, lambda m: Evaluation(1.0 + _pruned(m), float("nan")), delta=0.0)
    assert result.threshold == pytest.approx(float(np.float32(0.1)), abs=1e-7)
    assert _pruned(layer) == 0


def test_random_gradient_pruning_removes_exactly_the_dangling_weights() -> None:
    # 3 → 4 → 3 → 2 ReLU network, all weights nonzero, then three kinds of damage:
    #  - hidden-1 unit 1 has all its OUTGOING weights pruned: its incoming row and bias dangle;
    #  - hidden-2 unit 2 has all INCOMING weights pruned and bias −1: ReLU(−1) = 0 always, so its
    #    outgoing weights and its own bias dangle;
    #  - output weight [0, 0] is already pruned (stays pruned, no new effect).
    # Positive weights and biases elsewhere: every other unit is alive on some inputs.
    torch.manual_seed(0)
    model = mlp([3, 4, 3, 2])
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 + torch.rand(p.shape))
        model[2].weight[:, 1] = 0.0
        model[2].weight[2, :] = 0.0
        model[2].bias[2] = -1.0
        model[4].weight[0, 0] = 0.0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    expected = {n: p != 0 for n, p in before.items()}
    expected["0.weight"][1, :] = False
    expected["0.bias"][1] = False
    expected["2.bias"][2] = False
    expected["4.weight"][:, 2] = False

    mask = random_gradient_prune(model, (3,), batch_size=4096, seed=1)
    assert mask == Mask(expected)
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), before[name] * expected[name])


def test_an_all_ones_mask_changes_nothing() -> None:
    torch.manual_seed(0)
    model = mlp([4, 5, 2])
    before = [p.detach().clone() for p in model.parameters()]
    Mask.ones(model).apply(model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_random_gradient_pruning_keeps_a_unit_only_real_inputs_wake() -> None:
    # Hidden unit 0 fires only when x0 > 10 (bias −10): never on N(0, 1) inputs, yet it moves
    # the output on data where x0 is large. Random inputs alone cut it; real inputs keep it.
    def model() -> nn.Sequential:
        net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        with torch.no_grad():
            net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
            net[0].bias.copy_(torch.tensor([-10.0, 5.0]))
            net[2].weight.copy_(torch.tensor([[2.0, 3.0]]))
            net[2].bias.zero_()
        return net

    data = torch.tensor([[20.0, 0.0], [0.5, -0.5]])
    alone, with_data = model(), model()
    cut = random_gradient_prune(alone, (2,), batch_size=1024)
    kept = random_gradient_prune(with_data, (2,), batch_size=1024, inputs=data)
    assert not cut.keep["0.weight"][0, 0] and not cut.keep["2.weight"][0, 0]
    assert kept.keep["0.weight"][0, 0] and kept.keep["2.weight"][0, 0] and kept.keep["0.bias"][0]
    # the kept network still computes what it did on the data; the cut one does not
    assert torch.equal(with_data(data), model()(data))
    assert not torch.equal(alone(data), model()(data))
    # an entry that is zero already stays cut, and a mismatched shape is refused
    assert not kept.keep["0.weight"][0, 1]
    with pytest.raises(MdlkitError, match="input shape"):
        random_gradient_prune(model(), (2,), inputs=torch.zeros(3, 4))


def test_random_gradient_pruning_on_a_cnn_removes_a_dead_channels_weights() -> None:
    # Channel 3 of the first convolution feeds nothing once the second convolution's weights
    # from it are pruned: its 3×3 kernel and bias dangle, and only those go. Positive weights
    # after the first layer keep every other unit alive on Gaussian inputs.
    torch.manual_seed(0)
    model = small_cnn(8, channels=4)
    with torch.no_grad():
        for p in list(model.parameters())[2:]:
            p.abs_().add_(0.01)
        model[3].weight[:, 3] = 0.0
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    mask = random_gradient_prune(model, (1, 8, 8), batch_size=2048)
    kept = {n: before[n] != 0 for n in before}
    kept["0.weight"][3] = False
    kept["0.bias"][3] = False
    assert mask == Mask(kept)


def test_tamade_prunes_conv_weights_too() -> None:
    torch.manual_seed(0)
    model = lenet5_caffe()
    result = tamade(model, lambda m: Evaluation(1.0, float("nan")), delta=0.0)
    # A score that never changes accepts every threshold: everything below 2·max|θ| goes.
    assert result.threshold > 0
    assert all(int(torch.count_nonzero(p)) == 0 for p in model.parameters())


def test_layerwise_pruning_keeps_outputs_within_tolerance_while_removing_weights() -> None:
    # One dense layer: 20 large weights (|w| ≥ 0.5) that carry the output and 80 tiny ones
    # (|w| ≤ 1e-3) whose removal moves each output by ~1e-3. With α = 0.01 per kept entry the
    # optimum drops exactly the tiny ones.
    gen = torch.Generator().manual_seed(0)
    weight = 1e-3 * (2 * torch.rand(5, 20, generator=gen) - 1)
    large = torch.randperm(100, generator=gen)[:20]
    weight.view(-1)[large] = torch.sign(torch.randn(20, generator=gen)) * (
        0.5 + torch.rand(20, generator=gen)
    )
    model = nn.Sequential(nn.Linear(20, 5))
    with torch.no_grad():
        model[0].weight.copy_(weight)
        model[0].bias.copy_(torch.tensor([1.0, -1.0, 0.5, 2.0, -0.7]))
    x = torch.randn(2000, 20, generator=gen)
    with torch.no_grad():
        before = model(x)
    mask, reports = layerwise_prune(model, x, (20,), alpha=0.01)
    with torch.no_grad():
        after = model(x)
    expected_keep = torch.zeros(100, dtype=torch.bool)
    expected_keep[large] = True
    assert torch.equal(mask.keep["0.weight"].flatten(), expected_keep)
    assert bool(mask.keep["0.bias"].all())
    assert reports[0].nonzero_before == 105 and reports[0].nonzero_after == 25
    assert float((after - before).norm() / before.norm()) < 0.01


def test_layerwise_pruning_rejects_bad_settings() -> None:
    model = mlp([3, 2])
    with pytest.raises(MdlkitError, match="gamma init"):
        layerwise_prune(model, torch.zeros(4, 3), (3,), gamma_init=1.5)
    with pytest.raises(MdlkitError, match="needs training inputs"):
        layerwise_prune(model, torch.zeros(0, 3), (3,))


# --- the shared tolerance search ---------------------------------------------------------------


@given(st.floats(0.0, 10.0), st.sampled_from([1e-3, 1e-6, 1e-9]))
@settings(max_examples=200, deadline=None)
def test_largest_accepted_finds_a_threshold_within_the_resolution(c: float, res: float) -> None:
    # accept(x) = x ≤ c on [0, 10]: the answer is c, approached from below, within `res`.
    found = largest_accepted(lambda x: x <= c, 0.0, 10.0, resolution=res)
    assert c - res <= found <= c


@pytest.mark.parametrize("steps", [1, 5, 30])
def test_largest_accepted_after_m_steps_is_within_the_interval_over_two_to_the_m(
    steps: int,
) -> None:
    # Each step halves [lo, hi]: after m steps the answer is below c by less than 24 / 2^m.
    c = 17.3
    found = largest_accepted(lambda x: x <= c, -4.0, 20.0, max_steps=steps)
    assert c - 24.0 / 2**steps < found <= c


def test_largest_accepted_stops_when_the_midpoint_no_longer_moves() -> None:
    # With resolution 0 only floating point ends the search: lo and hi become neighbours.
    calls: list[float] = []
    found = largest_accepted(lambda x: calls.append(x) or x <= 0.3, 0.0, 1.0)
    assert found == 0.3 and len(calls) < 100


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_snapshot_restores_the_weights_even_when_scoring_fails() -> None:
    torch.manual_seed(0)
    model = mlp([4, 3, 2])
    before = _weights(model)
    snapshot = Snapshot(model)
    assert snapshot.max_abs == max(float(w.abs().max()) for w in before)

    def fail(m: nn.Module) -> float:
        raise RuntimeError("score failed")

    with pytest.raises(RuntimeError):
        snapshot.score_change(lambda m: magnitude_prune(m, 10.0), fail)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_choose_step_leaves_the_weights_and_tamade_keeps_only_its_final_pruning() -> None:
    torch.manual_seed(0)
    model = mlp([6, 5, 3])
    before = _weights(model)

    def moved(m: nn.Module) -> LossAccuracy:
        pairs = zip(m.parameters(), before, strict=True)
        change = sum(float((p.detach() - w).abs().sum()) for p, w in pairs)
        return LossAccuracy(1.0 + change, 1.0)

    step = choose_step(model, moved, delta=0.05)
    assert step > 0 and all(
        torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)
    )
    result = tamade(model, lambda m: LossAccuracy(1.0 + 0.01 * _pruned(m), 1.0), delta=0.05)
    reference = mlp([6, 5, 3])
    with torch.no_grad():
        for p, w in zip(reference.parameters(), before, strict=True):
            p.copy_(w)
    magnitude_prune(reference, result.threshold)
    assert all(
        torch.equal(a, b) for a, b in zip(reference.parameters(), model.parameters(), strict=True)
    )
    assert 0 < _pruned(model) <= 5  # loss 1 + 0.01·#pruned, δ = 0.05: at most 5 pruned


def test_tamade_result_round_trips_through_plain_values() -> None:
    result = TamadeResult(0.125, Evaluation(0.5, 0.75), Evaluation(0.5078125, float("nan")), 23)
    values = result.to_dict()
    assert values["reference"] == [0.5, 0.75] and values["n_evaluations"] == 23
    again = TamadeResult.from_dict(json.loads(json.dumps(values)))  # plain values only
    assert again == result and hash(again) == hash(result)
    assert again.pruned == LossAccuracy(0.5078125, again.pruned.accuracy)
    assert again != TamadeResult(0.125, again.reference, again.pruned, 24)


def test_random_gradient_pruning_in_slices_equals_one_pass_over_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The batch goes through in slices (memory); which entries some sample moves must not
    # depend on that: the same mask as one forward/backward pass over the whole batch.
    from mdlkit.models.sequence import ByteTransformer
    from mdlkit.pruning import random_gradient as rg

    def pruned(slice_size: int) -> tuple[Mask, torch.Tensor]:
        torch.manual_seed(0)
        model = ByteTransformer(vocab_size=256, context=16, d_model=16, n_layers=1, n_heads=2)
        mlp_in, mlp_out = model.blocks[0].mlp[0], model.blocks[0].mlp[2]
        with torch.no_grad():
            mlp_out.weight[:, 5] = 0.0  # hidden unit 5 feeds nothing: its inputs dangle
        monkeypatch.setattr(rg, "_SLICE", slice_size)
        mask = random_gradient_prune(model, (16,), batch_size=300, seed=2, vocab_size=256)
        return mask, mlp_in.weight.detach().clone()

    (sliced, w_sliced), (whole, _) = pruned(128), pruned(10_000)
    assert sliced == whole
    assert not w_sliced[5].any() and w_sliced[4].all()  # the dangling row went, a live one stayed
