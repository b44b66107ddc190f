"""The two-part code of a classifier or regressor (mdlkit.codes.two_part_code): its parts, the
weight codec's description length as its model part, and an all-pruned model's cost."""

from __future__ import annotations

import math

import pytest
import torch

from mdlkit.codes import two_part_code
from mdlkit.coding.weights import OVERHEAD_BYTES
from mdlkit.data import load_digits
from mdlkit.data.splits import Split
from mdlkit.heads import GaussianHead
from mdlkit.models import ModelSpec

DIGITS_MLP = ModelSpec("mlp", {"sizes": [64, 32, 10], "activation": "relu"})


def test_an_all_pruned_models_code_costs_at_most_a_few_dozen_bits_above_uniform() -> None:
    train = load_digits(seed=0).train
    model = DIGITS_MLP.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    code = two_part_code(model, DIGITS_MLP, train, step=0.01, n_classes=10)
    uniform = len(train.y) * math.log2(10)
    # The model: 6 bytes of architecture (mlp, [64, 32, 10], relu) and N = 0 in one byte; the
    # file adds 9 bytes of magic, version and CRC32 that the code does not count.
    assert code.length.parts["architecture"] == 48 <= 64
    assert code.length.parts["weights"] == 8
    assert code.model_conventions["codec"] == 56
    assert code.details()["model_file_bytes"] == 16
    # The data: uniform under the all-zero logits; the range coder rounds the stream up to
    # whole 32-bit words (0 to 33 bits over n · log2 K, 6.3 bits on these 1,077 labels).
    assert code.data_ideal_bits == pytest.approx(uniform, rel=1e-6)
    assert code.coded_bits is not None and code.coded_bits == code.length.total
    assert code.coded_bits <= uniform + 64, (code.length.parts, uniform)


def test_the_model_part_is_the_codecs_description_length() -> None:
    train = load_digits(seed=0).train
    torch.manual_seed(0)
    model = DIGITS_MLP.build()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_((torch.rand(p.shape, generator=gen) < 0.1).float())
    code = two_part_code(model, DIGITS_MLP, train, step=0.01, n_classes=10)
    encoded = code.encoded_model
    assert set(code.length.parts) == {"architecture", "weights", "data"}
    assert code.length.parts["architecture"] == encoded.length.parts["architecture"] == 48
    assert code.length.parts["weights"] == (
        encoded.length.parts["header"] + encoded.length.parts["payload"]
    )
    assert (
        code.model_conventions["codec"]
        == encoded.length.total
        == (code.length.parts["architecture"] + code.length.parts["weights"])
    )
    assert code.length.total == code.model_conventions["codec"] + code.data_coded_bits
    file_bytes = code.details()["model_file_bytes"]
    assert file_bytes == len(encoded.data) == encoded.file_bytes
    assert 8 * file_bytes == code.model_conventions["codec"] + 8 * OVERHEAD_BYTES


def test_a_regression_code_has_sigma_and_side_parts_besides_the_model_parts() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=gen)
    y = x[:, :1] - x[:, 1:] + 0.05 * torch.randn(200, 1, generator=gen)
    spec = ModelSpec("mlp", {"sizes": [2, 4, 1]})
    torch.manual_seed(0)
    code = two_part_code(spec.build(), spec, Split(x, y), 0.01, head=GaussianHead(epsilon=1e-3))
    assert set(code.length.parts) == {"architecture", "weights", "sigma", "side", "data"}
    assert code.length.parts["sigma"] == 32
    assert code.length.parts["architecture"] == 8 * len(["00", "02", "02", "04", "01", "01"])
    assert code.length.total == code.coded_bits
