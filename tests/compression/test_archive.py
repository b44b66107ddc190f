"""The archive's header: versions 2 to 4 write the online mode's settings in binary and anything
else as JSON, version 1 (JSON alone) still reads, and a forged header is a one-line error."""

from __future__ import annotations

import io
import json
import zlib

import pytest

from mdlkit.compression.archive import FORMAT, Header, read_header, write_header
from mdlkit.errors import MdlkitError

SETTINGS = {"predictor": "cm1", "segments": 1, "block_bytes": 1 << 23, "table_bits": 18}
ONLINE = Header("online", 2, SETTINGS, {"mdlkit": "0.1.0"})


def _prefix(version: int, body: bytes) -> bytes:
    """Magic, version, the header section and its CRC-32, built independently of the writer."""
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([n & 0x7F | 0x80, n >> 7])  # LEB128, n < 2^14
    data = b"MDLZ" + bytes([version]) + length + body
    return data + zlib.crc32(data).to_bytes(4, "little")


def test_the_online_header_is_binary_and_reads_back() -> None:
    body = ONLINE.to_bytes()
    # layout 1, level 2, "cm1", 1 segment, 2^23 as LEB128, 18 table bits, "0.1.0".
    assert body == b"\x01\x02\x03cm1\x01\x80\x80\x80\x04\x12\x050.1.0"
    out = io.BytesIO()
    assert write_header(out, ONLINE) == len(out.getvalue()) == len(_prefix(5, body))
    assert out.getvalue() == _prefix(5, body)
    assert read_header(io.BytesIO(out.getvalue())) == ONLINE
    for version in (2, 3, 4, 5):  # the same header layout
        assert read_header(io.BytesIO(_prefix(version, body))).version == version


@pytest.mark.parametrize(
    "header",
    [
        Header("two-part", 1, {"length": 5, "width": [1, 2]}, {"torch": "2.1", "cpu": "AVX2"}),
        Header("online", 1, SETTINGS | {"extra": 1}, {"mdlkit": "0.1.0"}),
        Header("online", 1, SETTINGS, {"mdlkit": "0.1.0", "torch": "2.1"}),
    ],
    ids=["two-part", "online-extra-setting", "online-extra-environment"],
)
def test_other_headers_are_json_and_read_back(header: Header) -> None:
    assert header.to_bytes() == b"\x00" + header.to_json()
    out = io.BytesIO()
    write_header(out, header)
    assert read_header(io.BytesIO(out.getvalue())) == header


def test_version_1_headers_still_read() -> None:
    old = {k: v for k, v in SETTINGS.items() if k != "table_bits"}
    body = json.dumps({"mode": "online", "level": 2, "settings": old,
                       "environment": {"mdlkit": "0.1.0"}}).encode()  # fmt: skip
    assert FORMAT.version == 5 and FORMAT.readable == (1, 2, 3, 4, 5)
    assert read_header(io.BytesIO(_prefix(1, body))) == Header(
        "online", 2, old, {"mdlkit": "0.1.0"}
    )


@pytest.mark.parametrize(
    ("version", "body", "message"),
    [
        (2, b"", "unknown layout"),
        (2, b"\x07" + ONLINE.to_bytes()[1:], "unknown layout"),
        (2, ONLINE.to_bytes()[:-1], "truncated"),
        (2, ONLINE.to_bytes()[:3], "truncated"),
        (2, ONLINE.to_bytes() + b"\x00", "unexpected bytes"),
        (2, b"\x00{not json", "not valid JSON"),
        (2, b"\x00[1, 2]", "not a JSON object"),
        (2, b'\x00{"mode": "online"}', "lacks the mode"),
        (1, ONLINE.to_bytes(), "not valid JSON"),
        (6, ONLINE.to_bytes(), "version 6 is not supported"),
    ],
    ids=[
        "empty",
        "layout",
        "cut-end",
        "cut-start",
        "trailing",
        "json",
        "list",
        "fields",
        "binary-as-v1",
        "version-6",
    ],
)
def test_forged_headers_with_valid_checksums_are_one_line_errors(
    version: int, body: bytes, message: str
) -> None:
    with pytest.raises(MdlkitError, match=message) as info:
        read_header(io.BytesIO(_prefix(version, body)))
    assert "\n" not in str(info.value)


def test_every_byte_flip_and_truncation_of_a_header_is_refused() -> None:
    out = io.BytesIO()
    write_header(out, ONLINE)
    data = out.getvalue()
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        with pytest.raises(MdlkitError):
            read_header(io.BytesIO(bytes(damaged)))
    for n in range(len(data)):
        with pytest.raises(MdlkitError):
            read_header(io.BytesIO(data[:n]))
