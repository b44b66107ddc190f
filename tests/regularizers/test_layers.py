import math

import pytest
import torch
from torch import nn

from mdlkit import MdlkitError
from mdlkit.recipes.fit_config import FitConfig
from mdlkit.regularizers import DRR, layer_weights, restrict


class _Net(nn.Module):
    """Every kind of parameter: an embedding, a conv, a norm, a bare parameter, a shared
    linear layer used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.conv = nn.Conv1d(4, 3, 2)
        self.norm = nn.LayerNorm(3)
        self.scale = nn.Parameter(torch.ones(3))
        self.head = nn.Linear(3, 2)
        self.again = self.head


def test_layer_weights_picks_linear_conv_and_embedding_weights_once() -> None:
    net = _Net()
    assert [n for n, _ in layer_weights(net)] == ["embed.weight", "conv.weight", "head.weight"]
    assert [n for n, _ in layer_weights(net, biases=True)] == [
        "embed.weight", "conv.weight", "conv.bias", "head.weight", "head.bias",
    ]  # fmt: skip
    assert [n for n, _ in layer_weights(net, (nn.LayerNorm,))] == ["norm.weight"]


def test_restricted_drr_is_the_penalty_of_the_layer_weights_alone() -> None:
    torch.manual_seed(0)
    net = _Net()
    alpha, beta = 0.3, 2.0
    reg = restrict(DRR(alpha, beta=beta), net, "layers")
    named = list(net.named_parameters())
    chosen = [net.embed.weight, net.conv.weight, net.head.weight]
    expected = alpha * sum(
        (1 - math.exp(-beta * abs(v))) for p in chosen for v in p.detach().flatten().tolist()
    )
    penalty = reg.penalty(named, 0)
    assert penalty is not None
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-6)
    # The closed-form gradient reaches the chosen weights only.
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    reg.add_gradient(named, 0)
    touched = {n for n, p in named if p.grad is not None and bool(p.grad.abs().sum() > 0)}
    assert touched == {"embed.weight", "conv.weight", "head.weight"}
    assert restrict(DRR(alpha), net, "all").penalty(named, 0) is not None


def test_fit_config_builds_the_restricted_regularizer() -> None:
    net = nn.Sequential(nn.Linear(3, 2))
    config = FitConfig(regularize="layers")
    reg = config.build_regularizer(0.5, 10, net)
    named = list(net.named_parameters())
    penalty = reg.penalty(named, 10**6) if reg is not None else None  # after the warm-up
    weight = net[0].weight.detach().abs()
    assert penalty is not None
    assert float(penalty.detach()) == pytest.approx(0.5 * float((1 - torch.exp(-5 * weight)).sum()))
    with pytest.raises(MdlkitError, match="no Linear, Conv or Embedding layer"):
        restrict(DRR(0.1), nn.LayerNorm(3), "layers")
    with pytest.raises(MdlkitError, match="regularize must be all or layers"):
        FitConfig(regularize="some").validate(data=False)  # type: ignore[arg-type]
