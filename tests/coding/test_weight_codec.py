import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError, evaluate
from mdlkit.coding import architecture, decode_model, encode_model, read_model
from mdlkit.coding.architecture import (
    MODEL_KINDS,
    canonical_spec,
    parameters,
    write_architecture,
)
from mdlkit.coding.arguments import WORDS
from mdlkit.coding.container import crc32
from mdlkit.coding.streams import stream_bytes
from mdlkit.coding.tensor_coder import TensorCounts, TensorDecoder, TensorEncoder
from mdlkit.coding.tensors import _encoder_of, decode_tensors, encode_tensors
from mdlkit.coding.weights import decode_spec
from mdlkit.data import load_digits
from mdlkit.models import ModelSpec
from mdlkit.models.spec import MODEL_BUILDERS
from mdlkit.pruning import choose_step, count_nonzero, quantize_model
from mdlkit.pruning.quantize import grid_step


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
    # The description length plus the magic, version and CRC32 IS the file, and the payload
    # (counts, mask and values) is within 8 bits and a little of its ideal length.
    assert set(encoded.length.parts) == {"architecture", "header", "payload"}
    assert set(encoded.ideal.parts) == {"counts", "mask", "values"}
    assert encoded.overhead_bits == 8 * (4 + 1 + 4)
    assert encoded.length.total + encoded.overhead_bits == 8 * encoded.file_bytes
    assert encoded.file_bytes == len(encoded.data)
    assert encoded.length.parts["payload"] <= encoded.ideal.total * 1.001 + 16


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
    with pytest.raises(MdlkitError, match="corrupt: the payload is not the one mdlkit writes"):
        decode_model(data[:-1])
    with pytest.raises(MdlkitError, match="truncated"):
        decode_model(data[:12])
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


@given(
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=60),
    st.floats(0.0, 1.0),
    st.sampled_from([[(60,)], [(6, 10), (10,)], [(3, 4, 5), (1,), (2, 30)]]),
)
@settings(max_examples=150, deadline=None)
def test_format_3_payload_round_trips_with_its_counts_in_the_stream(
    values: list[int], density: float, shapes: list[tuple[int, ...]]
) -> None:
    rng = np.random.default_rng(len(values))
    grids = []
    for shape in shapes:
        size = int(np.prod(shape))
        q = np.resize(np.asarray(values, dtype=np.int64), size) * (rng.random(size) < density)
        grids.append(q.reshape(shape))
    nonzero = sum(int(np.count_nonzero(q)) for q in grids)
    encoded = encode_tensors(grids)
    assert [c.nonzero for c in encoded.counts] == [int(np.count_nonzero(q)) for q in grids]
    decoded = decode_tensors(encoded.data, shapes, nonzero)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, grids, strict=True))
    # The shortest form, never longer than constriction's whole words, and no byte to spare:
    # the last byte is never zero (it could be dropped, the decoder pads with zeros).
    shortest, whole = stream_bytes(_encoder_of(grids)[0].coder)
    assert encoded.data == shortest and len(shortest) <= len(whole)
    assert not encoded.data or encoded.data[-1] != 0


def test_format_3_counts_cost_what_their_uniform_ranges_say() -> None:
    # MLP 4-32-3 with 6 nonzero weights (N = 6 sent in the header): k of the first three
    # tensors in [0, 6], [0, 6 − k1], …, the last one's implied; r, c in small ranges; the
    # bucket count under Elias gamma's lengths.
    grids = [np.zeros((32, 4), dtype=np.int64), np.zeros(32, dtype=np.int64)]
    grids += [np.zeros((3, 32), dtype=np.int64), np.zeros(3, dtype=np.int64)]
    grids[0][3, 0], grids[0][7, 2], grids[0][7, 3] = 2, -3, 1  # k 3, r 2 in [1, 3], c 3 in [2, 3]
    grids[2][1, 3], grids[2][2, 7] = 4, -5  # k 2 in [0, 3], r 2 in [1, 2], c 2 in [1, 2]
    grids[3][0] = 2  # k 1 implied
    encoded = encode_tensors(grids)
    ks = np.log2(7) + np.log2(4) + np.log2(4)  # k1 in [0, 6], k2 in [0, 3], k3 in [0, 3]
    rcs = np.log2(3) + np.log2(2) + np.log2(2) + np.log2(2)
    gamma = 3 + 3 + 3  # b = 2, 3, 2: 3 bits each
    assert encoded.ideal["counts"] == pytest.approx(ks + rcs + gamma - 3 * np.log2(64 / 63))
    assert encoded.ideal["counts"] < 26  # where format 3 as first written sent 16 bytes


