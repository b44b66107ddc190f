import math

import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.data import load_digits
from mdlkit.models import mlp
from mdlkit.regularizers import DRR, LinearWarmup, chain, masked
from mdlkit.training import LossSaturation, TrainConfig, train


def test_drr_penalty_and_gradient_match_the_closed_form() -> None:
    alpha, beta = 0.3, 4.0
    theta = torch.tensor([-1.5, -0.2, 0.0, 0.1, 2.0], dtype=torch.float64, requires_grad=True)
    penalty = DRR(alpha, beta).penalty([("w", theta)], step=0)
    assert penalty is not None
    expected = alpha * sum(1 - math.exp(-beta * abs(t)) for t in [-1.5, -0.2, 0.0, 0.1, 2.0])
    assert float(penalty.detach()) == pytest.approx(expected, rel=1e-12)
    (grad,) = torch.autograd.grad(penalty, theta)
    closed = alpha * beta * torch.sign(theta) * torch.exp(-beta * theta.abs())
    assert torch.allclose(grad, closed.detach(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan")])
def test_drr_rejects_non_positive_beta(beta: float) -> None:
    with pytest.raises(MdlkitError, match="beta > 0"):
        DRR(1e-3, beta)


def test_negative_strength_is_rejected() -> None:
    with pytest.raises(MdlkitError, match=">= 0"):
        DRR(-1e-3)
    with pytest.raises(MdlkitError):
        LinearWarmup(-1.0, 10)


def _train(regularizer: object | None) -> tuple[torch.nn.Module, list[float]]:
    splits = load_digits(seed=0)
    torch.manual_seed(3)
    model = mlp([64, 32, 10])
    config = TrainConfig(max_epochs=4, batch_size=32, seed=5, stopping=None)
    result = train(model, splits.train, splits.val, config, regularizer=regularizer)  # type: ignore[arg-type]
    return model, [e.val_loss for e in result.history]


def test_drr_at_zero_strength_is_bit_for_bit_plain_training() -> None:
    plain, plain_losses = _train(None)
    zero, zero_losses = _train(DRR(0.0, beta=5.0))
    assert plain_losses == zero_losses
    for a, b in zip(plain.parameters(), zero.parameters(), strict=True):
        assert torch.equal(a, b)
    strong, _ = _train(DRR(1e-2, beta=5.0))  # and a real strength does change the run
    assert not all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), strong.parameters(), strict=True)
    )


def test_chain_of_one_is_its_member_and_chain_sums() -> None:
    drr = DRR(0.1)
    assert chain(drr) is drr
    params = [("w", torch.tensor([0.5, -1.0]))]
    both = chain(DRR(0.1), DRR(0.2))
    single = DRR(0.3).penalty(params, 0)
    assert float(both.penalty(params, 0)) == pytest.approx(float(single), rel=1e-6)  # type: ignore[arg-type]


def test_masked_touches_only_selected_tensors() -> None:
    params = [("0.weight", torch.tensor([1.0])), ("0.bias", torch.tensor([1.0]))]
    only_weights = masked(DRR(1.0, beta=1.0), lambda name, _: name.endswith("weight"))
    assert float(only_weights.penalty(params, 0)) == pytest.approx(1 - math.exp(-1))  # type: ignore[arg-type]


def test_warmup_schedule_drives_the_strength() -> None:
    reg = DRR(LinearWarmup(1.0, warmup_steps=4), beta=1.0)
    params = [("w", torch.tensor([1.0]))]
    values = [float(reg.penalty(params, s)) for s in range(6)]  # type: ignore[arg-type]
    assert values == pytest.approx([f * (1 - math.exp(-1)) for f in (0, 0.25, 0.5, 0.75, 1, 1)])


def test_stopping_config_is_validated() -> None:
    with pytest.raises(MdlkitError):
        LossSaturation(window=2)
