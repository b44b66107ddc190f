"""``mdlz``: several files per call, FILE ↔ FILE.mdlz with the suffix checked, -c, --rm, -t,
-l from the index without decoding, -T and --block-size, levels, one-line errors per file and
exit code 2."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mdlkit.cli.mdlz import main
from mdlkit.compression import decompress

TEXTS = {"a.txt": b"the quick brown fox " * 300, "b.txt": bytes(range(256)) * 20, "e.txt": b""}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, data in TEXTS.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_several_files_round_trip_and_inputs_are_kept(folder: Path) -> None:
    assert main(["a.txt", "b.txt", "e.txt"]) == 0
    for name, data in TEXTS.items():
        assert decompress((folder / f"{name}.mdlz").read_bytes()) == data
        (folder / name).unlink()
    assert main(["-d", "a.txt.mdlz", "b.txt.mdlz", "e.txt.mdlz"]) == 0
    assert all((folder / name).read_bytes() == data for name, data in TEXTS.items())


def test_list_reads_sizes_without_decoding_and_test_decodes(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "-1", "a.txt"]) == 0
    capsys.readouterr()
    assert main(["-l", "a.txt.mdlz"]) == 0
    _, row = capsys.readouterr().out.splitlines()
    archive, original, ratio, mode, level, blocks, crc, name = row.split()
    size = (folder / "a.txt.mdlz").stat().st_size
    assert (archive, original) == (f"{size:,}", f"{len(TEXTS['a.txt']):,}")
    assert (mode, level, blocks, name) == ("online", "1", "1", "a.txt.mdlz")
    assert float(ratio) == pytest.approx(len(TEXTS["a.txt"]) / size, abs=1e-3)
    import zlib

    assert crc == f"crc32={zlib.crc32(TEXTS['a.txt']):08x}"
    assert main(["-t", "a.txt.mdlz"]) == 0
    assert "every checksum matched" in capsys.readouterr().err


def test_numeric_levels_name_the_online_then_the_two_part_levels(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mdlkit.cli.mdlz import LEVELS

    assert LEVELS == {1: ("online", 1), 2: ("online", 2), 3: ("online", 3), 4: ("two-part", 1),
                      5: ("two-part", 2), 6: ("two-part", 3)}  # fmt: skip
    assert main(["-q", "-3", "a.txt"]) == 0
    capsys.readouterr()
    assert main(["-l", "a.txt.mdlz"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[3:5] == ["online", "3"]
    assert decompress((folder / "a.txt.mdlz").read_bytes()) == TEXTS["a.txt"]


def test_rm_removes_inputs_only_when_done_and_stdout_keeps_them(folder: Path) -> None:
    assert main(["--rm", "a.txt"]) == 0
    assert not (folder / "a.txt").exists() and (folder / "a.txt.mdlz").exists()
    assert main(["-d", "--rm", "a.txt.mdlz"]) == 0
    assert (folder / "a.txt").read_bytes() == TEXTS["a.txt"]
    assert not (folder / "a.txt.mdlz").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "mdlkit.cli.mdlz", "-c", "b.txt"], cwd=folder, capture_output=True,
        check=False, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src")),
    )  # fmt: skip
    assert proc.returncode == 0 and decompress(proc.stdout) == TEXTS["b.txt"]
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt", "e.txt"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-d", "a.txt"], "does not end in .mdlz"),
        (["missing.txt"], "no such file"),
        (["-t", "a.txt"], "not an mdlkit archive"),
        (["-l", "missing.mdlz"], "no such file"),
        (["-c", "a.txt", "b.txt"], "one at a time"),
        (["-z", "-d", "a.txt"], "not allowed with argument"),
        (["-9", "a.txt"], "unrecognized arguments: -9"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    folder: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    before = sorted(p.name for p in folder.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_one_bad_file_does_not_stop_the_others(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "a.txt.mdlz").write_bytes(b"mine")
    assert main(["a.txt", "b.txt"]) == 2
    assert (folder / "a.txt.mdlz").read_bytes() == b"mine"  # not overwritten without -f
    assert decompress((folder / "b.txt.mdlz").read_bytes()) == TEXTS["b.txt"]
    assert capsys.readouterr().err.count("mdlz: a.txt:") == 1


def test_a_damaged_archive_is_refused_by_test_and_a_cut_one_by_list_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "a.txt"]) == 0
    data = bytearray((folder / "a.txt.mdlz").read_bytes())
    data[len(data) // 2] ^= 0x40  # inside the coded block: -l reads the index only, -t decodes
    (folder / "bad.mdlz").write_bytes(bytes(data))
    (folder / "short.mdlz").write_bytes(bytes(data[: len(data) // 3]))
    assert main(["-t", "bad.mdlz", "short.mdlz"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1] for line in lines] == [" bad.mdlz", " short.mdlz"], lines
    assert all("is damaged" in line for line in lines), lines
    assert main(["-l", "bad.mdlz", "short.mdlz"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines()[1].endswith(" bad.mdlz") and len(out.splitlines()) == 2
    assert err.startswith("mdlz: short.mdlz:") and "is damaged" in err and err.count("\n") == 1


def test_list_reads_only_the_header_and_the_index_of_a_file_and_all_of_a_pipe(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 24,000 bytes, half text, half random: 6 blocks of 4 KiB, coded and stored ones.
    noise = random.Random(0).randbytes(12_000)
    (folder / "big.txt").write_bytes(
        bytes(b for pair in zip(TEXTS["a.txt"] * 2, noise, strict=True) for b in pair)
    )
    assert main(["-q", "--block-size", "4K", "-T", "2", "big.txt"]) == 0
    archive = (folder / "big.txt.mdlz").read_bytes()
    assert main(["-l", "big.txt.mdlz"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:2] == [f"{len(archive):,}", "24,000"] and row[5] == "6"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    piped = subprocess.run([sys.executable, "-m", "mdlkit.cli.mdlz", "-l"], input=archive,
                           capture_output=True, check=True, cwd=folder, env=env).stdout  # fmt: skip
    assert piped.decode().splitlines()[1].split()[:-1] == row[:-1]  # the same, but named -

    class Counting:  # a file that counts the bytes read from it
        def __init__(self) -> None:
            self.handle, self.read_bytes = (folder / "big.txt.mdlz").open("rb"), 0

        def read(self, n: int = -1) -> bytes:
            data = self.handle.read(n)
            self.read_bytes += len(data)
            return data

        def __getattr__(self, name: str) -> object:
            return getattr(self.handle, name)

    from mdlkit.compression.archive_index import list_archive

    counting = Counting()
    info = list_archive(counting)  # type: ignore[arg-type]
    assert info.index_only and info.blocks == 6 and info.original_bytes == 24_000
    index_bytes = info.bytes_by_record["index"] + 4
    header_bytes = len(archive) - sum(info.bytes_by_record.values()) - 4
    assert counting.read_bytes == header_bytes + index_bytes < len(archive) / 10


def test_mdlz_online_imports_neither_torch_nor_sklearn(folder: Path) -> None:
    """Nor constriction (formats 1-3 only) nor scipy.linalg (numba's BLAS check, skipped), nor
    numba where the kernels are built ahead of time."""
    from mdlkit.compression.native import kernels

    heavy = ["torch", "sklearn", "constriction", "scipy.linalg"]
    heavy += ["numba"] if kernels().origin == "native" else []
    code = (
        "import json, sys; from mdlkit.cli.mdlz import main; "
        "codes = [main(['-q', 'a.txt']), main(['-q', '-d', '-f', 'a.txt.mdlz']), "
        "main(['-q', '-l', 'a.txt.mdlz'])]; "
        f"print(json.dumps([codes, [m for m in {heavy!r} if m in sys.modules]]))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                         text=True, check=True, env=env).stdout  # fmt: skip
    assert json.loads(out.splitlines()[-1]) == [[0, 0, 0], []]


def test_mdlz_version_names_the_archive_format_and_imports_no_coder() -> None:
    from mdlkit import __version__
    from mdlkit.compression.archive import FORMAT

    code = (
        "import sys; from mdlkit.cli.mdlz import main\n"
        "try:\n    main(['-V'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'numba', 'torch'}))"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.splitlines()  # fmt: skip
    assert out == [f"mdlz (mdlkit {__version__}, archive format {FORMAT.version})", "[]"]


def test_standard_output_closed_is_one_line_and_exit_2(folder: Path) -> None:
    """``mdlz -c a.txt >&-``: Python starts with no sys.stdout at all."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    command = 'exec "$0" -m mdlkit.cli.mdlz -q -c a.txt >&-'
    done = subprocess.run(["sh", "-c", command, sys.executable], cwd=folder, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "mdlz: a.txt: standard output is closed; write to a file instead\n"