def test_tensor_coder_mask_costs_n_times_the_binary_entropy() -> None:
    # A vector's mask is n flags under Bernoulli(k / n): ideally n · H(k / n) bits, exactly.
    q = np.zeros(40, dtype=np.int64)
    q[[3, 9, 27]] = [1, -2, 5]
    encoder = TensorEncoder()
    assert encoder.encode(q) == TensorCounts(3, 3, 1, 3)
    p = 3 / 40
    assert encoder.ideal["mask"] == pytest.approx(-40 * (p * np.log2(p) + (1 - p) * np.log2(1 - p)))


# --- format 3 is frozen; the encoder refuses what the decoder would refuse ------------


def _fixed_model(spec: ModelSpec, values: np.ndarray) -> torch.nn.Module:
    """``spec``'s model with its parameters filled from ``values`` in order (no torch RNG)."""
    model = spec.build()
    with torch.no_grad():
        i = 0
        for p in model.parameters():
            p.copy_(torch.from_numpy(values[i : i + p.numel()].reshape(p.shape)))
            i += p.numel()
    return model


TANH_SPEC = ModelSpec("mlp", {"sizes": [4, 3, 2], "activation": "tanh"})
TANH_VALUES = np.linspace(-1.0, 1.0, 23) * (np.arange(23) % 3 != 0)
TRANSFORMER_SPEC = ModelSpec(
    "byte_transformer", {"context": 8, "d_model": 8, "n_layers": 1, "n_heads": 2, "d_ff": None}
)

# Two models in format 3, the MLP on the step grid (Δ = 2^(−17/4), sent as its exponent): its
# architecture takes 6 bytes (a compact JSON spec took 61), the counts are in the payload.
GOLDEN_STEP_3 = grid_step(-17)
GOLDEN_TANH_MLP_3 = bytes.fromhex(
    "4d444c57 03"  # magic, version 3: file overhead
    "00 03 040302 02"  # architecture: mlp, sizes [4, 3, 2] (a list of 3), activation tanh (word 2)
    "0e"  # header: 14 nonzero parameters,
    "22"  # the step: 1 + zigzag(−17) = 1 + 33
    "30d82b62"  # CRC32 of the architecture and the decoded weights: file overhead
    "7ebe8dca 63fd3159 fbcaafc9 72a3e87d"  # payload: counts, masks and values, 16 bytes
)
GOLDEN_TRANSFORMER_3_SHA256 = "5b202c8e7aa93da9d259ba5205d6f47b8ce5945d1a829f473783019f314141d4"


def _golden_transformer() -> torch.nn.Module:
    model = TRANSFORMER_SPEC.build()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(0, 0.3, p.shape) * (rng.random(p.shape) < 0.3)))
    return model


def _parameter_values(model: torch.nn.Module) -> list[list[float]]:
    return [p.tolist() for p in model.parameters()]


@pytest.mark.parametrize("version", [1, 2, 4])
def test_a_file_of_another_format_version_is_refused_naming_its_version(version: int) -> None:
    # Formats 1 and 2 (JSON specs) were never released; no reader of them is kept.
    data = b"MDLW" + bytes([version]) + b'={"kind":"mlp","kwargs":{"sizes":[4,3,2]}}'
    for read in (decode_model, decode_spec):
        with pytest.raises(MdlkitError, match=f"^weight file format {version} is not supported"):
            read(data)


