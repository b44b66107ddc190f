"""Damaged weight files: every flip, truncation and random damage is a specific one-line error.

A damaged ``.mdlw`` file must raise :class:`MdlkitError` naming the weight file and its problem,
found by one of the decoder's checks (never by its last-resort wrapper, whose message says
"does not decode"), or give exactly the original model. Format 3 accepts a payload only if it
is byte for byte what the encoder writes for the tensors it decodes to, and its header only as
the encoder writes it, so in practice every damage is an error.
"""

from __future__ import annotations

import contextlib
import itertools
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError
from mdlkit.coding import FORMAT_VERSION, decode_model, encode_model, tensor_coder
from mdlkit.coding.container import FileFormat
from mdlkit.coding.tensor_coder import CorruptPayload, TensorCounts, TensorDecoder
from mdlkit.coding.tensors import decode_tensors, encode_tensors
from mdlkit.models import ModelSpec
from mdlkit.pruning.quantize import grid_step

SPEC = ModelSpec("mlp", {"sizes": [16, 10, 5], "activation": "relu"})
X = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))


def _weight_file(density: float = 0.8) -> bytes:
    """A small weight file (242 bytes) of SPEC with seeded sparse weights.

    The seed, density and step are chosen so that a truncation garbles the range coder's stream
    into data constriction itself refuses: a decoder without its own check for that fails
    these tests.
    """
    model = SPEC.build()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(0, 0.3, p.shape) * (rng.random(p.shape) < density)))
    return encode_model(model, SPEC, 0.003).data


DATA = _weight_file()
ZERO_DATA = _weight_file(density=0.0)
ORIGINAL = decode_model(DATA)
WEIGHTS = [p.detach().clone() for p in ORIGINAL.parameters()]
with torch.no_grad():
    OUTPUT = ORIGINAL(X)


def _check_damaged(damaged: bytes, original: bytes = DATA) -> str | None:
    """Decode ``damaged``: a specific one-line MdlkitError (returned), or the ``original``
    model (DATA's unless given)."""
    try:
        model = decode_model(damaged)
    except MdlkitError as error:
        message = str(error)
        assert "\n" not in message and "weight file" in message, message
        assert "does not decode" not in message, message  # the last-resort wrapper's message
        return message
    reference = ORIGINAL if original is DATA else decode_model(original)
    assert str(model) == str(reference)  # same layers and activations
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters(), strict=True)
    )
    with torch.no_grad():
        assert torch.equal(model(X), reference(X))
    return None


def test_the_test_file_is_small() -> None:
    assert 200 <= len(DATA) <= 400


@pytest.mark.parametrize("pattern", [0xFF, 0x01, 0x80])
def test_every_single_byte_flip_is_a_specific_error_or_harmless(pattern: int) -> None:
    caught = 0
    for i in range(len(DATA)):
        damaged = bytearray(DATA)
        damaged[i] ^= pattern
        caught += _check_damaged(bytes(damaged)) is not None
    # Even bits the range decoder never reads: the payload must be the encoder's, byte for byte.
    assert caught == len(DATA)


def test_every_truncation_is_a_specific_error() -> None:
    for end in range(len(DATA)):
        assert _check_damaged(DATA[:end]) is not None, end


@pytest.mark.parametrize("n_bytes", [1, 2, 3, 4, 5, 8])
def test_bytes_appended_to_the_payload_are_refused(n_bytes: int) -> None:
    rng = np.random.default_rng(n_bytes)
    garbage = [bytes(n_bytes), b"\xff" * n_bytes]  # zeros: what the decoder pads with anyway
    garbage += [rng.integers(0, 256, size=n_bytes, dtype=np.uint8).tobytes() for _ in range(20)]
    for extra in garbage:
        message = _check_damaged(DATA + extra)
        assert message is not None and "not the one mdlkit writes" in message


def test_a_payload_after_an_all_zero_model_is_refused() -> None:
    # An all-zero model's file ends with its checksum; any byte after it is damage.
    assert all(int(torch.count_nonzero(p)) == 0 for p in decode_model(ZERO_DATA).parameters())
    for garbage in (b"\0", b"\0\0\0\0", b"\xff" * 4, b"abcdefgh"):
        with pytest.raises(MdlkitError, match="follow the checksum of an all-zero model"):
            decode_model(ZERO_DATA + garbage)


def test_every_damage_to_an_all_zero_model_file_is_a_specific_error() -> None:
    # 16 bytes: magic and version, 6 bytes of architecture, N = 0, the CRC32, which covers the
    # architecture, so even a flip into another valid architecture (relu → gelu) is caught.
    assert len(ZERO_DATA) == 16
    for end in range(len(ZERO_DATA)):
        assert _check_damaged(ZERO_DATA[:end], ZERO_DATA) is not None, end
    for i, pattern in itertools.product(range(len(ZERO_DATA)), range(1, 256)):
        damaged = bytearray(ZERO_DATA)
        damaged[i] ^= pattern
        assert _check_damaged(bytes(damaged), ZERO_DATA) is not None, (i, pattern)


