import math

import pytest
import torch
from torch import nn

from mdlkit.models import ProbabilityAverage


def test_the_output_is_the_log_of_the_members_mean_probabilities() -> None:
    torch.manual_seed(0)
    members = [nn.Linear(5, 3) for _ in range(3)]
    x = torch.randn(7, 5, dtype=torch.float64)
    for m in members:
        m.double()
    out = ProbabilityAverage(members)(x)
    mean = sum(m(x).softmax(-1) for m in members) / 3
    assert torch.allclose(out, mean.log(), atol=1e-12)
    assert torch.allclose(out.exp().sum(-1), torch.ones(7, dtype=torch.float64), atol=1e-12)


@torch.no_grad()
def test_its_log_loss_is_at_most_the_members_mean_log_loss() -> None:
    torch.manual_seed(1)
    members = [nn.Linear(4, 5) for _ in range(4)]
    x, y = torch.randn(50, 4), torch.randint(0, 5, (50,))
    ensemble = nn.functional.cross_entropy(ProbabilityAverage(members)(x), y)
    each = [nn.functional.cross_entropy(m(x), y) for m in members]
    assert float(ensemble) <= sum(float(e) for e in each) / 4 + 1e-6  # Jensen
    one = ProbabilityAverage(members[:1])(x)
    assert torch.allclose(one, members[0](x).log_softmax(-1), atol=1e-6)
    assert math.isclose(float(nn.functional.cross_entropy(one, y)), float(each[0]), rel_tol=1e-5)


def test_an_empty_ensemble_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        ProbabilityAverage([])
