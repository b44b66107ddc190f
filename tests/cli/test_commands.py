import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from mdlkit import evaluate
from mdlkit.cli import main
from mdlkit.coding import read_model
from mdlkit.coding.weights import OVERHEAD_BYTES
from mdlkit.data import load_digits

FAST = ["--epochs", "3", "--finetune-epochs", "2", "--warmup-epochs", "1", "--no-progress"]


def _run_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MDLKIT_MNIST", raising=False)
    return main(argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "--dataset", "cifar"], "unknown dataset 'cifar'"),
        (["fit", "--alpha", "-0.1"], "alpha must be >= 0"),
        (["fit", "--method", "drr", "--beta", "0"], "beta > 0"),
        (["fit", "--method", "drr", "--beta", "-2"], "beta > 0"),
        (["fit", "--dataset", "mnist", "--mnist-path", "missing.npz"], "MNIST file not found"),
        (["fit", "--dataset", "mnist"], "no MNIST file given"),
        (["fit", "--method", "magic"], "unknown method"),
        (["fit", "--hidden", "a,b"], "comma-separated integers"),
        (["fit", "--epochs", "ten"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        # options generated from the configs: unknown ones, wrong types, wrong choices
        (["fit", "--bogus", "1"], "unrecognized arguments: --bogus"),
        (["fit", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
        (["fit", "--n-train", "many"], "argument --n-train: invalid int value: 'many'"),
        (["codelength", "--schedule", "weekly"], "argument --schedule: invalid choice: 'weekly'"),
        (
            ["fit", "--prune-mode", "x"],
            "invalid choice: 'x' (choose from codelength, relative, absolute)",
        ),
        (["codelength", "--codes", "uniform,zip"], "unknown code 'zip'"),
        (["experiment"], "required: name"),
        (["demo", "--seed"], "argument --seed: expected one argument"),
        ([], "command"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    refused: Callable[..., str], argv: list[str], message: str
) -> None:
    refused(argv, message)


def test_existing_output_folder_is_refused_and_left_alone(
    tmp_path: Path, refused: Callable[..., str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    for command in (["fit", "--out", str(out)], ["demo", "--out", str(out)]):
        refused(command, "exists already")
    assert [p.name for p in out.iterdir()] == ["precious.txt"]
    assert (out / "precious.txt").read_text() == "keep"


def test_console_entry_point_exit_code_in_a_real_process(tmp_path: Path) -> None:
    # A command refused before importing torch (a refused fit costs seconds of imports; fit's
    # refusals are checked in this process above): the exit code and the one line are the same.
    proc = subprocess.run(
        [sys.executable, "-m", "mdlkit", "compress", "missing.txt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mdlkit: error: no such file: missing.txt"
    help_proc = subprocess.run(
        [sys.executable, "-m", "mdlkit", "--help"], capture_output=True, text=True, check=False
    )
    assert help_proc.returncode == 0 and "demo" in help_proc.stdout and "fit" in help_proc.stdout


def test_fit_writes_a_run_folder_whose_numbers_check_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "run"
    assert _run_in(tmp_path, monkeypatch, ["fit", "--out", str(out), *FAST]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "checkpoints",
        "config.json",
        "drr.mdlw",
        "results.json",
        "table.txt",
        "training.png",
    ]
    results = json.loads((out / "results.json").read_text())["runs"]["drr"]
    config = json.loads((out / "config.json").read_text())["runs"]["drr"]
    assert config["alpha"] == "auto" and config["epochs"] == 3
    # α = c·ln2/n with the codec's bits per nonzero c and the training set size n
    n = len(load_digits(seed=0).train)
    assert results["alpha"] == pytest.approx(results["codec_bits_per_nonzero"] * math.log(2) / n)
    mb = results["model_bits"]
    assert results["two_part_bits"] == mb["codec"] + results["data_coded_bits"]
    # The codec's description length is the file minus its magic, version byte and CRC32.
    assert mb["codec"] + 8 * OVERHEAD_BYTES == 8 * (out / "drr.mdlw").stat().st_size
    assert mb["codec"] == sum(results["model_codec_parts_bits"].values())
    assert mb["4_bytes_per_nonzero"] == 32 * results["nonzero"]
    assert mb["float32_dense"] == 32 * results["params"]
    # The file decodes into the model the test accuracy was measured on.
    decoded = read_model(out / "drr.mdlw")
    torch.manual_seed(0)
    test = evaluate(decoded, load_digits(seed=0).test)
    assert test.accuracy == results["test_accuracy"]


def test_resume_refuses_folders_it_cannot_continue(
    tmp_path: Path, refused: Callable[..., str]
) -> None:
    refused(["fit", "--resume", str(tmp_path / "none")], "not an mdlkit run folder")
    demo_like = tmp_path / "demo"
    demo_like.mkdir()
    runs = {"plain": {"method": "none"}, "drr": {"method": "drr"}}
    (demo_like / "config.json").write_text(json.dumps({"runs": runs, "environment": {}}))
    refused(["fit", "--resume", str(demo_like)], "holds 2 runs")


def test_resume_refuses_options_that_would_change_the_stored_settings(
    tmp_path: Path, refused: Callable[..., str]
) -> None:
    out = tmp_path / "run"
    one = {"drr": {"method": "drr", "epochs": 3}}
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"runs": one, "environment": {}}))
    refused(["fit", "--resume", str(out), "--epochs", "10", "--lr", "0.5"], "drop --epochs, --lr")
    assert [p.name for p in out.iterdir()] == ["config.json"]


def test_a_piped_table_is_printed_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table

    from mdlkit.cli.running import _show
    from mdlkit.report import Report
    from mdlkit.runs import RunFolder

    label = "two-part total (codec + σ and side info + coded data), a row far wider than 80"
    table = Table(title="t")
    table.add_column("figure")
    table.add_column("value")
    table.add_row(label, "1,416")
    note = "a note " * 20  # 140 characters
    _show(Report(table, (note.strip(),)), RunFolder(tmp_path))
    lines = capsys.readouterr().out.splitlines()  # captured: not a terminal
    assert any(label in line and "1,416" in line for line in lines)
    assert note.strip() in lines
