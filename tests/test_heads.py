import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mdlkit import MdlkitError
from mdlkit.codes import TorchLearner, doubling_schedule, prequential_code
from mdlkit.coding import DiscretizedGaussian, gaussian_bin_bits
from mdlkit.data import Split
from mdlkit.heads import CategoricalHead, GaussianHead, evaluate, head_for, outputs
from mdlkit.models import ModelSpec, mlp
from mdlkit.training import LossSaturation, TrainConfig, train


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return mlp([4, 8, 3])


def test_categorical_bits_match_an_independent_log_softmax() -> None:
    model, x = _model(), torch.randn(2500, 4)
    y = torch.randint(0, 3, (2500,))
    for t in (1.0, 0.5, 3.0):
        bits = CategoricalHead(temperature=t).bits(model, x, y)
        with torch.no_grad():
            logp = torch.log_softmax(model(x).double() / t, dim=1)
        expected = -logp[torch.arange(2500), y].numpy() / math.log(2)
        assert np.allclose(bits, expected, rtol=1e-12, atol=1e-12)


def test_predict_is_chunked_eval_mode_and_deterministic() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    model.train()
    x = torch.randn(3000, 4)
    head = CategoricalHead()
    first = head.predict(model, x).probs
    assert model.training  # restored
    assert np.array_equal(first, head.predict(model, x).probs)  # dropout was off, bit for bit
    # Chunked: the rows of a sub-batch aligned to the chunk size are the same bits.
    assert np.array_equal(head.predict(model, x[:1024]).probs, first[:1024])
    assert first.dtype == np.float64


def test_gaussian_head_loss_and_bits_match_closed_forms() -> None:
    head = GaussianHead(sigma_init=0.5, epsilon=1e-4, learn_sigma=False)
    out, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.3], [0.2]])
    expected_nats = np.mean([r**2 / (2 * 0.25) + math.log(0.5) for r in (0.3, -0.8)])
    # float32 arithmetic inside the losses: agreement to ~1e-7 relative, checked at 1e-5.
    assert float(head(out, y)) == pytest.approx(expected_nats, rel=1e-5)
    assert float(head.data_loss(out, y)) == pytest.approx(0.5 * (0.09 + 0.64) / 2, rel=1e-5)
    dist = head.distribution(out.double())
    assert isinstance(dist, DiscretizedGaussian) and dist.sigma == 0.5
    bits = dist.ideal_bits(head.symbols(y))
    # For ε ≪ σ the bin mass is ε times the density.
    continuous = [
        r**2 / (2 * 0.25 * math.log(2)) + 0.5 * math.log2(2 * math.pi * 0.25) - math.log2(1e-4)
        for r in (0.3, -0.8)
    ]
    assert np.allclose(bits, continuous, rtol=1e-6)


def test_head_for_and_evaluate() -> None:
    model, x = _model(), torch.randn(100, 4)
    labels = torch.randint(0, 3, (100,))
    assert isinstance(head_for(Split(x, labels)), CategoricalHead)
    assert isinstance(head_for(Split(x, torch.randn(100, 1))), GaussianHead)
    ev = evaluate(model, Split(x, labels))
    with torch.no_grad():
        logits = model(x)
    assert ev.loss == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)
    assert ev.accuracy == int((logits.argmax(1) == labels).sum()) / 100
    assert torch.equal(outputs(model, x), logits)
    with pytest.raises(MdlkitError, match="temperature"):
        CategoricalHead(temperature=0.0)


