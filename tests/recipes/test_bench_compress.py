"""bench-compress: every baseline round-trips, and its bits per byte are the sizes the libraries
give when called here directly; bad input is a one-line MdlkitError; skips and failures show."""

from __future__ import annotations

import bz2
import importlib.util
import json
import lzma
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.table import Table

from mdlkit import MdlkitError
from mdlkit.compression import benchmark
from mdlkit.compression import compress as mdlkit_compress
from mdlkit.compression.baselines import unavailable
from mdlkit.recipes.bench_compress import BenchCompressConfig, run_bench_compress
from mdlkit.report import render_text
from mdlkit.runs import RunFolder

ORDERS = (2, 4)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, low = n >> 7, n & 0x7F
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ppmd_h(data: bytes, order: int, mb: int = 256) -> bytes:
    import pyppmd

    enc = pyppmd.Ppmd7Encoder(order, mb << 20)
    # the recipe's header: order, memory in MiB, length (variant H has no end marker)
    return bytes([order]) + _varint(mb) + _varint(len(data)) + enc.encode(data) + enc.flush()


def _expected() -> dict[str, Callable[[bytes], bytes]]:
    """Each baseline computed here, independently of the recipe's child processes."""
    sizes: dict[str, Callable[[bytes], bytes]] = {
        "gzip -9": lambda d: zlib.compress(d, 9),
        "bzip2 -9": lambda d: bz2.compress(d, 9),
        "xz -9e": lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
    }
    if importlib.util.find_spec("zstandard"):
        import zstandard

        sizes["zstd -19"] = lambda d: zstandard.ZstdCompressor(level=19).compress(d)
    if importlib.util.find_spec("brotli"):
        import brotli

        sizes["brotli -11"] = lambda d: brotli.compress(d, quality=11)
    if importlib.util.find_spec("pyppmd"):
        sizes["PPMd H"] = lambda d: min((_ppmd_h(d, o) for o in ORDERS), key=len)
    return sizes


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "runs", "far"]
    # deterministic pseudo-text, ~20 kB: compressible but not trivially
    state, out = 12345, []
    for _ in range(4000):
        state = (1103515245 * state + 12345) % 2**31
        out.append(words[state % len(words)])
    path = tmp_path / "text.txt"
    path.write_text(" ".join(out))
    return path


def test_every_baseline_round_trips_and_reports_the_libraries_sizes(
    tmp_path: Path, text_file: Path
) -> None:
    config = BenchCompressConfig(files=(str(text_file),), mdlkit_modes=(), ppmd_orders=ORDERS)
    result = run_bench_compress(config, folder=RunFolder.new(tmp_path / "run", kind="bench"))
    data = text_file.read_bytes()
    expected = _expected()
    rows = {r["compressor"]: r for r in result.rows}
    assert sorted(rows) == sorted(expected)
    for name, compress in expected.items():
        row = rows[name]
        assert row["round_trip"] == "ok", (name, row["error"])
        # exact: the same deterministic library call, only in another process
        assert row["compressed_bytes"] == len(compress(data)), name
        assert row["bits_per_byte"] == 8 * len(compress(data)) / len(data), name
        assert row["compress_kb_per_s"] > 0 and row["decompress_kb_per_s"] > 0
        # a Python interpreter alone is several MB; far below the parent's (torch-sized) peak
        assert 3 < row["compress_peak_mb"] < 200 and 3 < row["decompress_peak_mb"] < 200
    if "PPMd H" in rows:
        ppmd = rows["PPMd H"]["ppmd"]
        assert ppmd["order"] in ORDERS and set(ppmd["orders"]) == {str(o) for o in ORDERS}
    assert not result.failed
    # start-up: the whole mdlz process on the first 5,000 bytes writes the archive that
    # compress() makes in this process (the same deterministic coder)
    startup = {r["name"]: r for r in result.startup}
    mdlz = startup["mdlz (online:2, verified)"]
    assert mdlz["output_bytes"] == len(mdlkit_compress(data[:5000], mode="online", level=2))
    assert mdlz["seconds"] > 0 and (mdlz["peak_mb"] is None or mdlz["peak_mb"] > 3)
    assert "Start-up: each command as a fresh process" in result.markdown()
    # the table has one row per compressor; the folder holds every output
    table = result.report().table
    assert isinstance(table, Table) and table.row_count == len(expected)
    assert all(name in render_text(table, width=200) for name in expected)
    markdown = (tmp_path / "run" / "table.md").read_text()
    assert sum(line.startswith(f"| {text_file.name}") for line in markdown.splitlines()) == len(
        expected
    )
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [r["compressor"] for r in saved["rows"]] == [r["compressor"] for r in result.rows]
    assert (tmp_path / "run" / "bits_vs_speed.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ((), "no files to compress"),
        (("does-not-exist.txt",), "no such file"),
        ((".",), "is a directory"),
    ],
)
def test_bad_input_is_one_line_error(files: tuple[str, ...], message: str) -> None:
    with pytest.raises(MdlkitError, match=message) as info:
        run_bench_compress(BenchCompressConfig(files=files))
    assert "\n" not in str(info.value)


