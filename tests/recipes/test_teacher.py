"""fit --teacher: a fit distilled from a finished fit run, end to end; bad teachers refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.heads import CategoricalHead
from mdlkit.recipes.fit import FitConfig, fit_data, run_fit
from mdlkit.recipes.fit_run import read_fit_model
from mdlkit.recipes.teacher import fit_teacher
from mdlkit.runs import RunFolder

QUICK = {"epochs": 2, "finetune_epochs": 1, "grid_epochs": 0, "warmup_epochs": 0, "window": 4,
         "hidden": (8,), "quant_mode": "tolerance", "prune_mode": "relative"}  # fmt: skip


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished fit on digits without a regularizer."""
    path = tmp_path_factory.mktemp("teacher") / "run"
    run_fit(FitConfig(dataset="digits", method="none", **QUICK), folder=RunFolder(path))
    return path


def test_fit_with_a_teacher_runs_end_to_end_and_codes_the_true_labels(
    teacher: Path, tmp_path: Path
) -> None:
    config = FitConfig(dataset="digits", method="drr", teacher=str(teacher), temperature=2.0,
                       teacher_weight=0.5, **QUICK)  # fmt: skip
    result = run_fit(config, folder=RunFolder(tmp_path / "student"))
    splits = fit_data(config)
    code = result.two_part
    # the data part is the TRUE labels under the decoded student (the teacher is not coded)
    bits = CategoricalHead().bits(code.decoded_model, splits.train.x, splits.train.y)
    assert code.data_ideal_bits == pytest.approx(float(bits.sum()), rel=1e-12)
    assert any("soft labels of" in note for note in result.report().notes)
    # the soft labels are the decoded teacher's, at T = 2
    distill = fit_teacher(config, splits)
    assert distill is not None and distill.weight == 0.5
    model = read_fit_model(teacher).model
    with torch.no_grad():
        expected = torch.log_softmax(model(splits.train.x[:5]) / 2.0, dim=1)
    torch.testing.assert_close(distill.log_probs[:5], expected, rtol=0, atol=1e-6)
    # the folder reads back as a fit run (its settings name the teacher)
    assert FitConfig.from_folder(RunFolder(tmp_path / "student")).teacher == str(teacher)


def test_a_missing_or_damaged_teacher_folder_is_refused_in_one_line(
    refused: Callable[..., str], tmp_path: Path
) -> None:
    quick = ["--epochs", "1", "--grid-epochs", "0"]
    refused(["fit", "--teacher", "nowhere", *quick], "teacher run folder not found: nowhere")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    refused(["fit", "--teacher", str(damaged), *quick], str(damaged))
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(["fit", "--teacher", str(empty), *quick], "not an mdlkit run folder")


def test_a_teacher_of_other_data_is_refused_in_one_line(
    refused: Callable[..., str], teacher: Path, tmp_path: Path
) -> None:
    # digits has 64 features: a small CNN takes them as 1×8×8 images the teacher cannot read
    refused(["fit", "--model", "small-cnn", "--teacher", str(teacher)],
            "does not take inputs of shape [1, 8, 8]")  # fmt: skip
    refused(["fit", "--dataset", "teacher-student", "--teacher", str(teacher)],
            "--teacher needs class labels")  # fmt: skip
    refused(["select", "--teacher", str(teacher), "--ray", "local"], "use --workers N, not --ray")
    refused(["select", "--model", "small-cnn", "--teacher", str(teacher)],
            "does not take inputs of shape [1, 8, 8]")  # fmt: skip


def test_a_teacher_with_other_classes_is_refused(teacher: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = tmp_path / "three.npz"
    np.savez(table, x=rng.normal(size=(90, 64)), y=np.arange(90) % 3)
    config = FitConfig(dataset=str(table), teacher=str(teacher), **QUICK)
    with pytest.raises(MdlkitError, match=r"outputs of shape \[10\] per row, the data has 3"):
        fit_teacher(config, fit_data(config))
