"""Compressibility measures against closed forms.

Most models here are bias-free linear maps on the design X of all 2^k sign vectors, whose
columns are orthogonal with mean 0 (XᵀX/n = I exactly). With targets y = X·w*ᵀ (+ a constant c)
the Gaussian head's loss is ½·mean‖(W − W*)x‖² (+ ½c²) = ½‖W − W*‖²_F (+ ½c²): every loss a
measure sees has a closed form in the weights alone.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from mdlkit.coding.weights import decode_model, encode_model
from mdlkit.complexity import (
    RANGE_FRACTIONS,
    coded_bits_within,
    critical_pruning_fraction,
    critical_quantization_bits,
    critical_rank_fraction,
    measure_compressibility,
)
from mdlkit.data import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import head_for
from mdlkit.models import ModelSpec
from mdlkit.pruning import dequantize, grid_indices, grid_step, quantize_model


def _signs(k: int) -> torch.Tensor:
    """All 2^k vectors of ±1: orthogonal columns, mean 0, so XᵀX/n = I exactly."""
    return torch.tensor(list(itertools.product([1.0, -1.0], repeat=k)), dtype=torch.float32)


def _linear(weight: list[list[float]], bias: list[float] | None = None) -> nn.Linear:
    out_features, in_features = len(weight), len(weight[0])
    layer = nn.Linear(in_features, out_features, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias))
    return layer


def _fitted(model: nn.Module, x: torch.Tensor, offset: float = 0.0) -> Split:
    """Targets the model reproduces exactly (plus ``offset``): L(w*) = ½·offset² per output."""
    with torch.no_grad():
        return Split(x, model(x) + offset)


def _classifier() -> tuple[nn.Module, ModelSpec, Split]:
    """A 4-3-2 MLP fitted (full-batch Adam) to a linearly separable rule: coarse steps fail."""
    spec = ModelSpec("mlp", {"sizes": [4, 3, 2]})
    torch.manual_seed(0)
    model = spec.build()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model, spec, Split(x, y)


def _with(model: nn.Module, weights: dict[str, torch.Tensor]) -> nn.Module:
    rebuilt = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in rebuilt.named_parameters():
            p.copy_(weights[name])
    return rebuilt


def _state(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --- quantization ----------------------------------------------------------------------------


def test_weights_on_a_three_bit_grid_need_three_bits() -> None:
    # weight on k·0.25 and bias on k·0.5, |k| ≤ 3: exactly the 3-bit grids of ranges 0.75 and
    # 1.5 (c = 1). Two bits give {−m, 0, m}, one nonzero magnitude per tensor: the weight's
    # 0.25 and 0.75 cannot both be exact, so the loss is > 0 there and ε = 1e-6 is not enough.
    w = [[0.75, -0.25, 0.5], [0.0, 0.25, -0.75]]
    b = [1.5, -0.5]
    model = _linear(w, b)
    point = critical_quantization_bits(model, _fitted(model, _signs(3)), 1e-6)
    assert point.bits == 3
    assert point.loss == point.reference_loss == 0.0  # the same floats: the same outputs
    assert point.ranges == {"weight": 0.75, "bias": 1.5}
    assert point.naive_bits == 8 * 3
    assert all(torch.equal(point.weights[n], p) for n, p in model.named_parameters())
    # one bit zeroes everything: ½(‖W‖² + ‖b‖²); two bits: > 0 (see above)
    zero_loss = 0.5 * (sum(v * v for row in w for v in row) + sum(v * v for v in b))
    assert [n for n, _ in point.curve] == [1, 2, 3]
    assert point.curve[0][1] == pytest.approx(zero_loss, rel=1e-6)
    assert point.curve[1][1] > 1e-3


def test_range_search_finds_the_best_listed_range() -> None:
    # One tensor, so the coordinate search is exhaustive over RANGE_FRACTIONS. With w = (1, ½, ½,
    # ½) on {−m, 0, m}, m ∈ (½, 1]: loss ½[(1 − m)² + 3(½ − m)²], least at m = 5/8 (listed):
    # ½(9/64 + 3/64) = 3/32. One bit costs ½(1 + 3/4) = 7/8, so ε = 0.1 makes 2 bits critical.
    w = [1.0, 0.5, 0.5, 0.5]
    model = _linear([w])
    point = critical_quantization_bits(model, _fitted(model, _signs(4)), 0.1)

    def ternary_loss(c: float) -> float:  # independent: numpy rounds half to even, as torch
        m = c * 1.0
        q = np.clip(np.round(np.array(w) / m), -1, 1) * m
        return 0.5 * float(np.sum((np.array(w) - q) ** 2))

    best_c = min(RANGE_FRACTIONS, key=ternary_loss)
    assert point.bits == 2
    assert best_c == 0.625
    assert point.ranges == {"weight": 0.625}
    assert point.loss == pytest.approx(3 / 32, rel=1e-6)
    assert point.loss == pytest.approx(ternary_loss(best_c), rel=1e-6)
    assert point.curve[0][1] == pytest.approx(7 / 8, rel=1e-6)


def test_quantization_gives_up_past_max_bits() -> None:
    model = _linear([[0.75, -0.25]])
    with pytest.raises(MdlkitError, match="raise max_bits or the tolerance"):
        critical_quantization_bits(model, _fitted(model, _signs(2)), 1e-6, max_bits=2)


# --- low rank --------------------------------------------------------------------------------


def _rank_two(out_features: int, in_features: int, s: tuple[float, float]) -> nn.Linear:
    g = torch.Generator().manual_seed(3)
    u, _ = torch.linalg.qr(torch.randn(out_features, 2, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(in_features, 2, generator=g, dtype=torch.float64))
    weight = (u * torch.tensor(s, dtype=torch.float64)) @ v.T
    return _linear(weight.float().tolist())


def test_rank_two_matrix_keeps_exactly_two() -> None:
    # W = 3·u₁v₁ᵀ + 2·u₂v₂ᵀ in a 5×6 layer (R = 5); rank r costs ½Σ_{k>r} s_k²: 0 for r ≥ 2,
    # 2 for r = 1, 6.5 for r = 0. So f = 3/5 (keep 2 of 5) is the largest within ε = 1e-3.
    model = _rank_two(5, 6, (3.0, 2.0))
    point = critical_rank_fraction(model, _fitted(model, _signs(6)), 1e-3)
    assert point.fraction == pytest.approx(3 / 5)
    assert point.full_ranks == {"weight": 5}
    assert point.kept_ranks == {"weight": 2}
    fractions = [f for f, _ in point.curve]
    assert fractions == pytest.approx([j / 5 for j in range(6)])
    closed_form = [0.0, 0.0, 0.0, 0.0, 2.0, 6.5]  # r = 5, 4, 3, 2, 1, 0
    assert [loss for _, loss in point.curve] == pytest.approx(closed_form, abs=1e-5)
    assert point.loss <= point.reference_loss + 1e-3
    assert torch.linalg.matrix_rank(point.weights["weight"], atol=1e-4) == 2


def test_rank_patterns_are_every_breakpoint_of_every_matrix() -> None:
    # R = 5 and 4: the kept ranks ceil((1 − f)·R) change at f = j/5 and j/4 and nowhere else.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU(), nn.Linear(5, 4, bias=False))
    data = _fitted(model, _signs(6))
    everything = critical_rank_fraction(model, data, 1e9)
    expected = sorted({Fraction(j, 5) for j in range(6)} | {Fraction(j, 4) for j in range(5)})
    assert [f for f, _ in everything.curve] == pytest.approx([float(f) for f in expected])
    assert everything.fraction == 1.0
    assert everything.kept_ranks == {"0.weight": 0, "2.weight": 0}
    # f = 1 zeroes both matrices: the output is 0 and the loss ½·mean‖y‖²
    zero_output = 0.5 * float(data.y.double().square().sum(dim=1).mean())
    assert everything.curve[-1][1] == pytest.approx(zero_output, rel=1e-6)
    # f = 1/4 keeps ceil(0.75·5) = 4 and ceil(0.75·4) = 3: rebuilt here by our own SVDs
    truncated = copy.deepcopy(model)
    with torch.no_grad():
        weights = dict(truncated.named_parameters())
        for name, rank in (("0.weight", 4), ("2.weight", 3)):
            u, s, vh = torch.linalg.svd(weights[name].double(), full_matrices=False)
            weights[name].copy_((u[:, :rank] * s[:rank]) @ vh[:rank])
        loss = 0.5 * float((truncated(data.x) - data.y).double().square().sum(dim=1).mean())
    assert everything.curve[2][0] == 0.25
    assert everything.curve[2][1] == pytest.approx(loss, rel=1e-5)


def test_convolution_weights_are_matrices_out_by_in_kernel() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 2), nn.Flatten(), nn.Linear(3 * 2 * 2, 2))
    x = torch.randn(20, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    point = critical_rank_fraction(model, _fitted(model, x), 1e-6)
    assert point.full_ranks == {"0.weight": 3, "2.weight": 2}  # min(3, 2·2·2), min(2, 12)


# --- pruning ---------------------------------------------------------------------------------


def test_exact_zeros_and_large_weights_prune_exactly_the_zeros() -> None:
    g = torch.Generator().manual_seed(0)
    weight = 1.0 + torch.rand(3, 6, generator=g)  # magnitudes in [1, 2)
    weight *= torch.where(torch.rand(3, 6, generator=g) < 0.5, -1.0, 1.0)
    weight.view(-1)[[0, 4, 7, 11, 16]] = 0.0
    model = _linear(weight.tolist())
    point = critical_pruning_fraction(model, _fitted(model, _signs(6)), 1e-6)
    assert point.fraction == 5 / 18
    assert 0.0 < point.threshold <= float(weight[weight != 0].abs().min())
    assert torch.equal(point.weights["weight"], model.weight.detach())
    assert point.loss == 0.0


def test_pruning_budget_is_absolute_in_nats() -> None:
    # y = X·w* + 2: L(w*) = ½·2² = 2, and pruning the k smallest of (0.1, 0.2, 0.3, 0.4) adds
    # ½Σ w_j²: 0.005, 0.025, 0.07, 0.15. ε = 0.05 allows two. (A tolerance relative to L(w*),
    # 0.05·2 = 0.1 nats, would allow three.)
    w = [0.1, -0.2, 0.3, -0.4]
    model = _linear([w])
    point = critical_pruning_fraction(model, _fitted(model, _signs(4), offset=2.0), 0.05)
    assert point.reference_loss == pytest.approx(2.0, rel=1e-6)
    assert point.fraction == 0.5
    assert point.loss - point.reference_loss == pytest.approx(0.025, abs=1e-5)
    cumulative = np.cumsum([0.0] + [0.5 * v * v for v in w])
    for fraction, loss in point.curve:
        assert loss - point.reference_loss == pytest.approx(cumulative[round(4 * fraction)], 1e-4)


# --- the codec -------------------------------------------------------------------------------


def test_codec_baseline_is_the_encoder_s_length_and_decodes_exactly() -> None:
    model, spec, data = _classifier()
    tolerance = 0.05
    coded = coded_bits_within(model, data, tolerance, spec)
    assert coded is not None
    step = grid_step(coded.exponent)
    assert coded.step == step
    encoded = encode_model(model, spec, step)
    assert coded.bits == encoded.length.total
    assert coded.data == encoded.data
    decoded = decode_model(coded.data)
    for p, q in zip(model.parameters(), decoded.parameters(), strict=True):
        assert torch.equal(q, dequantize(grid_indices(p, step), step))
    head = head_for(data)
    with torch.no_grad():
        reference = float(head(model(data.x), data.y))
        assert coded.loss == float(head(decoded(data.x), data.y))
    assert coded.loss <= reference + tolerance
    # the scan starts at the step just above max|θ|; below it, the next coarser step was tried
    # and failed
    top = max(float(p.detach().abs().max()) for p in model.parameters())
    assert coded.exponent < math.ceil(4 * math.log2(top))
    coarser = copy.deepcopy(model)
    quantize_model(coarser, grid_step(coded.exponent + 1))
    with torch.no_grad():
        assert float(head(coarser(data.x), data.y)) > reference + tolerance


def test_every_point_is_coded_and_decodes_to_its_quantized_weights() -> None:
    model, spec, data = _classifier()
    model.train()
    before = _state(model)
    result = measure_compressibility(model, data, 0.05, spec=spec)
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(before, _state(model), strict=True))
    limit = result.reference_loss + 0.05
    for point in (result.quantization, result.rank, result.pruning):
        assert point.reference_loss == result.reference_loss
        assert point.loss <= limit
        coded = point.coded
        assert coded is not None
        assert coded.loss <= limit
        at_point = _with(model, point.weights)
        assert coded.bits == encode_model(at_point, spec, coded.step).length.total
        decoded = dict(decode_model(coded.data).named_parameters())
        for name, w in point.weights.items():
            assert torch.equal(decoded[name], dequantize(grid_indices(w, coded.step), coded.step))
    assert result.codec == coded_bits_within(model, data, 0.05, spec)
    json.dumps(result.to_dict())  # plain values throughout


def test_to_dict_lists_the_fields_in_order_without_weights_or_file_bytes() -> None:
    # The dicts are written to results files: their keys and order are part of those bytes.
    model, spec, data = _classifier()
    d = measure_compressibility(model, data, 0.05, spec=spec).to_dict()
    assert list(d) == ["reference_loss", "tolerance", "quantization", "rank", "pruning", "codec"]
    assert list(d["codec"]) == ["bits", "parts", "step", "exponent", "loss", "nonzero"]
    assert list(d["quantization"]) == [
        "bits", "reference_loss", "tolerance", "loss", "ranges", "naive_bits", "curve", "coded"
    ]  # fmt: skip
    assert list(d["rank"]) == [
        "fraction", "reference_loss", "tolerance", "loss", "full_ranks", "kept_ranks", "curve",
        "coded",
    ]  # fmt: skip
    assert list(d["pruning"]) == [
        "fraction", "threshold", "reference_loss", "tolerance", "loss", "curve", "coded"
    ]  # fmt: skip
    assert all(isinstance(row, list) for row in d["quantization"]["curve"])


def test_without_a_spec_nothing_is_coded() -> None:
    model, _, data = _classifier()
    result = measure_compressibility(model, data, 0.05)
    assert result.codec is None
    assert result.quantization.coded is result.rank.coded is result.pruning.coded is None
    assert result.to_dict()["quantization"]["coded"] is None


# --- refusals --------------------------------------------------------------------------------

_MEASURES = [
    critical_quantization_bits,
    critical_rank_fraction,
    critical_pruning_fraction,
    measure_compressibility,
]


@pytest.mark.parametrize("measure", _MEASURES)
@pytest.mark.parametrize("tolerance", [0.0, -0.1, math.nan, math.inf, True, "0.1"])
def test_a_bad_tolerance_is_refused(measure: Callable[..., object], tolerance: object) -> None:
    model, _, data = _classifier()
    with pytest.raises(MdlkitError, match="tolerance"):
        measure(model, data, tolerance)


def test_a_bad_tolerance_is_refused_by_the_codec_baseline() -> None:
    model, spec, data = _classifier()
    with pytest.raises(MdlkitError, match="tolerance"):
        coded_bits_within(model, data, 0.0, spec)


def test_empty_data_a_nan_loss_and_a_wrong_spec_are_refused() -> None:
    model, _, data = _classifier()
    with pytest.raises(MdlkitError, match="empty"):
        measure_compressibility(model, Split(data.x[:0], data.y[:0]), 0.05)
    broken = copy.deepcopy(model)
    with torch.no_grad():
        next(broken.parameters()).fill_(math.nan)
    with pytest.raises(MdlkitError, match="loss at the trained weights"):
        measure_compressibility(broken, data, 0.05)
    with pytest.raises(MdlkitError, match="spec"):
        measure_compressibility(model, data, 0.05, spec=ModelSpec("mlp", {"sizes": [4, 5, 2]}))
    with pytest.raises(MdlkitError, match="max_bits"):
        critical_quantization_bits(model, data, 0.05, max_bits=0)