def test_encoder_output_is_byte_identical_to_format_3_as_written_before() -> None:
    encoded = encode_model(_fixed_model(TANH_SPEC, TANH_VALUES), TANH_SPEC, GOLDEN_STEP_3)
    assert encoded.data == GOLDEN_TANH_MLP_3
    assert encoded.length.parts == {"architecture": 48.0, "header": 16.0, "payload": 8.0 * 16}
    quantized = np.round(TANH_VALUES / GOLDEN_STEP_3) * np.float32(GOLDEN_STEP_3)
    assert _parameter_values(decode_model(encoded.data)) == _parameter_values(
        _fixed_model(TANH_SPEC, quantized)
    )
    # A step on no grid (a loss tolerance's) is sent as 0 and the f32.
    data = encode_model(_golden_transformer(), TRANSFORMER_SPEC, 0.01).data
    assert hashlib.sha256(data).hexdigest() == GOLDEN_TRANSFORMER_3_SHA256
    step_at = 5 + len(write_architecture(canonical_spec(TRANSFORMER_SPEC))) + 2  # N: 2 bytes
    assert data[step_at : step_at + 5] == b"\x00" + np.float32(0.01).tobytes()
    assert decode_spec(data) == canonical_spec(TRANSFORMER_SPEC)


def test_the_header_of_a_tiny_model_is_two_bytes() -> None:
    """An MLP 4-32-3 with 6 nonzero weights at a grid step: N and e take a byte each, and the
    counts go into the payload; format 3 as first written took 21 header bytes (N, Δ as f32,
    four varints a tensor) and whole payload words (64 bits here)."""
    spec = ModelSpec("mlp", {"sizes": [4, 32, 3]})
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model[0].weight[3, 0], model[0].weight[7, 2], model[0].weight[7, 3] = 0.5, -0.75, 0.25
        model[2].weight[1, 3], model[2].weight[2, 7], model[2].bias[0] = 1.0, -1.25, 0.5
    encoded = encode_model(model, spec, grid_step(-8))
    print("tiny MLP 4-32-3, 6 nonzero:", encoded.length.parts, encoded.ideal.parts)
    assert encoded.nonzero == 6
    assert encoded.length.parts["header"] == 16  # was 168
    assert encoded.length.parts["header"] + encoded.length.parts["payload"] <= 112  # was 232
    assert encoded.ideal.parts["counts"] < 24  # 4 tensors
    assert encoded.length.total <= 160  # was 280


# Every builder's keyword arguments and their type hints are part of format 3 (the file codes
# each argument under its hint, in this order). Changing them needs a new format version.
FROZEN_PARAMETERS: dict[str, list[tuple[str, object]]] = {
    "mlp": [("sizes", Sequence[int]), ("activation", str)],
    "lenet-300-100": [("n_inputs", int), ("n_classes", int)],
    "lenet5-caffe": [("n_classes", int)],
    "small-cnn": [("image_size", int), ("n_classes", int), ("channels", int)],
    "student": [],
    "teacher": [],
    "byte_transformer": [
        ("context", int),
        ("d_model", int),
        ("n_layers", int),
        ("n_heads", int),
        ("d_ff", int | None),
        ("positions", str),
        ("vocab_size", int),
    ],
    "byte_rnn": [
        ("cell", str),
        ("d_embed", int),
        ("d_hidden", int),
        ("n_layers", int),
        ("vocab_size", int),
    ],
    "vgg-cnn": [("image_size", int), ("n_classes", int), ("channels", int), ("hidden", int)],
}


