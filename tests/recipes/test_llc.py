"""`mdlkit llc`: λ̂ of a toy with its true λ, of a real fit run's decoded model on the run's own
training split (equal to estimate_llc called by hand, bit for bit), the calibration sweep, and
every bad input as one line on stderr, exit code 2 and no output folder."""

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from rich.table import Table

from mdlkit.cli import main
from mdlkit.coding import decode_spec, encode_model, read_model
from mdlkit.complexity import LLCSettings, estimate_llc, make_toy
from mdlkit.data import load_dataset
from mdlkit.heads import CategoricalHead, GaussianHead
from mdlkit.recipes.fit_run import read_fit_run
from mdlkit.report import render_text
from mdlkit.report.llc_tables import llc_report

TINY = ["--chains", "2", "--burn-in", "20", "--draws", "50", "--no-progress"]
SETTINGS = LLCSettings(chains=2, burn_in=20, draws=50)
FIT = ["--method", "none", "--epochs", "5", "--grid-epochs", "0", "--hidden", "8", "--no-progress"]


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished `mdlkit fit` run on iris (plain training, a few epochs: the cheapest run)."""
    out = tmp_path_factory.mktemp("fit") / "run"
    torch.set_num_threads(1)  # as the autouse fixture does, which a module fixture precedes
    assert main(["fit", "--data", "sklearn:iris", "--out", str(out), *FIT]) == 0
    return out


def test_toy_prints_lambda_hat_and_the_true_lambda_and_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "llc"
    assert main(["llc", "--toy", "linear", "--toy-n", "500", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "λ̂ (mean ± std over chains)" in printed and "true λ" in printed
    assert "d/2 (λ ≤ d/2 always)" in printed and "relative error" in printed
    saved = json.loads((out / "llc.json").read_text())
    assert saved["true_llc"] == 12.5 and saved["half_d"] == 12.5  # a regular 5×5 map: λ = d/2
    assert saved["relative_error"] == pytest.approx((saved["llc"] - 12.5) / 12.5)
    assert saved["settings"]["draws"] == 50 and saved["measured"]["n"] == 500
    assert f"{saved['llc']:.4g}" in printed
    assert (out / "llc_trace.png").stat().st_size > 0 and (out / "config.json").is_file()


def test_a_fit_run_gives_estimate_llc_on_its_decoded_model_and_training_split(
    fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "llc"
    assert main(["llc", str(fit_run), "--out", str(out), *TINY]) == 0
    assert "cross-entropy" in capsys.readouterr().out
    saved = json.loads((out / "llc.json").read_text())
    # By hand: the weight file decoded, iris's training split as fit loads it (seed 0), the
    # cross-entropy; the same seeds give the same chains, so the numbers are equal exactly.
    model = read_model(fit_run / "none.mdlw")
    train = load_dataset("sklearn:iris", seed=0).train
    by_hand = estimate_llc(model, train, CategoricalHead(), settings=SETTINGS)
    assert saved["llc"] == by_hand.llc and saved["per_chain"] == list(by_hand.per_chain)
    assert saved["initial_loss"] == by_hand.initial_loss
    n = len(train)
    assert saved["measured"]["n"] == n and saved["n_beta"] == pytest.approx(n / math.log(n))
    assert saved["d"] == sum(p.numel() for p in model.parameters())
    assert (out / "llc_trace.png").is_file()


def test_read_fit_run_gives_the_decoded_model_and_the_runs_training_split(fit_run: Path) -> None:
    run = read_fit_run(fit_run)
    assert (run.name, run.model_file, run.config.dataset) == ("none", "none.mdlw", "sklearn:iris")
    train = load_dataset("sklearn:iris", seed=0).train  # as fit loads it (seed 0)
    assert torch.equal(run.splits.train.x, train.x) and torch.equal(run.splits.train.y, train.y)
    assert not run.model.training
    with torch.no_grad():
        assert torch.equal(run.model(train.x), read_model(fit_run / "none.mdlw")(train.x))


def test_training_data_other_than_the_runs_are_reported(
    fit_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(fit_run, run)
    results = json.loads((run / "results.json").read_text())
    results["runs"]["none"]["data_ideal_bits"] += 1.0  # as if the data file had changed
    (run / "results.json").write_text(json.dumps(results))
    assert main(["llc", str(run), "--out", str(tmp_path / "llc"), *TINY]) == 0
    assert "warning: the training split rebuilt from the run's settings" in capsys.readouterr().out


def test_a_regression_run_uses_the_gaussian_head_at_the_runs_sigma(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, out = tmp_path / "fit", tmp_path / "llc"
    assert main(["fit", "--data", "sklearn:diabetes", "--out", str(run), *FIT]) == 0
    assert main(["llc", str(run), "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    sigma = json.loads((run / "results.json").read_text())["runs"]["none"]["sigma"]
    saved = json.loads((out / "llc.json").read_text())
    assert saved["measured"]["sigma"] == sigma
    assert not any(w.startswith("the training split rebuilt") for w in saved["warnings"])
    model = read_model(run / "none.mdlw")
    train = load_dataset("sklearn:diabetes", seed=0).train
    head = GaussianHead(sigma, 1e-3, learn_sigma=False)
    with torch.no_grad():
        loss = float(head(model(train.x), train.y))
    assert saved["initial_loss"] == pytest.approx(loss, rel=1e-12)  # the same sum, ·n/n


def test_calibrate_prints_a_table_and_a_recommendation_or_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal"
    argv = ["llc", "--toy", "linear", "--toy-n", "500", "--calibrate", "--steps", "1e-5,1e-4,1e-3"]
    assert main([*argv, "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "recommended: --step" in printed or "no setting recommended" in printed
    saved = json.loads((out / "llc_calibration.json").read_text())
    assert [row["settings"]["step"] for row in saved["rows"]] == [1e-5, 1e-4, 1e-3]
    assert (out / "llc_calibration.png").is_file() and not (out / "llc.json").exists()


def _bad_inputs(tmp: Path, fit_run: Path) -> dict[str, tuple[list[str], str]]:
    """name → (arguments after `llc`, a part of the expected message)."""
    (tmp / "empty").mkdir()
    no_weights = tmp / "no_weights"
    shutil.copytree(fit_run, no_weights)
    (no_weights / "none.mdlw").unlink()
    unfinished = tmp / "unfinished"
    shutil.copytree(fit_run, unfinished)
    (unfinished / "results.json").unlink()
    two_runs = tmp / "two_runs"
    shutil.copytree(fit_run, two_runs)
    config = json.loads((two_runs / "config.json").read_text())
    config["runs"]["drr"] = config["runs"]["none"]
    (two_runs / "config.json").write_text(json.dumps(config))
    pruned = tmp / "pruned"  # the same run, every weight pruned
    shutil.copytree(fit_run, pruned)
    weights = pruned / "none.mdlw"
    model = read_model(weights)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    weights.unlink()
    encode_model(model, decode_spec((fit_run / "none.mdlw").read_bytes()), 1.0).write(weights)
    toy = ["--toy", "linear"]
    return {
        "not a run folder": ([str(tmp / "empty")], "not an mdlkit run folder"),
        "missing folder": ([str(tmp / "absent")], "run folder not found"),
        "weight file deleted": ([str(no_weights)], "weight file not found"),
        "unfinished run": ([str(unfinished)], "has not finished"),
        "several runs": ([str(two_runs)], "choose one with --run-name"),
        "no such run": ([str(fit_run), "--run-name", "drr"], "has no run 'drr'"),
        "every weight pruned": ([str(pruned)], "has every weight pruned"),
        "mala on minibatches": ([*toy, "--sampler", "mala", "--batch-size", "8"], "full-batch"),
        "negative step": ([*toy, "--step", "-1"], "the SGLD step must be > 0"),
        "ε·γ >= 2": ([*toy, "--step", "0.5", "--gamma", "4"], "makes SGLD unstable"),
        "unknown toy": (["--toy", "lineer"], "unknown toy 'lineer'"),
        "both": ([str(fit_run), *toy], "not both"),
        "neither": ([], "give a run folder"),
        "steps without --calibrate": ([*toy, "--steps", "1e-4"], "add --calibrate"),
        "zero chains": ([*toy, "--chains", "0"], "chains and draws must be >= 1"),
        "bad sampler": ([*toy, "--sampler", "hmc"], "invalid choice: 'hmc'"),
    }


def test_every_bad_input_is_one_line_and_exit_2_and_no_folder(
    fit_run: Path, tmp_path: Path, refused: Callable[..., str]
) -> None:
    out = tmp_path / "out"
    for argv, message in _bad_inputs(tmp_path, fit_run).values():
        refused(["llc", *argv, "--out", str(out)], message)
    refused(["llc", "--toy", "linear", "--step", "-1"])  # the default folder too


def test_a_negative_estimate_says_so_in_the_tables_first_line() -> None:
    toy = make_toy("linear", n=200)
    result = estimate_llc(toy.model, toy.data, toy.loss_fn, settings=SETTINGS)
    for llc, flagged in ((result.llc, False), (-abs(result.llc) - 1.0, True)):
        report = llc_report("toy", replace(result, llc=llc), d=25, n=200, loss="nll",
                            true_llc=None, relative_error=None, warnings=())  # fmt: skip
        assert isinstance(report.table, Table)
        first = render_text(report.table).strip().splitlines()[0]
        assert ("w* is not a minimum: train longer" in first) is flagged, first


def test_the_self_check_reports_sgld_s_half_step_estimate_and_warns_when_they_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "llc"
    argv = ["llc", "--toy", "linear", "--toy-n", "2000", "--step", "3e-3", "--sampler", "sgld"]
    assert main([*argv, "--out", str(out), *TINY]) == 0
    saved = json.loads((out / "llc.json").read_text())
    assert saved["settings"]["step"] == 1.5e-3  # the half step's estimate is the one reported
    assert saved["step_check"]["reliable"] is False and saved["step_check"]["step"] == 3e-3
    assert any("when the step was halved" in w for w in saved["warnings"])
    assert "when the step was halved" in capsys.readouterr().out


def test_mala_is_the_default_on_the_full_batch_and_the_check_can_be_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["llc", "--toy", "linear", "--toy-n", "500", *TINY]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    saved = json.loads((tmp_path / "a" / "llc.json").read_text())
    assert saved["settings"]["sampler"] == "mala" and 0 < saved["acceptance"] <= 1
    assert saved["step_check"]["step"] == saved["step_used"]  # the tuned step, then its half
    assert "MALA kept" in capsys.readouterr().out
    assert main([*argv, "--no-check-step", "--out", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "llc.json").read_text())["step_check"] is None
