import json
from pathlib import Path

import pytest

from mdlkit.cli import main
from mdlkit.recipes.mnist_pruning import MnistPruningExperiment, run_mnist_pruning
from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student


def test_teacher_student_quick_sweep_writes_everything_and_resumes(tmp_path: Path) -> None:
    exp = TeacherStudentExperiment.quick()
    table = run_teacher_student(exp, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "checkpoints",
        "config.json",
        "isolines.png",
        "results.json",
        "runs",
        "table.md",
        "u_curve.png",
    ]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["runs"]) == len(exp.jobs()) == 4
    best = results["best"][0]
    assert best["paper_bytes_low_noise"] == [180, 3111]
    for method in exp.methods:
        run = results["runs"][f"N30-noise0.01-{method}-a0.01"]
        # the table's bytes are the verified two-part code's bits / 8
        assert best[method]["dl_bytes"] == run["two_part_bits"] / 8
        assert run["two_part_bits"] == sum(run["two_part_parts_bits"].values())
    assert "unregularized" in table
    # A second call finds every run finished and only rebuilds the report.
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    run_teacher_student(exp, tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()} == before


def test_mnist_pruning_quick_run(tmp_path: Path, mnist_path: Path) -> None:
    exp = MnistPruningExperiment.quick(str(mnist_path))
    table = run_mnist_pruning(exp, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert {m["target_cr"] for m in results["magnitude"]["lenet-300-100"]} == {5, 20}
    for m in results["magnitude"]["lenet-300-100"]:
        # global magnitude pruning hit its target compression rate (biases kept)
        assert m["compression_rate"] == pytest.approx(m["target_cr"], rel=0.01)
    assert "magnitude → CR 20" in table and (tmp_path / "ei_vs_cr.png").exists()


def test_experiment_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "cifar"]) == 2
    assert "unknown experiment" in capsys.readouterr().err
    assert main(["experiment", "teacher-student", "--resume", str(tmp_path)]) == 2
    assert "not an mdlkit experiment folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