def test_format_3_tables_and_builder_signatures_are_frozen() -> None:
    assert MODEL_KINDS[:10] == (
        "mlp",
        "lenet-300-100",
        "lenet5-caffe",
        "small-cnn",
        "student",
        "teacher",
        "byte_transformer",
        "byte_rnn",
        "vgg-cnn",
        "factory",  # a user's factory by reference (tests/models/test_factory.py)
    )
    assert WORDS[:7] == ("relu", "tanh", "gelu", "learned", "sinusoidal", "lstm", "gru")
    assert set(MODEL_BUILDERS) <= set(MODEL_KINDS), "add the new kind at the end of MODEL_KINDS"
    for kind in MODEL_KINDS[: len(FROZEN_PARAMETERS)]:
        assert [(name, hint) for name, hint, _ in parameters(kind)] == FROZEN_PARAMETERS[kind], (
            f"{kind}'s builder changed its signature: format 3 files of it would be misread"
        )


# Small arguments for every model kind, each argument given (so the canonical form is the spec
# itself), and the architecture bytes format 3 writes for them.
SMALL_SPECS: dict[str, tuple[dict[str, object], str]] = {
    "mlp": ({"sizes": [5, 4, 3], "activation": "gelu"}, "00 03 05 04 03 03"),
    "lenet-300-100": ({"n_inputs": 12, "n_classes": 3}, "01 0c 03"),
    "lenet5-caffe": ({"n_classes": 2}, "02 02"),
    "small-cnn": ({"image_size": 8, "n_classes": 3, "channels": 2}, "03 08 03 02"),
    "student": ({}, "04"),
    "teacher": ({}, "05"),
    "byte_transformer": (
        {
            "context": 4,
            "d_model": 4,
            "n_layers": 1,
            "n_heads": 2,
            "d_ff": 6,
            "positions": "sinusoidal",
            "vocab_size": 7,
        },
        "06 04 04 01 02 00 06 05 07",
    ),
    "byte_rnn": (
        {"cell": "gru", "d_embed": 3, "d_hidden": 4, "n_layers": 2, "vocab_size": 300},
        "07 07 03 04 02 ac 02",
    ),
    "vgg-cnn": ({"image_size": 8, "n_classes": 3, "channels": 2, "hidden": 4}, "08 08 03 02 04"),
}


def test_every_model_kind_has_small_arguments_here() -> None:
    assert set(SMALL_SPECS) == set(MODEL_BUILDERS)


@pytest.mark.parametrize("step", [2.0**-8, 0.0037], ids=["grid-step", "f32-step"])
@pytest.mark.parametrize("density", [0.0, 0.02, 0.5])
@pytest.mark.parametrize("kind", sorted(SMALL_SPECS))
def test_format_3_round_trips_every_model_kind(kind: str, density: float, step: float) -> None:
    kwargs, architecture = SMALL_SPECS[kind]
    spec = ModelSpec(kind, kwargs)
    torch.manual_seed(0)
    model = spec.build()
    density = min(density, 2000 / sum(p.numel() for p in model.parameters()))  # LeNet-5: fast
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_((torch.rand(p.shape, generator=gen) < density).float())
    encoded = encode_model(model, spec, step)
    assert encoded.data[5 : 5 + len(bytes.fromhex(architecture))].hex(" ") == architecture
    assert encoded.length.parts["architecture"] == 8 * len(bytes.fromhex(architecture))
    assert encoded.length.total + encoded.overhead_bits == 8 * encoded.file_bytes
    n_bytes = (max(1, encoded.nonzero.bit_length()) + 6) // 7  # N's varint
    if encoded.nonzero == 0:  # the count N = 0 is the whole header; no step, no payload
        assert encoded.length.parts["header"] == 8 and encoded.length.parts["payload"] == 0
    elif step == 2.0**-8:  # e = −32: one byte, 1 + zigzag(−32) = 64
        assert encoded.length.parts["header"] == 8 * (n_bytes + 1)
        assert encoded.data[5 + len(bytes.fromhex(architecture)) + n_bytes] == 64
    else:  # 0, then the f32
        assert encoded.length.parts["header"] == 8 * (n_bytes + 5)
    assert decode_spec(encoded.data) == spec == canonical_spec(spec)
    decoded = decode_model(encoded.data)
    quantize_model(model, step)
    for (name_d, p_d), (name_m, p_m) in zip(
        decoded.named_parameters(), model.named_parameters(), strict=True
    ):
        assert name_d == name_m and torch.equal(p_d, p_m)


