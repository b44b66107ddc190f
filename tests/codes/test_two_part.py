"""The two-part code of a classifier or regressor (mdlkit.codes.two_part_code): its parts, the
weight codec's description length as its model part, and an all-pruned model's cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mdlkit.codes import decode_uniform, two_part_code, uniform_bits
from mdlkit.codes.uniform import UniformStream
from mdlkit.coding.streams import ByteStream, Decoder, Encoder
from mdlkit.coding.weights import OVERHEAD_BYTES
from mdlkit.data import load_digits
from mdlkit.data.splits import Split
from mdlkit.heads import GaussianHead
from mdlkit.models import ModelSpec

DIGITS_MLP = ModelSpec("mlp", {"sizes": [64, 32, 10], "activation": "relu"})


def test_an_all_pruned_classifier_costs_56_bits_and_less_than_one_above_uniform() -> None:
    train = load_digits(seed=0).train
    model = DIGITS_MLP.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    code = two_part_code(model, DIGITS_MLP, train, step=0.01, n_classes=10)
    n = len(train.y)
    uniform = n * math.log2(10)
    # The model: 6 bytes of architecture (mlp, [64, 32, 10], relu) and N = 0 in one byte; the
    # file adds 9 bytes of magic, version and CRC32 that the code does not count.
    assert code.length.parts["architecture"] == 48 <= 64
    assert code.length.parts["weights"] == 8
    assert code.model_conventions["codec"] == 56
    assert code.details()["model_file_bytes"] == 16
    # The data: N = 0 tells the receiver every prediction is 1/10, so the labels go in the
    # exact uniform stream, ⌈n · log2 10⌉ bits (where the range coder took 3,584).
    assert isinstance(code.encoded_data, UniformStream)
    assert code.length.parts["data"] == uniform_bits(n, 10) == math.ceil(uniform)
    assert np.array_equal(decode_uniform(code.encoded_data.data, n, 10), train.y.numpy())
    assert code.data_ideal_bits == pytest.approx(uniform, rel=1e-12)
    assert code.coded_bits is not None and code.coded_bits == code.length.total
    assert 56 <= code.coded_bits - uniform < 57, (code.length.parts, uniform)
    print(f"all-pruned MLP 64-32-10 on digits: {code.length.parts}, uniform {uniform:.1f}")


def test_an_all_pruned_regressor_keeps_its_gaussian_stream() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(100, 2, generator=gen)
    y = x[:, :1] + 0.1 * torch.randn(100, 1, generator=gen)
    spec = ModelSpec("mlp", {"sizes": [2, 4, 1]})
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    code = two_part_code(model, spec, Split(x, y), 0.01, head=GaussianHead(epsilon=1e-3))
    assert isinstance(code.encoded_data, ByteStream)
    assert set(code.length.parts) == {"architecture", "weights", "sigma", "side", "data"}
    assert code.length.parts["weights"] == 8
    assert code.length.parts["data"] == 8 * len(code.encoded_data.data)


def test_the_data_stream_is_cut_to_whole_bytes_that_decode_into_the_labels() -> None:
    train = load_digits(seed=0).train
    torch.manual_seed(0)
    model = DIGITS_MLP.build()
    code = two_part_code(model, DIGITS_MLP, train, step=2.0**-6, n_classes=10)
    stream = code.encoded_data
    assert isinstance(stream, ByteStream)
    assert code.length.parts["data"] == code.data_coded_bits == 8 * len(stream.data)
    dist = code.head.predict(code.decoded_model, train.x)
    assert np.array_equal(Decoder(stream.words).decode(dist), train.y.numpy())
    # Never longer than constriction's whole words, and at most a byte and a bit above ideal.
    encoder = Encoder()
    encoder.encode(train.y.numpy(), dist)
    assert len(stream.data) <= 4 * len(encoder.finish().words)
    assert code.data_ideal_bits - 8 < code.length.parts["data"] <= code.data_ideal_bits + 16


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
