"""The file compressor: exact round trips, parity of probabilities, damage always refused."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import random
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdlkit.cli import main
from mdlkit.compression import compress, compress_stream, decompress, decompress_stream
from mdlkit.compression.archive import FORMAT
from mdlkit.compression.compressor import Summary
from mdlkit.compression.context_mixing import squash, stretch
from mdlkit.errors import MdlkitError

TEXT = (Path(__file__).parents[2] / "docs" / "architecture.md").read_bytes()


def _random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize(
    "data",
    [b"", b"x", bytes(range(256)), b"ab" * 5000, bytes(3000), TEXT],
    ids=["empty", "one-byte", "all-256", "repetitive", "zeros", "text"],
)
def test_online_round_trip(data: bytes, level: int) -> None:
    archive = compress(data, level=level)
    assert decompress(archive) == data


def test_random_bytes_expand_by_a_small_constant_only() -> None:
    data = _random_bytes(100_000)
    archive = compress(data)
    assert decompress(archive) == data
    assert len(archive) - len(data) <= 256  # stored block + header + checksums


def test_redundant_data_compresses_far_below_raw() -> None:
    # An independent bound: a 12-bit probability costs at least −log2(4095/4096) per bit.
    data = b"ab" * 50_000
    archive = compress(data)
    assert len(archive) < 0.01 * len(data)
    assert 8 * len(archive) >= 8 * len(data) * -math.log2(4095 / 4096)


def test_text_beats_zlib() -> None:
    assert len(compress(TEXT)) < len(zlib.compress(TEXT, 9))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.sampled_from([1, 2, 3]))
def test_any_bytes_round_trip(data: bytes, level: int) -> None:
    assert decompress(compress(data, level=level, verify=False)) == data


@pytest.mark.parametrize("level", [1, 2, 3])
def test_encoder_and_decoder_use_identical_probabilities(level: int) -> None:
    data = TEXT[:3000] + _random_bytes(500)
    out, used_by_encoder, used_by_decoder = io.BytesIO(), [], []
    compress_stream(io.BytesIO(data), out, level=level, probabilities=used_by_encoder)
    back = io.BytesIO()
    decompress_stream(io.BytesIO(out.getvalue()), back, probabilities=used_by_decoder)
    assert back.getvalue() == data
    assert len(used_by_encoder) == 8 * len(data)
    assert used_by_encoder == used_by_decoder


def test_ideal_bits_match_the_probabilities_and_the_coded_size() -> None:
    data = TEXT[:4000]
    used: list[int] = []
    out = io.BytesIO()
    summary = compress_stream(io.BytesIO(data), out, probabilities=used)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(float)
    p = np.asarray(used) / 4096.0
    independent = float(-np.log2(np.where(bits == 1, p, 1 - p)).sum())
    assert summary.ideal_bits == pytest.approx(independent, rel=1e-12)
    # The range coder's payload stays within a small overhead of the ideal length (the rest of
    # the archive is what an empty input's archive holds, give or take a record's framing).
    payload_bits = 8 * (summary.archive_bytes - len(compress(b"", verify=False)))
    assert payload_bits < independent * 1.01 + 128


def test_squash_and_stretch_are_inverse_on_the_grid() -> None:
    assert squash(0) == 2047
    for p in range(1, 4095, 37):
        assert abs(squash(stretch(p)) - p) <= max(1, p // 50)


def _small_archive() -> bytes:
    return compress(b"the cat sat on the mat; " * 6)


def test_every_byte_flip_is_refused() -> None:
    archive = _small_archive()
    for i in range(len(archive)):
        damaged = bytearray(archive)
        damaged[i] ^= 0xFF
        with pytest.raises(MdlkitError):
            decompress(bytes(damaged))


def test_every_truncation_is_refused() -> None:
    archive = _small_archive()
    for n in range(len(archive)):
        with pytest.raises(MdlkitError):
            decompress(archive[:n])


def test_random_damage_is_refused_or_harmless() -> None:
    archive, original = _small_archive(), b"the cat sat on the mat; " * 6
    rng = random.Random(0)
    for _ in range(300):
        damaged = bytearray(archive)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(damaged))
            damaged[i] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged += bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
        with contextlib.suppress(MdlkitError):
            assert decompress(bytes(damaged)) == original  # only if nothing really changed


def test_foreign_and_future_archives_are_refused_by_name() -> None:
    with pytest.raises(MdlkitError, match="not an mdlkit archive"):
        decompress(b"PK\x03\x04 a zip file")
    archive = bytearray(_small_archive())
    archive[4] = 99
    with pytest.raises(MdlkitError, match="version 99 is not supported"):
        decompress(bytes(archive))


def test_unknown_mode_or_level_is_a_clear_error() -> None:
    with pytest.raises(MdlkitError, match="unknown mode"):
        compress(b"abc", mode="zip")
    with pytest.raises(MdlkitError, match="--level 7"):
        compress(b"abc", level=7)


# The command line: in-process through main(), and once in child processes through a pipe.
def _main(*args: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        code = main(list(args))
    finally:
        os.chdir(old)
    return code, capsys.readouterr().err


def test_cli_round_trip_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_bytes(TEXT)
    code, err = _main("compress", "a.txt", cwd=tmp_path, capsys=capsys)
    assert code == 0 and "verified" in err, err
    assert (tmp_path / "a.txt.mdlz").stat().st_size < len(TEXT) / 2
    # Refuses to overwrite the archive, or the original when decompressing next to it.
    code, err = _main("compress", "a.txt", cwd=tmp_path, capsys=capsys)
    assert code == 2 and "--force" in err
    code, err = _main("decompress", "a.txt.mdlz", cwd=tmp_path, capsys=capsys)
    assert code == 2 and "exists" in err
    code, err = _main("decompress", "a.txt.mdlz", "-o", "b.txt", cwd=tmp_path, capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "b.txt").read_bytes() == TEXT
    code, err = _main("compress", "a.txt", "--force", "--level", "1", cwd=tmp_path, capsys=capsys)
    assert code == 0, err


def test_cli_bad_inputs_are_one_line_errors(tmp_path: Path, refused: Callable[..., str]) -> None:
    (tmp_path / "junk.mdlz").write_bytes(b"MDLZ\x01garbage")
    (tmp_path / "plain.txt").write_bytes(b"abc")
    cases = [
        (("compress", "missing.txt"), "no such file"),
        (("compress", "."), "is a directory"),
        (("compress", "plain.txt", "-o", "nowhere/x.mdlz"), "does not exist"),
        (("compress", "plain.txt", "--level", "9"), "--level 9"),
        (("decompress", "missing.mdlz"), "no such file"),
        (("decompress", "plain.txt"), "does not end in .mdlz"),
        (("decompress", "junk.mdlz"), "damaged"),
        (("decompress", "plain.txt", "-o", "out"), "not an mdlkit archive"),
    ]
    for args, message in cases:
        refused(args, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mdlz", "plain.txt"]


def test_cli_stdin_to_stdout_in_child_processes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    command = [sys.executable, "-m", "mdlkit"]
    run = dict(capture_output=True, cwd=tmp_path, env=env, timeout=300)
    packed = subprocess.run([*command, "compress", "-"], input=TEXT, **run)  # type: ignore[call-overload]
    assert packed.returncode == 0, packed.stderr
    unpacked = subprocess.run([*command, "decompress", "-"], input=packed.stdout, **run)  # type: ignore[call-overload]
    assert unpacked.returncode == 0, unpacked.stderr
    assert unpacked.stdout == TEXT
    assert list(tmp_path.iterdir()) == []


# The two-part mode through the archive (the model itself is tested in test_two_part.py).
@pytest.fixture(scope="module")
def two_part_text() -> tuple[bytes, Summary, bytes]:
    """2,500 bytes of text in the two-part mode (a model is trained: seconds), made once for the
    tests that read the archive: the data, the summary and the archive."""
    data = TEXT[:2500]
    out = io.BytesIO()
    summary = compress_stream(io.BytesIO(data), out, mode="two-part")
    return data, summary, out.getvalue()


def test_two_part_archive_round_trip_and_report(
    two_part_text: tuple[bytes, Summary, bytes],
) -> None:
    data, summary, archive = two_part_text
    assert summary.archive_bytes == len(archive) and 0 < summary.model_bytes < len(archive)
    assert decompress(archive) == data
    from mdlkit.compression.archive_index import list_archive

    info = list_archive(io.BytesIO(archive))  # from its index: a model record, then chunks
    assert info.index_only and (info.original_bytes, info.crc) == (len(data), zlib.crc32(data))
    assert info.bytes_by_record["model"] > summary.model_bytes and info.blocks >= 2
    for n in range(0, len(archive), 97):  # truncations anywhere, the model record included
        with pytest.raises(MdlkitError):
            decompress(archive[:n])


def test_two_part_archive_from_another_environment_is_refused(
    two_part_text: tuple[bytes, Summary, bytes],
) -> None:
    from mdlkit.compression.archive import read_header, write_header

    src = io.BytesIO(two_part_text[2])
    header = read_header(src)
    moved = dataclasses.replace(header, environment=header.environment | {"cpu": "VSX"})
    forged = io.BytesIO()
    write_header(forged, moved)
    forged.write(src.read())
    with pytest.raises(MdlkitError, match="VSX"):
        decompress(forged.getvalue())


# Random bytes: the one case that trains a model (2 KiB and up) that does not pay; 10 KB are
# still three chunks of 4 KiB, and a third of 30 KB's training.
@pytest.mark.parametrize(
    "data",
    [b"", b"x", bytes(range(256)), b"ab" * 1000, _random_bytes(10_000, seed=3)],
    ids=["empty", "one-byte", "all-256", "repetitive", "random-10k"],
)
def test_two_part_archive_round_trips(data: bytes) -> None:
    archive = compress(data, mode="two-part")
    assert decompress(archive) == data
    assert len(archive) <= len(data) + 420  # a stored record when the model does not pay, + index


GOLDEN = {  # archives of _GOLDEN_INPUT made by predictors cm1 (1, 2), cm5 (3), format 5
    1: (655, "b60053244b91926719d72c8ef4ce201ad157239b5c283396e9d3dec1507a6edf"),
    2: (538, "8ce9db5c71d6860a3f1962e71000dfd1059cb54accba35571f4609ed10d35c0d"),
    3: (369, "32052e26e06575f94caec35cb2727682b5b0845cab9ba36bce84735cbe52a62b"),
}
GOLDEN_V4 = {  # the same made by format 4 (no record length in a coded block)
    1: (653, "3d77855e0155e5c1b5597e04b68bf8ddbe1e4e6cf39099f7cfded1103b504d65"),
    2: (536, "cfbf946cdc836268fe57397ca8b4e4cfedda50e5a1c25054def134b55f6eea9e"),
}
GOLDEN_V3 = {  # the same made by format 3 (independent blocks, range coded by constriction)
    1: (659, "175913ebd2fe25e4d814782852c0f71f5ab47681ba5907b8cffd754d0fce70f5"),
    2: (539, "4796eedbab3bee35c48df18bbd8695680ba1a3e851364b5aca2aa681d88fd217"),
}
GOLDEN_V2 = {  # the same made by format 2 (one model carried across 8 MiB blocks, an end record)
    1: (639, "d3d9fa08724ff6958c3b4d1f9b64e8d905434fb647309397ff86af5c1210d00a"),
    2: (519, "5b9bee1319f60ef109b03b11f9306d42930c9370ec8296db70b40deb55edb339"),
}
GOLDEN_V1 = {  # the same made by format 1 (no table size recorded: the largest tables, 22 bits)
    1: (748, "3d10fbad7c5bc6cd1ffe0a413998d9f7bbfcecc18afcf687dc9d52623b2f265a"),
    2: (627, "e45d6315adff2e90beb344df1dd295e80800616de426fc439d20200b6ebd1dfb"),
}
DATA = Path(__file__).parent / "data"
_GOLDEN_INPUT = b"".join(
    b"%d: the quick brown fox jumps over the lazy dog %d times\n" % (i, i * i % 97)
    for i in range(400)
)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_archives_are_byte_identical_to_those_made_before(level: int) -> None:
    """Archives already written must keep decoding: a change to a predictor's arithmetic
    needs a new predictor name (compressor._PREDICTOR), and new golden values."""
    import hashlib

    archive = compress(_GOLDEN_INPUT, level=level)
    assert (len(archive), hashlib.sha256(archive).hexdigest()) == GOLDEN[level]


# Level-3 archives of earlier predictors, data/<predictor>_v5_level3<kind>.mdlz: (length,
# SHA-256). Each was written before level 3 moved on (cm2 before cm3, cm3 before cm4, cm4 before
# cm5), from the same three originals: the golden input, 600 binary records of 16 bytes (the
# record models on, length 16) and HTML (the markup model on).
GOLDEN_STORED = {
    ("cm2", ""): (394, "18f22e86fd43c2048f754e96cb32d0954ad13d8122c6d88e7169307b10e7137f"),
    ("cm2", "_records"): (349, "9baacfd83a350a323b43be32a3c44aceb2dc41e9bcf7d5689764d97c114cb63a"),
    ("cm2", "_markup"): (516, "f0e74786d7646b96f8b4faf7ad5263c100a740d9d4189ef8f30abfa78808cecf"),
    ("cm3", ""): (407, "a64583e2c6a93f5581cdd903ea0e9290a0387f0d254e7302c2e81128cfba091c"),
    ("cm3", "_records"): (363, "935e436a1356e9858cbe24645b5456670786e4496b918ce9a73c6545844d7838"),
    ("cm3", "_markup"): (521, "d41404096881b63e4a20f6e12b60e5cddccd8d5f29ec5f2c844854a21ffc2b3f"),
    ("cm4", ""): (412, "6779bfa365f34d16e36c50c8b31e21734f5a9f6c7987957fb186d68a6de8766e"),
    ("cm4", "_records"): (411, "7745cf958f9c8b9b6a1ccfebd074dc5d74254610f31f277bbd430f4b3b5d0394"),
    ("cm4", "_markup"): (516, "7e30c4b655be93b9251fe74d0d407ceb2b65160e19f336a9cde42cac22d698bc"),
}
STORED_ORIGINALS = {  # (length, SHA-256) of each kind's original, or None: the golden input
    "": None,
    "_records": (9600, "9287dc3acffe077b8eac9875f2bd408c13acacc7d04198a668a16363db529fa8"),
    "_markup": (16740, "44776983fb5060f8a5004c0ac559f7b4fc06b28955d976fb2139a22423932453"),
}


@pytest.mark.parametrize(("predictor", "kind"), list(GOLDEN_STORED))
def test_archives_of_earlier_predictors_still_decode(predictor: str, kind: str) -> None:
    """data/<predictor>_v5_level3*.mdlz were written by level 3 while it used that predictor
    (their hashes are the golden values of that time), on text, on records and on markup: they
    decode to the originals of that time, so the predictor's arithmetic is untouched on every
    path."""
    import hashlib

    from mdlkit.compression.archive import parse_coded, read_header, read_records

    archive = (DATA / f"{predictor}_v5_level3{kind}.mdlz").read_bytes()
    golden, original = GOLDEN_STORED[predictor, kind], STORED_ORIGINALS[kind]
    assert (len(archive), hashlib.sha256(archive).hexdigest()) == golden
    src = io.BytesIO(archive)
    header = read_header(src)
    assert header.settings["predictor"] == predictor
    (record, _) = read_records(src, header.version)  # the coded block, the end
    coded = parse_coded(record.body, 1 << 23, header.version)
    assert (coded.record, coded.flags) == {"": (0, 0), "_records": (16, 0), "_markup": (0, 1)}[kind]
    back = decompress(archive)
    if original is None:
        assert back == _GOLDEN_INPUT
    else:
        assert (len(back), hashlib.sha256(back).hexdigest()) == original


def test_level_3_codes_text_shorter_than_level_2() -> None:
    """Predictor cm5 is cm1 with more models, mixers and APMs: on text (10 KB of this
    repository's docs) it must pay for them."""
    assert len(compress(TEXT, level=3)) < len(compress(TEXT, level=2))


def test_cm3_follows_the_quote_or_bracket_the_text_is_in() -> None:
    """The state cm3's two quote models read, byte by byte: a backtick's quote stays open over
    an apostrophe that a letter follows (Don't) and closes at one that none follows; brackets
    close their own kind only; a double quote toggles."""
    from mdlkit.compression import context_mixing as cm

    text = b"`Don't,' x (a [b] c) \"d\" e (a ]b) it's"
    expected = [96, 96, 96, 96, 97, 96, 96, 97, 0, 0, 0, 40, 40, 40, 91, 91, 0, 0, 0, 0, 0,
                34, 34, 0, 0, 0, 0, 40, 40, 40, 40, 40, 0, 0, 0, 0, 0, 0]  # fmt: skip
    seg = np.zeros((1, cm.N_SEG_FIELDS), dtype=np.int64)
    seen = []
    c4 = 0
    for byte in text:
        c4 = ((c4 << 8) | byte) & 0xFFFFFFFF
        cm._text_contexts(seg, 0, byte, c4, 0, 0, 256)
        seen.append(int(seg[0, cm.QUOTE]))
    assert seen == expected


def test_an_unknown_predictor_is_a_one_line_error() -> None:
    from mdlkit.compression.archive import Header
    from mdlkit.compression.compressor import _check_environment
    from mdlkit.compression.online import OnlineCoder

    settings = {"predictor": "cm9", "segments": 1, "block_bytes": 256, "table_bits": 12}
    with pytest.raises(MdlkitError, match="predictor 'cm9'") as info:
        _check_environment(Header("online", 2, settings, {"mdlkit": "0"}))
    assert "\n" not in str(info.value)
    settings["predictor"] = ["cm2"]  # a forged JSON header: not a name at all
    with pytest.raises(MdlkitError, match="predictor"):
        _check_environment(Header("online", 2, settings, {"mdlkit": "0"}))
    with pytest.raises(ValueError, match="cm9"):
        OnlineCoder(predictor="cm9")


@pytest.mark.parametrize("predictor", ["cm2", "cm3", "cm4", "cm5"])
def test_a_predictor_in_a_format_that_predates_it_is_refused(predictor: str) -> None:
    from mdlkit.compression.archive import Header
    from mdlkit.compression.compressor import _check_online_settings

    settings = {"predictor": predictor, "segments": 1, "block_bytes": 256, "table_bits": 12}
    _check_online_settings(Header("online", 3, settings, {"mdlkit": "0"}, 5))
    for version in (1, 2, 3, 4):
        with pytest.raises(MdlkitError, match="predictor did not exist"):
            _check_online_settings(Header("online", 3, settings, {"mdlkit": "0"}, version))


@pytest.mark.parametrize("level", [1, 2])
def test_archives_of_format_1_still_decode_with_the_largest_tables(level: int) -> None:
    """data/cm1_v1_level*.mdlz were written by mdlkit before tables were sized (their hashes are
    the golden values of that time): they decode, and their records under a version-2 header
    decode with 22 table bits only."""
    import hashlib

    from mdlkit.compression.archive import read_header, write_header

    archive = (DATA / f"cm1_v1_level{level}.mdlz").read_bytes()
    assert (len(archive), hashlib.sha256(archive).hexdigest()) == GOLDEN_V1[level]
    assert archive[4] == 1 and decompress(archive) == _GOLDEN_INPUT
    src = io.BytesIO(archive)
    header = read_header(src)
    assert "table_bits" not in header.settings
    records = src.read()
    for bits in (22, 21, 12):
        forged = io.BytesIO()
        settings = header.settings | {"table_bits": bits}
        write_header(forged, dataclasses.replace(header, settings=settings), version=2)
        if bits == 22:
            assert decompress(forged.getvalue() + records) == _GOLDEN_INPUT
        else:
            with pytest.raises(MdlkitError, match="does not decode"):
                decompress(forged.getvalue() + records)
    assert decompress((DATA / "cm1_v1_empty.mdlz").read_bytes()) == b""


@pytest.mark.parametrize("level", [1, 2])
def test_archives_of_format_2_still_decode_and_one_block_codes_the_same_words(level: int) -> None:
    """data/cm1_v2_level*.mdlz were written by mdlkit before blocks were independent (their
    hashes are the golden values of that time): they decode, and format 3 (data/cm1_v3_*)
    coded an input of one block into the very same range-coder words (no loss under the block
    size)."""
    import hashlib

    from mdlkit.compression.archive import parse_coded, read_header, read_records

    old = (DATA / f"cm1_v2_level{level}.mdlz").read_bytes()
    assert (len(old), hashlib.sha256(old).hexdigest()) == GOLDEN_V2[level]
    assert old[4] == 2 and decompress(old) == _GOLDEN_INPUT
    assert decompress((DATA / "cm1_v2_empty.mdlz").read_bytes()) == b""
    words = []
    for archive in (old, (DATA / f"cm1_v3_level{level}.mdlz").read_bytes()):
        src = io.BytesIO(archive)
        version = read_header(src).version
        (coded, _) = read_records(src, version)
        words.append(parse_coded(coded.body, 1 << 23, version).payload)
    assert words[0] == words[1]


@pytest.mark.parametrize("level", [1, 2])
def test_archives_of_format_3_decode_with_the_probabilities_format_4_codes_with(
    level: int,
) -> None:
    """data/cm1_v3_level*.mdlz were written before the binary coder (range coded): they decode
    (through constriction), and their decoder uses bit for bit the probabilities that today's
    encoder codes the same input with: only the coder changed, not the model."""
    import hashlib

    old = (DATA / f"cm1_v3_level{level}.mdlz").read_bytes()
    assert (len(old), hashlib.sha256(old).hexdigest()) == GOLDEN_V3[level]
    assert decompress((DATA / "cm1_v3_empty.mdlz").read_bytes()) == b""
    then: list[int] = []
    now: list[int] = []
    back = io.BytesIO()
    decompress_stream(io.BytesIO(old), back, probabilities=then)
    compress_stream(io.BytesIO(_GOLDEN_INPUT), io.BytesIO(), level=level, probabilities=now)
    assert back.getvalue() == _GOLDEN_INPUT
    assert old[4] == 3 and len(then) == 8 * len(_GOLDEN_INPUT) and then == now


@pytest.mark.parametrize("level", [1, 2])
def test_archives_of_format_4_decode_and_format_5_codes_text_the_same(level: int) -> None:
    """data/cm1_v4_level*.mdlz were written before the record models (their hashes are the
    golden values of that time): they decode, and format 5 codes the same text (no records, no
    markup found) into the very same bytes, its coded block two bytes longer (record length 0,
    no flags)."""
    import hashlib

    old = (DATA / f"cm1_v4_level{level}.mdlz").read_bytes()
    assert (len(old), hashlib.sha256(old).hexdigest()) == GOLDEN_V4[level]
    assert old[4] == 4 and decompress(old) == _GOLDEN_INPUT
    assert decompress((DATA / "cm1_v4_empty.mdlz").read_bytes()) == b""
    assert _payload(old, version=4) == _payload(compress(_GOLDEN_INPUT, level=level))


def _with_payload(archive: bytes, payload: bytes) -> bytes:
    """``archive`` (one coded block) with the block's code replaced, every CRC valid."""
    return _with_block(archive, payload=payload)


def test_forged_codes_with_valid_checksums_end_and_are_refused_in_one_line() -> None:
    """The compiled decoder fed any bytes ends after the block's bits, and the block's CRC (or
    the coder's final position) refuses what it made: never wrong output."""
    data = TEXT[:3000]
    archive = compress(data)
    payload = _payload(archive)
    rng = np.random.default_rng(0)
    forgeries = [payload + b"\0", payload[:-1], bytes(len(payload)), b"\xff" * len(payload)]
    forgeries += [rng.integers(0, 256, rng.integers(1, 2 * len(payload)), dtype=np.uint8)
                  .tobytes() for _ in range(8)]  # fmt: skip
    for forged in forgeries:
        with pytest.raises(MdlkitError) as info:
            decompress(_with_payload(archive, forged))
        assert "\n" not in str(info.value)
    assert decompress(_with_payload(archive, payload)) == data


def _payload(archive: bytes, version: int = FORMAT.version) -> bytes:
    from mdlkit.compression.archive import parse_coded, read_header, read_records

    src = io.BytesIO(archive)
    read_header(src)
    (record, _) = read_records(src, version)
    return parse_coded(record.body, 1 << 23, version).payload


def test_an_empty_input_gives_an_archive_of_a_few_dozen_bytes() -> None:
    from mdlkit import __version__

    archive = compress(b"")
    # magic + version, header (length, layout, level, "cm1", segments, 2^23 as a 4-byte varint,
    # table bits, version string), its CRC, index record (tag, length, count 0, varint 0, CRC,
    # CRC), footer.
    header = 1 + 1 + (1 + 3) + 1 + 4 + 1 + (1 + len(__version__))
    assert len(archive) == 5 + (1 + header) + 4 + (1 + 1 + 1 + 1 + 4 + 4) + 4 <= 48
    assert decompress(archive) == b""


def _with_settings(archive: bytes, **changes: object) -> bytes:
    """``archive`` with its header's settings changed (and a valid header checksum)."""
    from mdlkit.compression.archive import read_header, write_header

    src = io.BytesIO(archive)
    header = read_header(src)
    out = io.BytesIO()
    write_header(out, dataclasses.replace(header, settings=header.settings | changes))
    return out.getvalue() + src.read()


def test_the_table_size_is_chosen_from_each_block_and_recorded() -> None:
    from mdlkit.compression.archive import parse_coded, read_header, read_records

    for n, bits in ((0, 12), (100, 12), (5000, 18), (20_000, 20), (70_000, 22)):
        archive = compress((TEXT * 40)[:n], verify=False)
        assert read_header(io.BytesIO(archive)).settings["table_bits"] == bits
    src = io.BytesIO(compress((TEXT * 40)[:20_000], block_bytes=16_384, verify=False))
    assert read_header(src).settings["table_bits"] == 19  # the largest: the first block's
    coded = [parse_coded(r.body, 16_384).table_bits for r in read_records(src) if r.tag == 1]
    assert coded == [19, 17]  # 16,384 and 3,616 bytes: ⌈log2 n⌉ + 5
    archive = compress(TEXT[:5000])
    assert decompress(_with_block(archive, table_bits=18)) == TEXT[:5000]
    with pytest.raises(MdlkitError, match="does not decode"):
        decompress(_with_block(archive, table_bits=12))
    with pytest.raises(MdlkitError, match="table size is impossible"):
        decompress(_with_block(archive, table_bits=23))


def _with_block(
    archive: bytes,
    *,
    table_bits: int | None = None,
    payload: bytes | None = None,
    record: int | None = None,
    flags: int | None = None,
) -> bytes:
    """``archive`` (one online coded block) with the block's table bits, code, record length or
    flags replaced, every CRC valid."""
    from mdlkit.compression.archive import (
        CODED,
        coded_body,
        parse_coded,
        read_header,
        read_records,
        write_record,
    )
    from mdlkit.compression.archive_index import Entry, Index, write_index

    src = io.BytesIO(archive)
    assert read_header(src).mode == "online"
    start = src.tell()
    (block, index) = read_records(src)
    c = parse_coded(block.body, 1 << 23)
    bits = c.table_bits if table_bits is None else table_bits
    code = c.payload if payload is None else payload
    out = io.BytesIO()
    record = c.record if record is None else record
    body = coded_body(c.length, code, bits, c.crc or 0, record, c.flags if flags is None else flags)
    size = write_record(out, CODED, body)
    old = Index.from_body(index.body)
    write_index(out, Index((Entry(CODED, size, c.length, c.crc or 0),), old.length, old.crc))
    return archive[:start] + out.getvalue()


@pytest.mark.parametrize("bits", [0, 11, 23, 255])
def test_an_impossible_table_size_is_refused_in_one_line(bits: int) -> None:
    archive = _with_settings(_small_archive(), table_bits=bits)
    with pytest.raises(MdlkitError, match="table size is impossible") as info:
        decompress(archive)
    assert "\n" not in str(info.value)


def _table(n: int, width: int = 16) -> bytes:
    """n fixed-length records of ``width`` bytes: a counter, a slowly drifting value, a name."""
    import struct

    names = (b"north", b"south", b"east", b"west")
    rows = (struct.pack("<IIi", i, 1000 + i // 3, -(i % 5)) + names[i * 7 % 4][: width - 12]
            .ljust(width - 12, b"-") for i in range(n))  # fmt: skip
    return b"".join(rows)


def test_a_table_is_coded_with_its_record_length_and_shorter_than_without_it() -> None:
    """The archive's block records the table's record length; it decodes back exactly, and is
    at least 20 % shorter than the same block coded by the same model with the record models
    off (computed here directly with OnlineCoder)."""
    from mdlkit.compression.archive import parse_coded, read_header, read_records
    from mdlkit.compression.online import OnlineCoder, table_bits_for

    data = _table(800)
    archive = compress(data)
    src = io.BytesIO(archive)
    read_header(src)
    (record, _) = read_records(src)
    coded = parse_coded(record.body, 1 << 23)
    assert coded.record == 16 and decompress(archive) == data
    plain = OnlineCoder(1, None, table_bits_for(len(data)), 0).encode(data)
    assert len(coded.payload) < 0.8 * len(plain.payload)


@pytest.mark.parametrize("record", [1, 15, 17, 1 << 16, (1 << 16) + 1, 1 << 40])
def test_a_forged_record_length_is_refused_in_one_line(record: int) -> None:
    """Impossible lengths (1, above 2^16) are refused before decoding; with a possible but wrong
    one the decoder ends off its code's end or makes other bytes, which the block's CRC-32
    refuses."""
    archive = _with_block(compress(_table(100)), record=record)
    refused = "record length is impossible|checksum|does not decode"
    with pytest.raises(MdlkitError, match=refused) as info:
        decompress(archive)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("flags", [1, 2, 255])
def test_forged_model_flags_are_refused_in_one_line(flags: int) -> None:
    """An unknown flag is refused before decoding; the markup flag on a block coded without it
    decodes to other bytes (or ends off the code), which is refused too."""
    archive = _with_block(compress(TEXT[:3000]), flags=flags)
    refused = "models this version does not have|checksum|does not decode"
    with pytest.raises(MdlkitError, match=refused) as info:
        decompress(archive)
    assert "\n" not in str(info.value)


def test_markup_is_coded_with_the_markup_model_and_shorter_than_without_it() -> None:
    """HTML-like text: the block's flags turn the markup model on; the archive decodes back
    exactly and its code is shorter than the same block's without the model (OnlineCoder)."""
    from mdlkit.compression.archive import MARKUP_FLAG, parse_coded, read_header, read_records
    from mdlkit.compression.online import OnlineCoder, table_bits_for

    rows = [b'<tr class="%s"><td>%d</td><td><a href="/item/%d">item %d</a></td></tr>\n'
            % (b"odd" if i % 2 else b"even", i, i * 7, i) for i in range(300)]  # fmt: skip
    data = b"<html><body><table>\n" + b"".join(rows) + b"</table></body></html>\n"
    archive = compress(data)
    src = io.BytesIO(archive)
    read_header(src)
    (block, _) = read_records(src)
    coded = parse_coded(block.body, 1 << 23)
    assert coded.flags == MARKUP_FLAG and decompress(archive) == data
    plain = OnlineCoder(1, None, table_bits_for(len(data)), coded.record, False).encode(data)
    assert len(coded.payload) < len(plain.payload)