@st.composite
def _damaged(draw: st.DrawFn, original: bytes = DATA) -> bytes:
    """``original`` with a few overwritten bytes or runs, insertions, deletions or appended
    garbage."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(["set", "run", "insert", "delete", "append"]))
        i = draw(st.integers(0, len(data) - 1))
        if action == "set":
            data[i] = draw(st.integers(0, 255))
        elif action == "run":
            run = draw(st.binary(min_size=2, max_size=8))
            data[i : i + len(run)] = run
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and len(data) > 1:
            del data[i : i + draw(st.integers(1, 4))]
        else:
            data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@given(_damaged())
@settings(max_examples=400, deadline=None, derandomize=True)
def test_random_damage_is_a_specific_error_or_harmless(damaged: bytes) -> None:
    _check_damaged(damaged)


@given(_damaged(ZERO_DATA))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_random_damage_to_an_all_zero_model_file_is_a_specific_error_or_harmless(
    damaged: bytes,
) -> None:
    _check_damaged(damaged, ZERO_DATA)


# --- format 3's architecture: checked on its own too, whatever the CRC32 says ---------------


def _zero_file_3(architecture: bytes, n_weights: int) -> bytes:
    """A format-3 file of an all-zero model with this architecture and the right CRC32."""
    w = FileFormat("weight file", b"MDLW", FORMAT_VERSION).writer()
    w.raw(architecture)
    w.varint(0)
    w.u32(zlib.crc32(architecture + bytes(4 * n_weights)))
    return w.getvalue()


ZERO_MLP_WEIGHTS = 16 * 10 + 10 + 10 * 5 + 5


def test_an_intact_format_3_zero_model_file_decodes() -> None:
    data = _zero_file_3(bytes.fromhex("00 03 10 0a 05 01"), ZERO_MLP_WEIGHTS)
    assert data == ZERO_DATA
    assert sum(int(torch.count_nonzero(p)) for p in decode_model(data).parameters()) == 0
    # Another valid architecture with the same shapes decodes when its CRC32 is right.
    gelu = _zero_file_3(bytes.fromhex("00 03 10 0a 05 03"), ZERO_MLP_WEIGHTS)
    assert isinstance(decode_model(gelu)[1], torch.nn.GELU)


@pytest.mark.parametrize(
    ("architecture", "problem"),
    [
        ("0a", "names no known model \\(kind 10\\)"),
        ("ff 7f", "names no known model"),
        ("80 00 03 10 0a 05 01", "not in the canonical form"),  # an overlong varint
        ("00 03 10 0a 85 00 01", "not in the canonical form"),
        ("00 03 10 0a 05 00 04 72 65 6c 75", "not in the canonical form"),  # "relu" spelled out
        ("00 03 10 0a 05 00 04 72 65 6c 78", "no buildable model"),  # "relx"
        ("00 03 10 0a 05 00 02 ff fe", "not UTF-8"),
        ("00 03 10 0a 05 09", "names word 9 where there are 7"),
        ("00 03 10 00 05 01", "no buildable model"),  # a layer of width 0
        ("00 03 10 ffffffffffffffff7f 05 01", "no buildable model"),  # width 2**63 - 1
        ("00 03 01 80808010 01 01", "asks for 100,663,297 parameters"),  # [1, 2**25, 1]
        ("00 ffffffff0f 01 01", "more than 1024 list items"),  # a list of 2**32 - 1 sizes
        ("00 e907" + "81 01" * 1001 + "01", "takes more than 1024 bytes"),
        ("06 04 04 01 02 02 06 05 07", "union member index 2 where there are 2"),
    ],
)
def test_a_damaged_architecture_is_refused_even_with_a_matching_checksum(
    architecture: str, problem: str
) -> None:
    with pytest.raises(MdlkitError, match=f"weight file .*{problem}"):
        decode_model(_zero_file_3(bytes.fromhex(architecture), ZERO_MLP_WEIGHTS))


def _header(data: bytes) -> tuple[int, int, int]:
    """Where DATA's nonzero count N starts, N, and where the checksum starts."""
    reader = FileFormat("weight file", b"MDLW", FORMAT_VERSION).reader(data)
    reader.raw(6, "architecture")
    start = reader.position
    n = reader.varint("n")
    assert reader.varint("step") == 0  # 0.003 is on no grid: 0, then the f32
    reader.f32("step")
    return start, n, reader.position


def _varint(value: int) -> bytes:
    w = FileFormat("weight file", b"MDLW", FORMAT_VERSION).writer()
    w.varint(value)
    return w.getvalue()[5:]


