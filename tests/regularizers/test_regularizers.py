import math

import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.data import Split, load_digits
from mdlkit.models import mlp
from mdlkit.regularizers import DRR, L1, L2, PMMP, LinearWarmup, Regularizer, chain, masked
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


ZERO_AND_STRONG = {
    "drr": (lambda: DRR(0.0, beta=5.0), lambda: DRR(1e-2, beta=5.0)),
    "drr-normalized": (
        lambda: DRR(0.0, normalize_layers=True),
        lambda: DRR(1e-2, normalize_layers=True),
    ),
    "l1": (lambda: L1(0.0), lambda: L1(1e-3)),
    "l1-proximal": (lambda: L1(0.0, proximal=True), lambda: L1(1e-1, proximal=True)),
    "l2": (lambda: L2(0.0), lambda: L2(1e-2)),
    "pmmp": (lambda: PMMP(0.0, c=0.0), lambda: PMMP(1e-3)),
    "fpp": (
        lambda: PMMP(0.0, c=0.0, fictitious_play=True),
        lambda: PMMP(1e-3, fictitious_play=True),
    ),
    "chain": (lambda: chain(DRR(0.0), L1(0.0), L2(0.0)), lambda: chain(DRR(1e-2), L2(1e-2))),
}


@pytest.mark.parametrize("kind", sorted(ZERO_AND_STRONG))
def test_every_regularizer_at_zero_strength_is_bit_for_bit_plain_training(kind: str) -> None:
    zero_factory, strong_factory = ZERO_AND_STRONG[kind]
    plain, plain_losses = _train(None)
    zero, zero_losses = _train(zero_factory())
    assert plain_losses == zero_losses
    for a, b in zip(plain.parameters(), zero.parameters(), strict=True):
        assert torch.equal(a, b)
    strong, _ = _train(strong_factory())  # and a real strength does change the run
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


def _sparse_recovery_problem() -> tuple[Split, torch.Tensor]:
    # Compressive sensing: 25 measurements of a 4-sparse vector in 40 unknowns.
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(25, 40, generator=gen)
    truth = torch.zeros(40)
    support = torch.randperm(40, generator=gen)[:4]
    truth[support] = torch.tensor([1.5, -2.0, 1.0, -1.2])
    return Split(a, (a @ truth)[:, None]), truth


@pytest.mark.parametrize("fictitious_play", [False, True])
def test_pmmp_recovers_the_true_support_of_a_compressive_sensing_problem(
    fictitious_play: bool,
) -> None:
    split, truth = _sparse_recovery_problem()
    torch.manual_seed(0)
    model = torch.nn.Linear(40, 1, bias=False)
    reg = PMMP(0.05, fictitious_play=fictitious_play)
    config = TrainConfig(max_epochs=2500, batch_size=None, lr=1e-2, stopping=None, keep_best=False)
    train(model, split, split, config, regularizer=reg)
    gamma = reg.keep_probabilities()["weight"][0]
    assert torch.equal(gamma > 0.5, truth != 0)
    assert reg.converged([]) and reg.undecided_fraction() == 0.0
    assert torch.allclose(model.weight[0].detach(), truth, atol=1e-3)


def test_without_pmmp_the_same_problem_is_not_sparse() -> None:
    # The control: least squares alone spreads weight over many coordinates.
    split, truth = _sparse_recovery_problem()
    torch.manual_seed(0)
    model = torch.nn.Linear(40, 1, bias=False)
    config = TrainConfig(max_epochs=2500, batch_size=None, lr=1e-2, stopping=None, keep_best=False)
    train(model, split, split, config)
    off_support = model.weight[0].detach()[truth == 0].abs()
    assert int((off_support > 0.05).sum()) > 10


@pytest.mark.parametrize("fictitious_play", [False, True])
def test_pmmp_gradients_match_the_specification(fictitious_play: bool) -> None:
    theta = torch.tensor([0.7, -0.3], dtype=torch.float64, requires_grad=True)
    reg = PMMP(0.2, c=1.5, gamma_init=0.6, u_init=2.0, fictitious_play=fictitious_play)
    w, gamma, u = reg.extra_parameters([("p", theta)])
    with torch.no_grad():
        w.copy_(torch.tensor([1.1, -0.5], dtype=torch.float64))
    if fictitious_play:  # averages that differ from the current values
        reg.averages["p"] = {
            "theta": torch.tensor([0.5, -0.1], dtype=torch.float64),
            "w": torch.tensor([1.0, -0.4], dtype=torch.float64),
            "gamma": torch.tensor([0.7, 0.5], dtype=torch.float64),
            "u": torch.tensor([1.5, 2.5], dtype=torch.float64),
        }
    theta.grad = torch.zeros_like(theta)
    reg.add_gradient([("p", theta)], 0)
    c, a = 1.5, 0.2
    wd, gd, ud = w.detach(), gamma.detach(), u.detach()
    r = theta.detach() - wd * gd
    up = reg.averages["p"]["u"] if fictitious_play else ud
    assert torch.allclose(theta.grad, 2 * c * up * r)
    assert torch.allclose(w.grad, c * up * (-2 * gd * r + 2 * wd * gd * (1 - gd)))  # type: ignore[arg-type]
    assert torch.allclose(gamma.grad, c * up * (-2 * wd * r + wd**2 * (1 - 2 * gd)) + a)  # type: ignore[arg-type]
    if fictitious_play:
        avg = reg.averages["p"]
        r_bar = avg["theta"] - avg["w"] * avg["gamma"]
        expected_u = -c * (r_bar**2 + avg["w"] ** 2 * avg["gamma"] * (1 - avg["gamma"]))
    else:
        expected_u = -c * (r**2 + wd**2 * gd * (1 - gd))
    assert torch.allclose(u.grad, expected_u)  # type: ignore[arg-type]