def test_prequential_code_of_regression_targets_decodes_and_learns() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(320, 2, generator=gen) * 2 - 1
    y = (x[:, :1] - 0.5 * x[:, 1:]) + 0.05 * torch.randn(320, 1, generator=gen)
    config = TrainConfig(max_epochs=40, batch_size=32, lr=1e-2, stopping=LossSaturation(window=6))
    learner = TorchLearner(ModelSpec("mlp", {"sizes": [2, 8, 1]}), config, epsilon=1e-3)
    bounds = doubling_schedule(320, first=20)
    code = prequential_code(x, y, None, learner, bounds, epsilon=1e-3, verify=True)
    assert code.decoded
    k = np.round(y.numpy().ravel().astype(np.float64) / 1e-3)
    assert np.array_equal(code.labels, k)
    size = k.max() - k.min() + 1
    # Block 0 is uniform over the sent range: exactly log2(range) bits per target.
    assert code.block_bits[0] == pytest.approx(20 * math.log2(size), rel=1e-12)
    assert code.length.parts["side"] == 136
    assert code.length.total < 320 * math.log2(size)  # it learns
    # The last block is coded with the σ its head learned in training (moved from its start
    # at 0.1): the block's bits are the bin masses under that σ, computed here independently.
    last = code.fitted[-1]
    assert last is not None and isinstance(last.head, GaussianHead)
    assert last.head.sigma != pytest.approx(0.1, rel=1e-3)
    means = outputs(last.model, x[160:]).double().numpy().ravel()
    expected = gaussian_bin_bits(code.labels[160:], means, last.head.sigma, 1e-3).sum()
    assert code.block_bits[-1] == pytest.approx(float(expected), rel=1e-12)


def test_the_best_snapshot_keeps_the_sigma_of_its_own_epoch() -> None:
    torch.manual_seed(0)
    w = torch.tensor([[1.0], [2.0], [-1.0]])
    x, xv = torch.randn(200, 3), torch.randn(50, 3)
    train_split = Split(x, x @ w + 0.3 * torch.randn(200, 1))
    val = Split(xv, xv @ w + 0.3 * torch.randn(50, 1))
    model = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    head = GaussianHead(sigma_init=1.0, epsilon=1e-3)
    logged: dict[int, float] = {}
    config = TrainConfig(max_epochs=60, batch_size=8, lr=3e-2, stopping=None)
    result = train(
        model,
        train_split,
        val,
        config,
        loss_fn=head,
        on_epoch=lambda log: logged.__setitem__(log.epoch, log.val_loss),
    )
    assert result.best_epoch != 59  # the run overshoots: the best epoch is not the last
    # The returned weights AND σ give back the objective logged at the best epoch, bit for bit.
    assert evaluate(model, val, head, objective=True).loss == logged[result.best_epoch]


def test_unfit_shapes_and_precisions_are_one_line_errors() -> None:
    with pytest.raises(MdlkitError, match="outputs of shape"):
        GaussianHead()(torch.zeros(5, 10), torch.ones(5, 1))  # would broadcast silently
    x, y = torch.rand(40, 2), torch.rand(40, 1)
    config = TrainConfig(max_epochs=2, batch_size=8, stopping=None)
    learner = TorchLearner(ModelSpec("mlp", {"sizes": [2, 4, 1]}), config, epsilon=1e-3)
    with pytest.raises(MdlkitError, match="same precision"):
        prequential_code(x, y, None, learner, [0, 10, 40], epsilon=1e-2)


@pytest.mark.parametrize("shape", [(1500, 3), (1100, 5, 3)], ids=["rows", "positions"])
def test_bits_in_chunks_equal_the_whole_prediction(shape: tuple[int, ...]) -> None:
    # Head.bits goes through the rows a chunk at a time (memory); it must give exactly the
    # numbers of one predict() over every row, positions of a sequence model included.
    torch.manual_seed(0)
    model = nn.Linear(3, 3)
    x = torch.randn(*shape)
    y = torch.randint(3, shape[:-1])
    head = CategoricalHead(temperature=1.3)
    whole = head.predict(model, x).ideal_bits(head.symbols(y))
    chunked = head.bits(model, x, y)
    assert chunked.shape == whole.shape == (y.numel(),)
    assert np.array_equal(chunked, whole)


def test_bits_refuse_targets_that_do_not_match_the_inputs() -> None:
    model = nn.Linear(3, 3)
    with pytest.raises(MdlkitError, match="do not divide evenly"):
        CategoricalHead().bits(model, torch.randn(10, 3), torch.zeros(11, dtype=torch.int64))
