"""MDL probing (Voita & Titov 2020): real labels compress, shuffled labels do not; the command
writes the documented results and refuses bad input."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from mdlkit.cli import main
from mdlkit.recipes import ProbeConfig, run_probe


@pytest.fixture
def digits_npz(tmp_path: Path) -> Path:
    digits = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, x=digits.data, y=digits.target)
    return path


def test_real_labels_compress_and_shuffled_labels_do_not(digits_npz: Path) -> None:
    config = ProbeConfig(str(digits_npz), probe="linear", n_train=200, epochs=15, verify=False)
    result = run_probe(config)
    uniform = result.uniform_bits
    assert uniform == pytest.approx(200 * math.log2(10), rel=1e-12)  # n·log2 K exactly
    labels, control = result.tasks["labels"], result.tasks["control"]
    assert labels["compression"] > 1
    # Shuffled labels are independent of x: no honest code beats uniform by more than a few bits.
    assert control["online_bits"] >= uniform - 16
    # The portions are Voita & Titov's: 0.1 % … 100 % (at least one label each), and add up.
    assert result.boundaries == [0, 1, 3, 6, 12, 25, 50, 100, 200]  # 0.1…0.8 % all round to 1
    assert sum(labels["portion_bits"]) == pytest.approx(labels["online_bits"], rel=1e-12)
    assert labels["portion_bits"][0] == pytest.approx(math.log2(10), rel=1e-12)  # uniform first


def test_probe_command_writes_the_documented_results(digits_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["probe", str(digits_npz), "--probe", "mlp", "--hidden", "8", "--n-train", "100"]
    assert main([*argv, "--epochs", "3", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {
        "config",
        "n",
        "classes",
        "n_test",
        "boundaries",
        "portions_percent",
        "uniform_bits",
        "tasks",
    }
    assert results["portions_percent"][-1] == 100.0
    for row in results["tasks"].values():
        assert row["decoded"]  # both streams decoded back by retraining
        assert row["coded_bits"] >= row["online_bits"]  # the range coder never beats ideal
        assert row["compression"] == pytest.approx(results["uniform_bits"] / row["online_bits"])
        assert 0 <= row["test_accuracy"] <= 1
    assert (out / "probe.png").exists() and (out / "table.txt").exists()
    assert "bits" in (out / "table.txt").read_text()


def test_probe_is_deterministic_under_the_seed(digits_npz: Path) -> None:
    config = ProbeConfig(str(digits_npz), n_train=60, epochs=2, verify=False, control=False)
    first, second = run_probe(config), run_probe(config)
    assert first.tasks["labels"]["portion_bits"] == second.tasks["labels"]["portion_bits"]


def test_probe_refuses_bad_input(refused: Callable[..., str], tmp_path: Path) -> None:
    refused(["probe"], "give the features")
    refused(["probe", "missing.npz"], "missing.npz")
    (tmp_path / "broken.npz").write_bytes(b"not an archive")
    refused(["probe", "broken.npz"], "not a valid npz file")
    np.savez(tmp_path / "wrong.npz", a=np.zeros((4, 2)))
    refused(["probe", "wrong.npz"], "expected x and y")
    np.savez(tmp_path / "real.npz", x=np.zeros((9, 2)), y=np.linspace(0, 1, 9))
    refused(["probe", "real.npz"], "probing codes class labels")
    np.savez(tmp_path / "ok.npz", x=np.zeros((9, 2)), y=np.arange(9) % 3)
    refused(["probe", "ok.npz", "--probe", "forest"], "invalid choice: 'forest'")
