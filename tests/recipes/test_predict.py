"""`mdlkit predict`: on the rows of fit's own test split (held back in a CSV) the accuracy, and
for regression the RMSE in the target's units, are the ones fit reported; the probabilities are
the decoded model's; bad input is one line on stderr, exit code 2, nothing written."""

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mdlkit.cli import main
from mdlkit.recipes.fit_run import read_fit_run

FIT = ["--method", "none", "--epochs", "5", "--grid-epochs", "0", "--no-progress"]


def _fit(folder: Path, *options: str) -> Path:
    torch.set_num_threads(1)  # as the autouse fixture does, which a module fixture precedes
    assert main(["fit", *options, "--out", str(folder / "run"), *FIT]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fit on a CSV of iris with text labels."""
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("iris")
    bunch = load_iris()
    frame = pd.DataFrame(bunch.data, columns=["sl", "sw", "pl", "pw"])
    frame["species"] = np.array(bunch.target_names)[bunch.target]
    frame.to_csv(folder / "iris.csv", index=False)
    return _fit(folder, "--data", str(folder / "iris.csv"), "--target", "species",
                "--hidden", "8", "--lr", "0.03")  # fmt: skip


def _held_back(run_dir: Path, path: Path) -> tuple[pd.DataFrame, torch.Tensor]:
    """fit's test rows in the file's units (a CSV with its columns reversed and an id column),
    and their standardized inputs."""
    run = read_fit_run(run_dir)
    scaling, test = run.splits.scaling, run.splits.test
    assert scaling is not None
    frame = pd.DataFrame(scaling.unscale_x(test.x.numpy()), columns=list(scaling.feature_names))
    frame = frame[frame.columns[::-1]]
    frame.insert(0, "id", np.arange(len(frame)))
    if scaling.class_names is not None:
        frame[scaling.target_names[0]] = np.array(scaling.class_names)[test.y.numpy()]
    else:
        frame[scaling.target_names[0]] = scaling.unscale_y(test.y.numpy())[:, 0]
    frame.to_csv(path, index=False)
    return frame, test.x


def test_predict_on_fits_test_rows_gives_fits_test_accuracy(
    iris_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame, x = _held_back(iris_run, tmp_path / "held.csv")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(iris_run), str(tmp_path / "held.csv"), "-o", str(out)]) == 0
    reported = json.loads((iris_run / "results.json").read_text())["runs"]["none"]["test_accuracy"]
    predicted = pd.read_csv(out)
    assert list(predicted.columns) == [
        "predicted_species", "p_setosa", "p_versicolor", "p_virginica"
    ]  # fmt: skip
    accuracy = float(np.mean(predicted["predicted_species"] == frame["species"]))
    assert accuracy == reported
    assert f"accuracy {reported:.4%} on the file's labels" in capsys.readouterr().err
    with torch.no_grad():
        expected = torch.softmax(read_fit_run(iris_run).model(x).double(), dim=1).numpy()
    assert np.allclose(predicted.iloc[:, 1:].to_numpy(), expected, rtol=1e-8, atol=1e-9)


def test_predict_writes_standard_output_and_overwrites_only_with_force(
    iris_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _held_back(iris_run, tmp_path / "held.csv")
    assert main(["predict", str(iris_run), str(tmp_path / "held.csv")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("predicted_species,p_setosa") and printed.count("\n") == 31
    out = tmp_path / "pred.csv"
    out.write_text("old")
    assert main(["predict", str(iris_run), str(tmp_path / "held.csv"), "-o", str(out)]) == 2
    assert out.read_text() == "old"
    argv = ["predict", str(iris_run), str(tmp_path / "held.csv"), "-o", str(out), "--force"]
    assert main(argv) == 0 and out.read_text() == printed


def test_regression_gives_fits_rmse_in_the_targets_units(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _fit(tmp_path_factory.mktemp("diabetes"), "--data", "sklearn:diabetes")
    frame, _ = _held_back(run_dir, tmp_path / "held.csv")
    capsys.readouterr()  # fit's table
    assert main(["predict", str(run_dir), str(tmp_path / "held.csv"), "-o", "-"]) == 0
    captured = capsys.readouterr()
    values = pd.read_csv(io.StringIO(captured.out))["predicted_target"].to_numpy()
    rmse = float(np.sqrt(np.mean((values - frame["target"].to_numpy()) ** 2)))
    reported = json.loads((run_dir / "results.json").read_text())["runs"]["none"]
    assert rmse == pytest.approx(reported["test_rmse_target_units"], rel=1e-6)
    assert "RMSE" in captured.err and "in the target's units" in captured.err


def test_bad_input_is_refused_in_one_line(
    iris_run: Path, tmp_path_factory: pytest.TempPathFactory, refused: Callable[..., str]
) -> None:
    folder = tmp_path_factory.mktemp("bad")
    pd.DataFrame({"sl": [1.0], "sw": [2.0]}).to_csv(folder / "few.csv", index=False)
    refused(["predict", str(iris_run), str(folder / "few.csv")], "lacks the feature columns")
    refused(["predict", str(folder / "gone"), str(folder / "few.csv")], "run folder not found")
    refused(["predict", str(iris_run), str(folder / "gone.csv")], "dataset file not found")
    refused(["predict", str(iris_run)], "data")
    unfinished = folder / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps({"runs": {"none": {"dataset": "x"}}}))
    refused(["predict", str(unfinished), str(folder / "few.csv")], "has not finished")
    digits = folder / "digits"  # a run on a built-in dataset has no scaling.json
    shutil.copytree(iris_run, digits)
    (digits / "scaling.json").unlink()
    config = json.loads((digits / "config.json").read_text())
    config["runs"]["none"].update(dataset="digits", target=None)
    (digits / "config.json").write_text(json.dumps(config))
    refused(["predict", str(digits), str(folder / "few.csv")], "fitted on digits, not on a table")
    with (folder / "rows.csv").open("w") as f:
        csv.writer(f).writerows([["sl", "sw", "pl", "pw"], [1, 2, 3, "x"]])
    refused(["predict", str(iris_run), str(folder / "rows.csv")], "feature column 'pw' holds text")


def test_a_users_network_predicts_only_with_its_factory_allowed(
    iris_run: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    refused: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path_factory.mktemp("own")
    (folder / "irisnet_fx.py").write_text(
        "from torch import nn\n\n\n"
        "def make_net(hidden: int):\n"
        "    return nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 3))\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    data = iris_run / ".." / "iris.csv"
    run_dir = _fit(folder, "--data", str(data), "--target", "species", "--lr", "0.03",
                   "--model", "irisnet_fx:make_net", "--model-args", '{"hidden": 6}')  # fmt: skip
    _, x = _held_back(iris_run, folder / "held.csv")
    held = str(folder / "held.csv")
    refused(["predict", str(run_dir), held], "names the model factory irisnet_fx:make_net")
    capsys.readouterr()
    argv = ["predict", str(run_dir), held, "--allow-factory", "irisnet_fx:make_net"]
    assert main(argv) == 0
    predicted = pd.read_csv(io.StringIO(capsys.readouterr().out))
    from irisnet_fx import make_net  # type: ignore[import-not-found]

    model = read_fit_run(run_dir, factories=[make_net]).model
    with torch.no_grad():
        expected = torch.softmax(model(x).double(), dim=1).numpy()
    assert np.allclose(predicted.iloc[:, 1:].to_numpy(), expected, rtol=1e-8, atol=1e-9)
