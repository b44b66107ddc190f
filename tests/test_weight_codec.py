import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError, evaluate
from mdlkit.coding import decode_model, encode_model, read_model
from mdlkit.coding.tensors import TensorCounts, TensorDecoder, TensorEncoder
from mdlkit.data import load_digits
from mdlkit.models import ModelSpec
from mdlkit.pruning import choose_step, count_nonzero, quantize_model


def _sparse_model(seed: int = 0, density: float = 0.1) -> tuple[ModelSpec, torch.nn.Module]:
    spec = ModelSpec("mlp", {"sizes": [16, 24, 12, 5], "activation": "relu"})
    torch.manual_seed(seed)
    model = spec.build()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_((torch.rand(p.shape, generator=gen) < density).float())
        # A dead unit (whole row zero) and a dead input (whole column zero), as pruning leaves.
        model[0].weight[3].zero_()
        model[0].weight[:, 7].zero_()
    return spec, model


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_decoded_model_outputs_equal_the_quantized_models_exactly(density: float) -> None:
    spec, model = _sparse_model(density=density)
    step = 0.01
    encoded = encode_model(model, spec, step)
    quantize_model(model, step)
    decoded = decode_model(encoded.data)
    x = torch.randn(257, 16)
    with torch.no_grad():
        assert torch.equal(decoded(x), model(x))
    for (n1, p1), (n2, p2) in zip(
        model.named_parameters(), decoded.named_parameters(), strict=True
    ):
        assert n1 == n2 and torch.equal(p1, p2)
    assert encoded.nonzero == count_nonzero(model)
    # The file IS the reported size, and the payload is close to its ideal length.
    assert encoded.length.total == 8 * len(encoded.data)
    assert encoded.length.parts["payload"] <= encoded.ideal.total * 1.001 + 64


def test_codec_is_much_smaller_than_float32_for_a_sparse_model() -> None:
    spec, model = _sparse_model(density=0.05)
    encoded = encode_model(model, spec, 0.01)
    dense_bits = 32 * encoded.total
    assert encoded.length.total < 0.25 * dense_bits


def test_file_round_trip_and_no_overwrite(tmp_path: Path) -> None:
    spec, model = _sparse_model()
    encoded = encode_model(model, spec, 0.02)
    path = encoded.write(tmp_path / "m.mdlw")
    decoded = read_model(path)
    quantize_model(model, 0.02)
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), decoded.parameters(), strict=True)
    )
    with pytest.raises(FileExistsError):
        encoded.write(path)


def test_corrupt_or_foreign_files_give_clear_errors(tmp_path: Path) -> None:
    spec, model = _sparse_model()
    data = encode_model(model, spec, 0.02).data
    with pytest.raises(MdlkitError, match="bad magic"):
        decode_model(b"XXXX" + data[4:])
    with pytest.raises(MdlkitError, match="truncated"):
        decode_model(data[:-1])
    with pytest.raises(MdlkitError, match="not found"):
        read_model(tmp_path / "missing.mdlw")


def test_chosen_step_meets_the_loss_tolerance() -> None:
    splits = load_digits(seed=0)
    spec = ModelSpec("mlp", {"sizes": [64, 16, 10]})
    torch.manual_seed(0)
    model = spec.build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(splits.train.x), splits.train.y).backward()
        opt.step()
    reference = evaluate(model, splits.val).loss
    step = choose_step(model, lambda m: evaluate(m, splits.val), delta=0.01)
    assert step == float(np.float32(step))  # stored exactly in the header
    assert evaluate(model, splits.val).loss == reference  # the search restored the weights
    quantize_model(model, step)
    assert evaluate(model, splits.val).loss <= 1.01 * reference
    quantize_model(model, 4 * step)  # a much coarser grid breaks the tolerance
    assert evaluate(model, splits.val).loss > 1.01 * reference