def test_bad_settings_are_refused(text_file: Path) -> None:
    empty = text_file.with_name("empty.txt")
    empty.write_bytes(b"")
    bad = [
        ({"files": (str(empty),)}, "is empty"),
        ({"mdlkit_modes": ("online:x",)}, "mode:level"),
        ({"ppmd_orders": (1,)}, "orders must be 2–64"),
        ({"ppmd_variants": ("J",)}, "H or I"),
        ({"repeats": 0}, "repeats"),
    ]
    for changes, message in bad:
        config = BenchCompressConfig(**{"files": (str(text_file),), **changes})
        with pytest.raises(MdlkitError, match=message):
            config.validate()
    off = {k: False for k in ("gzip", "bzip2", "xz", "zstd", "brotli", "ppmd")}
    with pytest.raises(MdlkitError, match="switched off"):
        BenchCompressConfig(files=(str(text_file),), mdlkit_modes=(), **off).validate()


def test_missing_libraries_and_mdlkit_are_skipped_with_a_note(
    text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if brotli and mdlkit's compressor were not there
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "mdlkit.compression.compressor", None)
    config = BenchCompressConfig(
        files=(str(text_file),), bzip2=False, xz=False, zstd=False, ppmd=False, startup=False
    )
    result = run_bench_compress(config)
    assert [r["compressor"] for r in result.rows] == ["gzip -9"]
    notes = "\n".join(result.notes())
    assert "brotli -11 skipped: brotli is not installed (pip install 'mdlkit[bench]')" in notes
    skipped = "mdlkit online:1, online:2, online:3 skipped: mdlkit.compression does not import"
    assert skipped in notes
    # the notes the command line prints keep the brackets (rich markup is escaped)
    assert any("mdlkit\\[bench]" in n for n in result.report().notes)


def test_a_failed_round_trip_is_loud(
    tmp_path: Path, text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(benchmark, "_read_restored", lambda path: b"not the original")
    off = {k: False for k in ("bzip2", "xz", "zstd", "brotli", "ppmd")}
    config = BenchCompressConfig(files=(str(text_file),), mdlkit_modes=(), startup=False, **off)
    folder = RunFolder.new(tmp_path / "run", kind="bench")
    with pytest.raises(MdlkitError, match=r"round trip FAILED for gzip -9 on text\.txt"):
        run_bench_compress(config, folder=folder)
    # the outputs are written before the error, with the row marked
    assert "**FAILED**" in (tmp_path / "run" / "table.md").read_text()
    assert json.loads((tmp_path / "run" / "results.json").read_text())["failed"]
    result = run_bench_compress(config, raise_on_failure=False)
    assert result.rows[0]["round_trip"] == "FAILED" and result.failed
    table = result.report().table
    assert isinstance(table, Table) and "FAILED" in render_text(table)


@pytest.mark.slow
def test_mdlkit_rows_round_trip(text_file: Path) -> None:
    if unavailable("mdlkit") is not None:
        pytest.skip("mdlkit.compression does not import yet")
    small = text_file.with_name("small.txt")
    small.write_bytes(text_file.read_bytes()[:2000])
    off = {k: False for k in ("gzip", "bzip2", "xz", "zstd", "brotli", "ppmd")}
    config = BenchCompressConfig(files=(str(small),), mdlkit_modes=("online:1",), **off)
    result = run_bench_compress(config)
    (row,) = result.rows
    assert row["compressor"] == "mdlkit online:1" and row["round_trip"] == "ok"
    assert row["bits_per_byte"] == 8 * row["compressed_bytes"] / 2000
