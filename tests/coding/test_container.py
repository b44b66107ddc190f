"""The binary container and the weight file on it: round trips, and damage always caught."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError
from mdlkit.coding import FORMAT_VERSION, decode_model, encode_model
from mdlkit.coding.container import FileFormat, Reader, crc32
from mdlkit.coding.tensors import decode_tensors
from mdlkit.models import ModelSpec
from mdlkit.pruning.quantize import dequantize, grid_step

FMT = FileFormat("test file", b"TEST", 3)


def _one_line_error(data: bytes, decode: object) -> str:
    """Decoding ``data`` must raise MdlkitError (nothing else) with a one-line message."""
    with pytest.raises(MdlkitError) as info:
        decode(data)  # type: ignore[operator]
    message = str(info.value)
    assert "\n" not in message and message
    return message


def _small_container() -> bytes:
    w = FMT.writer()
    w.u8(7)
    w.varint(300)
    w.section(b'{"a":1}')
    w.f32(0.25)
    w.u32(0xDEADBEEF)
    w.raw(b"xy")
    w.varint(0)
    return w.getvalue()


def _read_small(data: bytes) -> tuple[object, ...]:
    r = FMT.reader(data)
    fields = (r.u8("u8"), r.varint("varint"), r.section("config"), r.f32("f32"), r.u32("u32"))
    fields += (r.raw(2, "raw"), r.varint("last"))
    r.end()
    return fields


def test_small_container_round_trips_every_field_kind() -> None:
    data = _small_container()
    assert data[:5] == b"TEST\x03"
    assert _read_small(data) == (7, 300, b'{"a":1}', 0.25, 0xDEADBEEF, b"xy", 0)


@given(
    st.integers(0, 255),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=300),
    st.floats(width=32, allow_nan=False),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=200, deadline=None)
def test_fields_round_trip(u8: int, v: int, blob: bytes, f: float, u: int) -> None:
    w = FMT.writer()
    w.u8(u8)
    w.varint(v)
    w.section(blob)
    w.f32(f)
    w.u32(u)
    w.raw(blob)
    r = FMT.reader(w.getvalue())
    assert (r.u8("a"), r.varint("b"), r.section("c"), r.f32("d"), r.u32("e")) == (u8, v, blob, f, u)
    assert r.rest("tail") == blob and r.remaining == 0


@pytest.mark.parametrize("bits", [0, 1, 7, 8, 14, 15, 63, 64])
def test_varint_length_is_ceil_bits_over_seven(bits: int) -> None:
    # LEB128 carries 7 bits a byte, so a v of b bits takes ⌈max(1, b) / 7⌉ bytes.
    w = FMT.writer()
    w.varint((1 << bits) - 1 if bits else 0)
    assert len(w) - 5 == -(-max(1, bits) // 7)


def test_crc32_matches_the_standard_check_value() -> None:
    # The CRC-32 check value of b"123456789" is 0xCBF43926, however the input is split.
    assert crc32([b"123456789"]) == crc32([b"1", b"", b"23456789"]) == 0xCBF43926


def test_every_truncation_of_a_small_container_is_a_one_line_error() -> None:
    data = _small_container()
    for end in range(len(data)):
        _one_line_error(data[:end], _read_small)


def test_damaged_prefixes_and_fields_name_the_problem() -> None:
    data = _small_container()
    assert "bad magic" in _one_line_error(b"TEXT" + data[4:], _read_small)
    assert "format 9 is not supported" in _one_line_error(b"TEST\x09" + data[5:], _read_small)
    assert "unexpected bytes" in _one_line_error(data + b"!", _read_small)
    assert "not a valid varint" in _one_line_error(b"TEST\x03" + b"\x80" * 11, _read_varint)
    assert "runs past the end" in _one_line_error(b"TEST\x03\x05abc", _read_section)
    assert "whole number" in _one_line_error(b"TEST\x03abcde", _read_words)
    with pytest.raises(ValueError, match="non-negative"):
        FMT.writer().varint(-1)


def _read_varint(data: bytes) -> int:
    return FMT.reader(data).varint("count")


def _read_section(data: bytes) -> bytes:
    return FMT.reader(data).section("config")


def _read_words(data: bytes) -> bytes:
    return FMT.reader(data).rest("payload", multiple_of=4)


def test_a_format_may_read_older_versions() -> None:
    fmt = FileFormat("test file", b"TEST", 3, readable=(2, 3))
    reader = fmt.reader(b"TEST\x02")
    assert isinstance(reader, Reader) and reader.version == 2


# --- the weight file on the container --------------------------------------------------------

SPEC = ModelSpec("mlp", {"sizes": [6, 5, 3]})
X = torch.randn(64, 6, generator=torch.Generator().manual_seed(1))


def _weight_file(density: float = 0.4) -> tuple[bytes, list[torch.Tensor], torch.Tensor]:
    torch.manual_seed(0)
    model = SPEC.build()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_((torch.rand(p.shape, generator=gen) < density).float())
    data = encode_model(model, SPEC, 0.02).data
    decoded = decode_model(data)
    with torch.no_grad():
        return data, [p.detach().clone() for p in decoded.parameters()], decoded(X)


def _same_or_error(damaged: bytes, weights: list[torch.Tensor], output: torch.Tensor) -> None:
    """Damage either raises a one-line MdlkitError or changes nothing the model computes."""
    try:
        model = decode_model(damaged)
    except MdlkitError as error:
        assert "\n" not in str(error) and "weight file" in str(error)
        return
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), weights, strict=True))
    with torch.no_grad():
        assert torch.equal(model(X), output)


def _read_header(data: bytes) -> tuple[Reader, bytes, ModelSpec, int, float, int]:
    """The format-3 header of an MLP file read field by field; the reader is left at the
    payload."""
    reader = FileFormat("weight file", b"MDLW", FORMAT_VERSION).reader(data)
    kind = reader.varint("kind")
    sizes = [reader.varint("size") for _ in range(reader.varint("number of sizes"))]
    activation = ("relu", "tanh", "gelu")[reader.varint("activation") - 1]
    architecture = data[5 : reader.position]
    spec = ModelSpec(("mlp",)[kind], {"sizes": sizes, "activation": activation})
    n = reader.varint("nonzero count")
    v = reader.varint("step")  # 0 and the f32, or 1 + zigzag(e) for Δ = 2^(e/4)
    step = reader.f32("step") if v == 0 else grid_step((v - 1) // 2 if v % 2 else -(v // 2))
    return reader, architecture, spec, n, step, reader.u32("crc")


def test_weight_file_layout_is_format_3_on_the_container() -> None:
    data, weights, _ = _weight_file()
    reader, architecture, spec, n, step, crc = _read_header(data)
    assert FORMAT_VERSION == 3 and step == np.float32(0.02)
    assert spec == ModelSpec("mlp", {"sizes": [6, 5, 3], "activation": "relu"})
    assert n == sum(int(torch.count_nonzero(w)) for w in weights)
    assert crc == crc32([architecture, *(w.numpy().tobytes() for w in weights)])
    # The payload (counts, masks, values) runs to the end of the file, in whole bytes.
    shapes = [tuple(w.shape) for w in weights]
    grids = decode_tensors(reader.rest("payload"), shapes, n)
    assert [dequantize(torch.from_numpy(g), step).tolist() for g in grids] == [
        w.tolist() for w in weights
    ]
    # On the step grid, the step is one byte: 2^(−22/4) is 1 + zigzag(−22) = 44.
    torch.manual_seed(0)
    model = SPEC.build()
    on_grid = encode_model(model, SPEC, grid_step(-22)).data
    _, _, _, n, step, _ = _read_header(on_grid)
    assert step == grid_step(-22) and on_grid[12 + (n > 127)] == 44


def test_every_truncation_of_a_weight_file_is_a_one_line_error() -> None:
    data, _, _ = _weight_file()
    header_bytes = _read_header(data)[0].position
    for end in range(len(data)):
        message = _one_line_error(data[:end], decode_model)
        if end < header_bytes:
            assert "truncated" in message, message
        else:  # payload bytes missing: the stream, its length or its checksum fails
            assert "corrupt" in message or "checksum" in message, message


@pytest.mark.parametrize("pattern", [0x01, 0x80, 0xFF])
def test_every_single_byte_flip_of_a_weight_file_is_caught_or_harmless(pattern: int) -> None:
    data, weights, output = _weight_file()
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= pattern
        _same_or_error(bytes(damaged), weights, output)


_WEIGHT_FILE = _weight_file()


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_random_damage_to_a_weight_file_is_caught_or_harmless(data: st.DataObject) -> None:
    original, weights, output = _WEIGHT_FILE
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(damaged) - 1))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            damaged[i] = data.draw(st.integers(0, 255))
        elif action == "insert":
            damaged.insert(i, data.draw(st.integers(0, 255)))
        elif len(damaged) > 1:
            del damaged[i]
    _same_or_error(bytes(damaged), weights, output)


def test_an_all_zero_model_still_decodes_and_its_damage_is_caught() -> None:
    data, weights, output = _weight_file(density=0.0)
    assert all(int(torch.count_nonzero(w)) == 0 for w in weights)
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        _same_or_error(bytes(damaged), weights, output)


def test_a_header_naming_an_unbuildable_model_is_an_error() -> None:
    w = FileFormat("weight file", b"MDLW", 3).writer()
    w.raw(bytes.fromhex("00 02 03 00 01"))  # mlp [3, 0]
    assert "no buildable model" in _one_line_error(w.getvalue(), decode_model)
