"""Users' data on the command line: fit, codelength and select read files and scikit-learn's
sets; every bad file is one line on stderr, exit code 2, and no run folder."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mdlkit.cli import main
from mdlkit.recipes import FitConfig, run_fit

FAST = ["--epochs", "4", "--finetune-epochs", "2", "--grid-epochs", "2", "--warmup-epochs", "1"]


def _table(n: int = 90, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    label = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label})


def _bad_files(tmp: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name → (file, extra options, a part of the expected message)."""
    good = _table()
    files: dict[str, tuple[Path, list[str], str]] = {}
    path = tmp / "no_target.csv"
    good.to_csv(path, index=False)
    files["no --target"] = (path, [], "pass --target COLUMN")
    files["missing column"] = (path, ["--target", "y"], "no column 'y'")
    nan = good.copy()
    nan.loc[4, "b"] = np.nan
    path = tmp / "nan.csv"
    nan.to_csv(path, index=False)
    files["NaN feature"] = (path, ["--target", "label"], "feature column 'b'")
    text = good.astype({"c": object})
    text.loc[2, "c"] = "3,5 kg"
    path = tmp / "text.csv"
    text.to_csv(path, index=False)
    files["text feature"] = (path, ["--target", "label"], "feature column 'c'")
    single = good.assign(label="yes")
    path = tmp / "single.csv"
    single.to_csv(path, index=False)
    files["single class"] = (path, ["--target", "label"], "single class")
    rare = good.copy()
    rare.loc[:1, "label"] = "maybe"
    path = tmp / "rare.csv"
    rare.to_csv(path, index=False)
    files["too few rows of a class"] = (path, ["--target", "label"], "class 'maybe'")
    path = tmp / "random.npz"
    path.write_bytes(np.random.default_rng(1).bytes(300))
    files["not an npz"] = (path, [], "not a valid npz file")
    path = tmp / "random.parquet"
    path.write_bytes(np.random.default_rng(2).bytes(300))
    files["not a parquet"] = (path, ["--target", "label"], "not a valid parquet file")
    path = tmp / "binary.csv"
    path.write_bytes(b"\x00\x01\xff" * 50)
    files["not a csv"] = (path, ["--target", "label"], "not a valid CSV file")
    path = tmp / "table.txt"
    path.write_text("a,b\n1,2\n")
    files["unknown extension"] = (path, [], "unknown file type '.txt'")
    files["missing file"] = (tmp / "absent.csv", ["--target", "label"], "not found")
    return files


@pytest.mark.parametrize("command", ["fit", "codelength", "select"])
def test_every_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, refused: Callable[..., str], command: str
) -> None:
    for path, options, message in _bad_files(tmp_path).values():
        refused([command, "--data", str(path), *options], message)


def test_fit_on_a_csv_keeps_its_scaling_and_codes_its_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _table(150).to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "run"
    argv = ["fit", "--data", "t.csv", "--target", "label", "--out", str(out), *FAST]
    assert main([*argv, "--no-progress"]) == 0
    scaling = json.loads((out / "scaling.json").read_text())
    assert scaling["feature_names"] == ["a", "b", "c"] and scaling["class_names"] == ["no", "yes"]
    results = json.loads((out / "results.json").read_text())["runs"]["drr"]
    assert results["task"] == "classification"
    assert results["uniform_bits"] == pytest.approx(90 * 1.0)  # 60 % of 150 rows, 2 classes


def test_regression_through_the_gaussian_head() -> None:
    result = run_fit(
        FitConfig(dataset="sklearn:diabetes", epochs=4, finetune_epochs=2, grid_epochs=2)
    )
    s = result.summary()
    assert s["task"] == "regression" and s["uniform_bits"] is None
    assert set(s["two_part_parts_bits"]) == {"architecture", "weights", "sigma", "side", "data"}
    assert s["two_part_bits"] == pytest.approx(sum(s["two_part_parts_bits"].values()))
    assert s["test_mse"] > 0 and s["sigma"] > 0