def test_a_damaged_nonzero_count_is_refused() -> None:
    start, n, _ = _header(DATA)
    for wrong in (n - 1, n + 1, 1, 225):  # 225: every parameter
        damaged = DATA[:start] + _varint(wrong) + DATA[start + len(_varint(n)) :]
        assert _check_damaged(damaged) is not None, wrong
    damaged = DATA[:start] + _varint(226) + DATA[start + len(_varint(n)) :]
    with pytest.raises(MdlkitError, match="counts 226 nonzero parameters, its model has 225"):
        decode_model(damaged)


def test_a_header_not_written_as_the_encoder_writes_it_is_refused() -> None:
    start, n, crc_at = _header(DATA)
    n_bytes = _varint(n)
    overlong = n_bytes[:-1] + bytes([n_bytes[-1] | 0x80, 0x00])  # N in a byte more than it needs
    with pytest.raises(MdlkitError, match="header is not written as mdlkit writes it"):
        decode_model(DATA[:start] + overlong + DATA[start + len(n_bytes) :])
    start += len(n_bytes) - 1  # DATA[: start + 1] is the file up to N from here on
    # A grid step written as an f32, or with an overlong exponent.
    on_grid = DATA[: start + 1] + b"\x00" + np.float32(grid_step(-8)).tobytes() + DATA[crc_at:]
    with pytest.raises(MdlkitError, match="step is not written as mdlkit does"):
        decode_model(on_grid)
    overlong_step = DATA[: start + 1] + b"\xc0\x00" + DATA[crc_at:]  # e = −32 (v = 64)
    with pytest.raises(MdlkitError, match="header is not written as mdlkit writes it"):
        decode_model(overlong_step)
    exact_step = DATA[: start + 1] + b"\x40" + DATA[crc_at:]
    assert "checksum" in str(_check_damaged(exact_step))  # read fine; the weights differ
    for v, e in ((1 + 2 * 512, 512), (1 + 2 * 597 - 1, -597), (2**40 + 1, 2**39)):
        damaged = DATA[: start + 1] + _varint(v) + DATA[crc_at:]
        with pytest.raises(MdlkitError, match=f"step exponent {e} is out of range"):
            decode_model(damaged)


# --- the tensor decoder on its own -----------------------------------------------------------


@given(
    st.lists(st.integers(0, 2**32 - 1), max_size=12),
    st.tuples(st.integers(0, 30), st.integers(0, 6), st.integers(0, 5), st.integers(0, 63)),
)
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much],
)
def test_tensor_decoder_raises_only_corrupt_payload_on_any_stream(
    words: list[int], counts: tuple[int, int, int, int]
) -> None:
    decoder = TensorDecoder(np.asarray(words, dtype=np.uint32))
    with contextlib.suppress(CorruptPayload):
        decoder.decode((6, 5), TensorCounts(*counts))


@given(st.binary(max_size=48), st.integers(0, 80))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_format_3_payload_decoder_raises_only_corrupt_payload_on_any_bytes(
    data: bytes, nonzero: int
) -> None:
    shapes = [(6, 5), (6,), (3, 2, 4)]
    try:
        grids = decode_tensors(data, shapes, nonzero)
    except CorruptPayload:
        return
    # Accepted: then it is exactly the encoder's payload of what it decodes to.
    assert encode_tensors(grids).data == data
    assert sum(int(np.count_nonzero(g)) for g in grids) == nonzero


def test_low_bits_are_decoded_in_chunks_and_still_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chunks of at most 7 low bits (2**20 in use): every value's bits, however they fall on
    # chunk boundaries, land in its own magnitude, most significant first.
    monkeypatch.setattr(tensor_coder, "_LOW_BITS_CHUNK", 7)
    rng = np.random.default_rng(0)
    q = rng.integers(-(2**40), 2**40, size=(6, 10)) >> rng.integers(0, 40, size=(6, 10))
    q[rng.random((6, 10)) < 0.3] = 0
    encoded = encode_tensors([q])
    assert np.array_equal(decode_tensors(encoded.data, [q.shape], int(np.count_nonzero(q)))[0], q)


def test_a_damaged_stream_asking_for_63_bit_values_allocates_only_what_the_shape_allows() -> None:
    # Counts that ask for the longest values there are, over a stream of 3 words: decoded (from
    # zero padding) a chunk of low bits at a time, into a tensor of the shape, or refused.
    q = np.arange(1, 61).reshape(6, 10) % 3
    encoder = tensor_coder.TensorEncoder()
    k, r, c, _ = encoder.encode(q)
    words = encoder.finish()[:3]
    try:
        grid = TensorDecoder(words).decode(q.shape, TensorCounts(k, r, c, 63))
    except CorruptPayload:
        return
    assert grid.shape == q.shape and grid.dtype == np.int64
