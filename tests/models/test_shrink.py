"""Removing dead neurons and channels: the outputs stay those of the dense network, the widths
and parameter counts are the hand-counted ones, and no removable unit is left behind."""

import itertools

import pytest
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.models import ByteRNN, lenet5_caffe, mlp, small_cnn
from mdlkit.models.layers import Select
from mdlkit.models.shrink import shrink_sequential


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _prune(model: nn.Module, fraction: float, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p[torch.rand(p.shape, generator=generator) < fraction] = 0
    return model.eval()


def _max_difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float((a(x) - b(x)).abs().max())


def test_a_hand_built_mlp_loses_exactly_the_dead_units() -> None:
    torch.manual_seed(0)
    net = mlp([5, 4, 3, 2]).eval()  # Linear 0, ReLU 1, Linear 2, ReLU 3, Linear 4
    with torch.no_grad():
        net[0].weight[:, 4] = 0  # input 4 is read by nobody
        net[0].weight[0] = 0  # neuron 0: no inputs, relu(0.7) = 0.7 folded on
        net[0].bias[0] = 0.7
        net[0].weight[1] = 0  # neuron 1: no inputs, relu(-0.3) = 0: simply dropped
        net[0].bias[1] = -0.3
        net[4].weight[:, 2] = 0  # second layer's neuron 2 feeds nobody
    shrunk = shrink_sequential(net)
    assert shrunk.widths == ((4, 5), (2, 4), (2, 3), (2, 2))
    assert shrunk.folded == 1
    assert isinstance(shrunk.model[0], Select) and shrunk.model[0].indices.tolist() == [0, 1, 2, 3]
    assert _params(shrunk.model) == (4 * 2 + 2) + (2 * 2 + 2) + (2 * 2 + 2)
    x = torch.randn(200, 5)
    assert _max_difference(net, shrunk.model, x) <= 1e-6
    # The folded constant went into the second layer's bias: b2 + 0.7 · W2[:, 0].
    expected = net[2].bias + 0.7 * net[2].weight[:, 0]
    assert torch.allclose(shrunk.model[3].bias, expected[:2], atol=1e-7)
    assert torch.equal(net[0].weight[1], torch.zeros(5))  # the network given is not changed


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_sparse_mlps_keep_their_outputs_and_no_removable_unit(
    activation: str, seed: int
) -> None:
    torch.manual_seed(seed)
    net = _prune(mlp([12, 20, 16, 3], activation), 0.85, seed)
    shrunk = shrink_sequential(net)
    assert _max_difference(net, shrunk.model, torch.randn(300, 12)) <= 1e-6
    linears = [m for m in shrunk.model if isinstance(m, nn.Linear)]
    for a, b in itertools.pairwise(linears):  # every hidden unit reads and is read
        assert bool((a.weight != 0).any(dim=1).all()) and bool((b.weight != 0).any(dim=0).all())
    assert _params(shrunk.model) <= _params(net)


def test_a_padded_convolution_keeps_a_channel_whose_constant_it_would_see_unevenly() -> None:
    torch.manual_seed(0)
    net = small_cnn(8, channels=4).eval()  # conv(pad 1) ReLU pool conv(pad 1) ReLU pool flat fc
    with torch.no_grad():
        net[0].weight[0] = 0  # channel 0: constant relu(0.5) into a padded convolution: kept
        net[0].bias[0] = 0.5
        net[0].weight[1] = 0  # channel 1: constant relu(-1) = 0: dropped
        net[0].bias[1] = -1.0
        net[3].weight[2] = 0  # second conv's channel 2: constant into the linear layer: folded
        net[3].bias[2] = 0.25
        net[3].weight[5, :] = 0  # channel 5: relu(b) may be anything; folded (after flatten)
    shrunk = shrink_sequential(net)
    assert shrunk.widths[1] == (3, 4)  # channel 1 gone, channel 0 kept
    assert shrunk.widths[2] == (6, 8)
    assert shrunk.folded == 2
    fc = shrunk.model[-1]
    assert isinstance(fc, nn.Linear) and fc.in_features == 6 * 2 * 2
    assert _max_difference(net, shrunk.model, torch.randn(50, 1, 8, 8)) <= 1e-6


def test_lenet5_caffe_folds_a_channel_into_an_unpadded_convolution() -> None:
    torch.manual_seed(0)
    net = _prune(lenet5_caffe(), 0.9, 3)
    with torch.no_grad():
        net[0].weight[7] = 0  # no nonlinearity after it: its constant is its bias, nonzero
    shrunk = shrink_sequential(net)
    assert shrunk.widths[1][0] <= 19 and shrunk.folded >= 1
    assert _max_difference(net, shrunk.model, torch.rand(20, 1, 28, 28)) <= 1e-5


def test_a_network_with_every_weight_pruned_predicts_its_constant() -> None:
    net = mlp([6, 5, 3]).eval()
    with torch.no_grad():
        net[0].weight.zero_()
        net[2].weight.zero_()
    shrunk = shrink_sequential(net)
    assert shrunk.widths == ((0, 6), (0, 5), (3, 3)) and _params(shrunk.model) == 3
    assert _max_difference(net, shrunk.model, torch.randn(4, 6)) == 0


def test_other_networks_are_refused_in_one_line() -> None:
    with pytest.raises(MdlkitError, match="sequential"):
        shrink_sequential(ByteRNN())
    with pytest.raises(MdlkitError, match="BatchNorm1d"):
        shrink_sequential(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)))
    with pytest.raises(MdlkitError, match="no linear"):
        shrink_sequential(nn.Sequential(nn.ReLU()))