def test_pmmp_closed_form_gradients_equal_autograd_of_its_objective() -> None:
    # Descent on θ, w, γ and ascent on u of α·Σγ + c·Σu·E[(θ − wz)²].
    theta = torch.tensor([0.7, -0.3, 0.05], dtype=torch.float64, requires_grad=True)
    reg = PMMP(0.2, c=1.5, gamma_init=0.6, u_init=2.0)
    w, gamma, u = reg.extra_parameters([("p", theta)])
    penalty = reg.penalty([("p", theta)], 0)
    assert penalty is not None
    auto = torch.autograd.grad(penalty, [theta, w, gamma, u])
    theta.grad = torch.zeros_like(theta)
    reg.add_gradient([("p", theta)], 0)
    assert torch.allclose(theta.grad, auto[0])
    assert torch.allclose(w.grad, auto[1])  # type: ignore[arg-type]
    assert torch.allclose(gamma.grad, auto[2])  # type: ignore[arg-type]
    assert torch.allclose(u.grad, -auto[3])  # type: ignore[arg-type]


def test_pmmp_clamps_and_restores_its_state() -> None:
    theta = torch.tensor([0.5, 2.0])
    reg = PMMP(0.1, fictitious_play=True)
    _, gamma, u = reg.extra_parameters([("p", theta)])
    with torch.no_grad():
        gamma.copy_(torch.tensor([1.4, -0.2]))
        u.copy_(torch.tensor([-1.0, 3.0]))
    reg.after_step([("p", theta)], 0)
    assert gamma.tolist() == [1.0, 0.0] and u.tolist() == [0.0, 3.0]
    other = PMMP(0.1, fictitious_play=True)
    other.extra_parameters([("p", theta)])
    other.load_state_dict(reg.state_dict())
    for key, value in reg.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)


@pytest.mark.parametrize("gamma_init", [-0.1, 1.5, float("nan")])
def test_pmmp_rejects_gamma_init_outside_the_unit_interval(gamma_init: float) -> None:
    with pytest.raises(MdlkitError, match=r"gamma init must lie in \[0, 1\]"):
        PMMP(0.1, gamma_init=gamma_init)


def test_proximal_l1_gives_exact_zeros_and_subgradient_does_not() -> None:
    prox, _ = _train(L1(2e-1, proximal=True, step_size=1e-3))
    sub, _ = _train(L1(2e-4))
    assert sum(int((p == 0).sum()) for p in prox.parameters()) > 100
    assert sum(int((p == 0).sum()) for p in sub.parameters()) == 0


def test_layer_normalisation_equalises_the_pull_per_tensor() -> None:
    small, large = torch.ones(10, requires_grad=True), torch.ones(1000, requires_grad=True)
    reg: Regularizer = L1(1.0, normalize_layers=True)
    penalty = reg.penalty([("a", small), ("b", large)], 0)
    assert penalty is not None
    penalty.backward()
    # N_total / (L · N_ℓ): 1010 / 20 per entry of the small tensor, 1010 / 2000 of the large one.
    assert torch.allclose(small.grad, torch.full((10,), 1010 / 20))  # type: ignore[arg-type]
    assert torch.allclose(large.grad, torch.full((1000,), 1010 / 2000))  # type: ignore[arg-type]
    assert float(small.grad.sum()) == pytest.approx(float(large.grad.sum()))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "reg",
    [
        DRR(0.3, beta=4.0),
        DRR(0.3, beta=4.0, l2=0.2, normalize_layers=True),
        L1(0.7),
        L1(0.7, normalize_layers=True),
    ],
    ids=["drr", "drr-l2-normalized", "l1", "l1-normalized"],
)
def test_closed_form_gradient_equals_autograd_of_the_penalty(reg: Regularizer) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(7, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    params = [("a", a), ("b", b)]
    assert reg.loss_term(params, 0) is None  # the training step does not go through autograd
    penalty = reg.penalty(params, 0)
    assert penalty is not None
    expected = torch.autograd.grad(penalty, [a, b])
    a.grad, b.grad = torch.zeros_like(a), torch.zeros_like(b)
    reg.add_gradient(params, 0)
    assert torch.allclose(a.grad, expected[0], rtol=1e-12, atol=1e-15)
    assert torch.allclose(b.grad, expected[1], rtol=1e-12, atol=1e-15)