@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
    st.sampled_from([(60,), (6, 10), (3, 4, 5)]),
)
@settings(max_examples=100, deadline=None)
def test_tensor_coder_round_trips_sparse_integer_tensors(
    values: list[int], density: float, shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(len(values))
    q = np.resize(np.asarray(values, dtype=np.int64), 60) * (rng.random(60) < density)
    tensors = [q.reshape(shape), np.zeros(shape, dtype=np.int64), -q.reshape(shape)]
    encoder = TensorEncoder()
    counts = [encoder.encode(t) for t in tensors]
    decoder = TensorDecoder(encoder.finish())
    for t, c in zip(tensors, counts, strict=True):
        assert np.array_equal(decoder.decode(shape, c), t)


def test_tensor_coder_mask_costs_n_times_the_binary_entropy() -> None:
    # A vector's mask is n flags under Bernoulli(k / n): ideally n · H(k / n) bits, exactly.
    q = np.zeros(40, dtype=np.int64)
    q[[3, 9, 27]] = [1, -2, 5]
    encoder = TensorEncoder()
    assert encoder.encode(q) == TensorCounts(3, 3, 1, 3)
    p = 3 / 40
    assert encoder.ideal["mask"] == pytest.approx(-40 * (p * np.log2(p) + (1 - p) * np.log2(1 - p)))


# --- format 2 is frozen; the encoder refuses what the decoder would refuse -------------------


def _fixed_model(spec: ModelSpec, values: np.ndarray) -> torch.nn.Module:
    """``spec``'s model with its parameters filled from ``values`` in order (no torch RNG)."""
    model = spec.build()
    with torch.no_grad():
        i = 0
        for p in model.parameters():
            p.copy_(torch.from_numpy(values[i : i + p.numel()].reshape(p.shape)))
            i += p.numel()
    return model


# Written by the encoder before the decoder's checks were tightened (commit f82b7ad).
GOLDEN_TANH_MLP = bytes.fromhex(
    "4d444c57023d7b226b696e64223a226d6c70222c226b7761726773223a7b2273697a6573223a5b342c332c325d"
    "2c2261637469766174696f6e223a2274616e68227d7dcdcc4c3d0407030405020201030402020501010105904142"
    "ce974bf651db7e6486d274ec6f286791c6"
)
GOLDEN_TRANSFORMER_SHA256 = "97fee9265aea3b03c51b0944071e638a76b51e7b8b478b8e5e4f3e5c1bac64ac"


def test_encoder_output_is_byte_identical_to_format_2_as_written_before() -> None:
    spec = ModelSpec("mlp", {"sizes": [4, 3, 2], "activation": "tanh"})
    values = np.linspace(-1.0, 1.0, 23) * (np.arange(23) % 3 != 0)
    data = encode_model(_fixed_model(spec, values), spec, 0.05).data
    assert data == GOLDEN_TANH_MLP
    assert [p.tolist() for p in decode_model(data).parameters()] == [
        p.tolist()
        for p in _fixed_model(spec, np.round(values / 0.05) * np.float32(0.05)).parameters()
    ]
    spec = ModelSpec(
        "byte_transformer", {"context": 8, "d_model": 8, "n_layers": 1, "n_heads": 2, "d_ff": None}
    )
    model = spec.build()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(0, 0.3, p.shape) * (rng.random(p.shape) < 0.3)))
    data = encode_model(model, spec, 0.01).data
    assert hashlib.sha256(data).hexdigest() == GOLDEN_TRANSFORMER_SHA256
    decode_model(data)  # a spec with a null argument (d_ff) passes the decoder's type check


def test_decoding_draws_from_torchs_generator_exactly_as_building_the_model_once() -> None:
    # Runs that decode a model mid-way (the two-part code) must keep their random streams.
    spec, model = _sparse_model()
    data = encode_model(model, spec, 0.02).data
    torch.manual_seed(5)
    spec.build()
    expected = torch.rand(3)
    torch.manual_seed(5)
    decode_model(data)
    assert torch.equal(torch.rand(3), expected)


def test_encoder_refuses_weights_it_could_not_code() -> None:
    spec, model = _sparse_model()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(MdlkitError, match=r"parameter 0\.weight has values that are not finite"):
        encode_model(model, spec, 0.02)
    with torch.no_grad():
        model[0].weight[0, 0] = 1e30  # 2**62 or more steps: q would not fit int64
    with pytest.raises(MdlkitError, match="2\\*\\*62 or more steps"):
        encode_model(model, spec, 1e-12)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (ModelSpec("mlp", {"sizes": [16, 24.0, 12, 5]}), "sizes a value of the wrong type"),
        (ModelSpec("mlp", {"sizes": [16, 24, 12, 6]}), "do not have the shapes"),
        (ModelSpec("mlp", {"sizes": [16, 2**25, 5]}), "parameters, more than a weight file holds"),
    ],
)
def test_encoder_refuses_a_spec_the_decoder_would_refuse(spec: ModelSpec, problem: str) -> None:
    _, model = _sparse_model()
    with pytest.raises(MdlkitError, match=f"cannot write a weight file: .*{problem}"):
        encode_model(model, spec, 0.02)
