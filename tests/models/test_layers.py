"""Sequential networks as JSON: every model mdlkit fits is described and rebuilt with the same
state-dict keys and outputs; anything else is refused in one line."""

import json

import pytest
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.models import lenet5_caffe, mlp, small_cnn
from mdlkit.models.layers import Select, build_layers, describe_layers


@pytest.mark.parametrize(
    ("net", "shape"),
    [
        (mlp([7, 5, 3], "gelu"), (7,)),
        (mlp([4, 6, 6, 1], "tanh"), (4,)),
        (small_cnn(8), (1, 8, 8)),
        (lenet5_caffe(), (1, 28, 28)),
        (nn.Sequential(Select(5, torch.tensor([4, 0])), nn.Linear(2, 1)), (5,)),
        (
            nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2, 1)),
            (1, 4, 4),
        ),
    ],
)
def test_a_description_rebuilds_the_same_network(net: nn.Module, shape: tuple[int, ...]) -> None:
    layers = json.loads(json.dumps(describe_layers(net)))  # through JSON, as it is stored
    rebuilt = build_layers(layers)
    rebuilt.load_state_dict(net.state_dict())
    assert list(rebuilt.state_dict()) == list(net.state_dict())
    x = torch.randn(3, *shape)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), net.eval()(x))


def test_other_layers_and_damaged_descriptions_are_refused() -> None:
    with pytest.raises(MdlkitError, match="LSTM"):
        describe_layers(nn.Sequential(nn.LSTM(2, 2)))
    with pytest.raises(MdlkitError, match="groups"):
        describe_layers(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)))
    with pytest.raises(MdlkitError, match="unknown layer type 'softmax'"):
        build_layers([{"type": "softmax"}])
    with pytest.raises(MdlkitError, match="damaged"):
        build_layers([{"type": "linear", "in": 3}])
