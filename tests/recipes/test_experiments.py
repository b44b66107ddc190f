import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mdlkit import MdlkitError
from mdlkit.recipes.mnist_pruning import (
    BUDGETS,
    MnistPruningExperiment,
    NetworkBudget,
    run_mnist_pruning,
)
from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student
from mdlkit.runs import RunFolder


def test_teacher_student_quick_sweep_writes_everything_and_resumes(tmp_path: Path) -> None:
    exp = TeacherStudentExperiment.quick()
    table = run_teacher_student(
        exp, RunFolder.new(tmp_path / "ts", kind="teacher-student"), workers=1
    )
    tmp_path = tmp_path / "ts"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "checkpoints",
        "config.json",
        "isolines.png",
        "models",
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
    # A finished sweep is not run again, and its results are never overwritten.
    with pytest.raises(MdlkitError, match="finished already"):
        RunFolder.resume(tmp_path)
    # As if killed before its last job: resuming runs only that job and then writes the report.
    killed = "N30-noise0.01-pmmp-a0.01"
    for name in ("results.json", "table.md", f"runs/{killed}.json"):
        (tmp_path / name).unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    assert run_teacher_student(exp, RunFolder.resume(tmp_path)) == table
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").iterdir()}
    assert sorted(after) == sorted([*before, f"{killed}.json"])
    assert all(after[name] == mtime for name, mtime in before.items())
    # A sweep with other settings does not continue in this folder.
    (tmp_path / "results.json").unlink()
    with pytest.raises(MdlkitError, match="other settings"):
        run_teacher_student(TeacherStudentExperiment(), RunFolder.resume(tmp_path), workers=1)


def test_mnist_pruning_quick_run(tmp_path: Path, mnist_path: Path) -> None:
    # The quick version with its first method alone: R-L1's and PMMP's jobs take the same path
    # (the same fit job, another method), nothing of theirs is checked here, and the
    # teacher-student sweep above runs all four methods through it (each ~6 s on LeNet-300-100).
    # 1,000 training images instead of 5,000: what is checked does not depend on the accuracy.
    quick = MnistPruningExperiment.quick(str(mnist_path))
    ((network, budget),) = quick.networks
    one_method = dataclasses.replace(budget, alphas=budget.alphas[:1])
    exp = dataclasses.replace(quick, networks=((network, one_method),), n_train=1000)
    table = run_mnist_pruning(exp, RunFolder.new(tmp_path / "mp", kind="mnist-pruning"), workers=1)
    tmp_path = tmp_path / "mp"
    results = json.loads((tmp_path / "results.json").read_text())
    assert {m["target_cr"] for m in results["magnitude"]["lenet-300-100"]} == {5, 20}
    for m in results["magnitude"]["lenet-300-100"]:
        # global magnitude pruning hit its target compression rate (biases kept)
        assert m["compression_rate"] == pytest.approx(m["target_cr"], rel=0.01)
    assert "magnitude → CR 20" in table and (tmp_path / "ei_vs_cr.png").exists()
    assert f"| lenet-300-100 | {budget.alphas[0][0]} | " in table


def test_mnist_pruning_each_network_trains_on_its_own_budget() -> None:
    exp = MnistPruningExperiment.of(None, ("lenet-300-100", "lenet5-caffe"))
    jobs = dict(exp.jobs())
    assert list(jobs) == [
        f"{net}-{method}"
        for net in ("lenet-300-100", "lenet5-caffe")
        for method in ("none", "drr", "l1", "pmmp")
    ]
    for net, budget in exp.networks:
        for method, alpha in budget.alphas:
            config = jobs[f"{net}-{method}"]
            assert (config.model, config.alpha) == (net, alpha)
            assert (config.epochs, config.finetune_epochs) == (
                budget.epochs,
                budget.finetune_epochs,
            )
            assert config.window == budget.window
    # LeNet-300-100 keeps the paper's schedule and its published strengths, as before budgets
    # were per network; LeNet-5-Caffe's is shorter (an epoch costs 30×).
    assert BUDGETS["lenet-300-100"] == NetworkBudget(
        (("drr", 3e-5), ("l1", 5e-5), ("pmmp", 3e-5)), 300, 100, 50, (5, 10, 20, 40, 80)
    )
    assert MnistPruningExperiment(mnist_path=None) == MnistPruningExperiment.of(
        None, ("lenet-300-100",)
    )
    assert jobs["lenet-300-100-drr"].warmup_epochs == 10
    assert jobs["lenet5-caffe-drr"].epochs < 300 and jobs["lenet5-caffe-drr"].window < 50


def test_mnist_pruning_refuses_a_folder_of_the_older_layout(tmp_path: Path) -> None:
    folder = RunFolder.new(tmp_path / "old", kind="mnist-pruning")
    folder.start({"experiment": {"alphas": [["drr", 3e-5]], "models": ["lenet-300-100"]}})
    with pytest.raises(MdlkitError, match="older mdlkit"):
        run_mnist_pruning(
            MnistPruningExperiment.quick(None), RunFolder.resume(tmp_path / "old"), workers=1
        )


def test_experiment_cli_errors(tmp_path: Path, refused: Callable[..., str]) -> None:
    refused(["experiment", "cifar"], "unknown experiment")
    refused(["experiment", "mnist-pruning", "--network", "vgg"], "lenet-300-100, lenet5-caffe")
    refused(["experiment", "teacher-student", "--network", "lenet5-caffe"], "mnist-pruning takes")
    refused(["experiment", "mnist-pruning", "--network", "lenet5-caffe", "--slow"], "one of them")
    refused(
        ["experiment", "teacher-student", "--resume", str(tmp_path)], "not an mdlkit run folder"
    )