def test_a_spec_decodes_into_its_canonical_form() -> None:
    # Defaults filled in, tuples as lists: what the file holds, whatever the spec left out.
    spec = ModelSpec("byte_rnn", {"d_hidden": 8, "vocab_size": 20})
    data = encode_model(spec.build(), spec, 0.5).data
    assert (
        decode_spec(data)
        == canonical_spec(spec)
        == ModelSpec(
            "byte_rnn",
            {"cell": "lstm", "d_embed": 32, "d_hidden": 8, "n_layers": 1, "vocab_size": 20},
        )
    )
    spec = ModelSpec("mlp", {"sizes": (3, 2)})
    assert decode_spec(encode_model(spec.build(), spec, 0.5).data) == ModelSpec(
        "mlp", {"sizes": [3, 2], "activation": "relu"}
    )
    # A string outside the word table is written out (the builder refuses this one, though).
    selu = ModelSpec("mlp", {"sizes": [3, 2], "activation": "selu"})
    assert write_architecture(selu).hex(" ") == "00 02 03 02 00 04 73 65 6c 75"


def test_an_all_pruned_mlp_costs_its_architecture_and_one_byte() -> None:
    spec = ModelSpec("mlp", {"sizes": [64, 32, 10], "activation": "relu"})
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    encoded = encode_model(model, spec, 0.01)
    architecture = bytes.fromhex("00 03 40 20 0a 01")  # mlp, [64, 32, 10], relu
    crc = crc32([architecture, bytes(4 * sum(p.numel() for p in model.parameters()))])
    assert encoded.data == b"MDLW\x03" + architecture + b"\x00" + crc.to_bytes(4, "little")
    assert encoded.length.parts == {"architecture": 48.0, "header": 8.0, "payload": 0.0}
    assert encoded.file_bytes == 16 and encoded.overhead_bits == 72
    assert all(int(torch.count_nonzero(p)) == 0 for p in decode_model(encoded.data).parameters())


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
        (ModelSpec("mlp", {"sizes": [16, -24, 12, 5]}), "negative integer argument"),
        (ModelSpec("mlp", {"sizes": [16, 24, 12, 5], "width": 3}), 'unknown argument "width"'),
        (ModelSpec("mlp", {"activation": "relu"}), "does not give mlp its argument sizes"),
    ],
)
def test_encoder_refuses_a_spec_the_decoder_would_refuse(spec: ModelSpec, problem: str) -> None:
    _, model = _sparse_model()
    with pytest.raises(MdlkitError, match=f"cannot write a weight file: .*{problem}"):
        encode_model(model, spec, 0.02)


def test_a_new_model_kind_must_be_added_to_the_kind_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_BUILDERS, "tiny", lambda width=2: torch.nn.Linear(width, 1))
    spec = ModelSpec("tiny", {"width": 3})
    with pytest.raises(MdlkitError, match=r"tiny, which is not in architecture\.MODEL_KINDS"):
        encode_model(spec.build(), spec, 0.1)
    monkeypatch.setitem(MODEL_BUILDERS, "tiny", lambda **kwargs: torch.nn.Linear(2, 1))
    monkeypatch.setattr(architecture, "MODEL_KINDS", (*MODEL_KINDS, "tiny"))
    with pytest.raises(MdlkitError, match="takes \\*\\*kwargs, which no file can describe"):
        encode_model(ModelSpec("tiny").build(), ModelSpec("tiny"), 0.1)
