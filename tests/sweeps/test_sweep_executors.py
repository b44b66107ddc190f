"""Where a sweep's jobs run does not change what it finds: a pool of local processes, a local
Ray instance and a sweep killed halfway and continued elsewhere all give the serial run's table,
records (apart from seconds) and weight files; bad executor options are one line and exit 2."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mdlkit.cli import main
from mdlkit.recipes.fit import FitConfig, fit_data, run_fit
from mdlkit.recipes.sweep import run_fit_job, run_sweep
from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student
from mdlkit.runs import RunFolder
from mdlkit.sweeps import SerialExecutor

# The teacher-student sweep at its smallest: four runs (unregularized, DRR, R-L1, PMMP), each
# through regularize → prune → fine-tune → the two-part code, in about a second.
TINY = dataclasses.replace(
    TeacherStudentExperiment.quick(), epochs=120, finetune_epochs=40, window=20, warmup_epochs=10
)


def _outcome(path: Path) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    """A finished sweep folder's table, its records without timing and its weight files."""
    records = {
        p.stem: {k: v for k, v in json.loads(p.read_text()).items() if not k.endswith("seconds")}
        for p in sorted((path / "runs").glob("*.json"))
    }
    models = {p.name: p.read_bytes() for p in sorted((path / "models").glob("*.mdlw"))}
    return (path / "table.md").read_text(), records, models


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple]:
    """The reference: every run one after the other in this process."""
    path = tmp_path_factory.mktemp("serial") / "ts"
    run_teacher_student(TINY, RunFolder.new(path, kind="teacher-student"), workers=1)
    return path, _outcome(path)


def test_two_local_workers_give_the_serial_sweep(tmp_path: Path, serial: tuple) -> None:
    folder = RunFolder.new(tmp_path / "ts", kind="teacher-student")
    run_teacher_student(TINY, folder, workers=2)
    table, records, models = _outcome(folder.path)
    assert (table, records, models) == serial[1]
    assert len(records) == 4 and len(models) == 4


def test_a_sweep_killed_halfway_continues_in_a_pool_to_the_same_table(
    tmp_path: Path, serial: tuple
) -> None:
    folder = RunFolder.new(tmp_path / "ts", kind="teacher-student")
    folder.start({"experiment": dataclasses.asdict(TINY)})
    jobs = TINY.jobs()
    run_sweep(folder, jobs[:2], executor=SerialExecutor())  # then killed
    first = {p.name: p.stat().st_mtime_ns for p in (folder.path / "runs").iterdir()}
    assert len(first) == 2
    run_teacher_student(TINY, RunFolder.resume(folder.path), workers=2)
    after = {p.name: p.stat().st_mtime_ns for p in (folder.path / "runs").iterdir()}
    assert all(after[name] == mtime for name, mtime in first.items())  # not run again
    assert _outcome(folder.path) == serial[1]


def test_a_worker_that_cannot_see_the_folder_hands_its_checkpoints_back(
    tmp_path: Path, serial: tuple
) -> None:
    # As on a Ray node without the run folder: checkpoints go to a temporary folder and come
    # back as files, so the parent's folder ends up as if the job had run here.
    key, config = TINY.jobs()[1]
    output = run_fit_job(config, str(tmp_path / "elsewhere"), key, None)
    assert not (tmp_path / "elsewhere").exists()
    reference = serial[0]
    expected = {
        f"checkpoints/{key}/{p.relative_to(reference / 'checkpoints' / key).as_posix()}"
        for p in (reference / "checkpoints" / key).rglob("*")
        if p.is_file()
    }
    assert set(output.files) == expected | {f"models/{key}.mdlw"}
    assert output.files[f"models/{key}.mdlw"] == serial[1][2][f"{key}.mdlw"]
    record = {k: v for k, v in output.record.items() if not k.endswith("seconds")}
    assert json.loads(json.dumps(record)) == serial[1][1][key]


def test_a_local_ray_instance_gives_the_serial_sweep(tmp_path: Path, serial: tuple) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'mdlkit[ray]')")
    folder = RunFolder.new(tmp_path / "ts", kind="teacher-student")
    run_teacher_student(TINY, folder, ray="local", workers=2)
    assert _outcome(folder.path) == serial[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["experiment", "teacher-student", "--workers", "0"], "workers must be >= 1, got 0"),
        (["select", "--ray", "nowhere"], "bad Ray address 'nowhere'"),
        (["experiment", "llc-vs-compressibility", "--workers", "2"], "not a sweep"),
    ],
)
def test_bad_executor_options_are_one_line_and_exit_2(
    refused: Callable[..., str], argv: list[str], message: str
) -> None:
    refused(argv, message)


@pytest.mark.parametrize("command", ["experiment teacher-student --quick", "select"])
def test_ray_without_ray_installed_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    assert main([*command.split(), "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mdlkit[ray]'" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_ray_cluster_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'mdlkit[ray]')")
    monkeypatch.chdir(tmp_path)
    # Port 1 on this machine: nobody listens, so the connection is refused at once.
    assert main(["experiment", "teacher-student", "--quick", "--ray", "ray://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Ray cluster at ray://127.0.0.1:1" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_fit_given_its_data_needs_no_data_file(tmp_path: Path) -> None:
    """What lets a Ray node without the user's file run a sweep job: the same result."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    table = tmp_path / "table.csv"
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{int(a + b > 0)}" for a, b, c in x]
    table.write_text("a,b,c,y\n" + "\n".join(rows) + "\n")
    config = FitConfig(
        dataset=str(table), target="y", epochs=3, finetune_epochs=2, grid_epochs=1, window=4,
        warmup_epochs=0,
    )  # fmt: skip
    with_file = run_fit(config)
    splits = fit_data(config)
    table.unlink()
    without = run_fit(config, splits=splits)
    assert without.two_part.encoded_model.data == with_file.two_part.encoded_model.data
    assert without.two_part.length.total == with_file.two_part.length.total
