"""Jobs that can start only once another has finished join the running wave (run_jobs' then)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from mdlkit.errors import MdlkitError
from mdlkit.runs import RunFolder
from mdlkit.sweeps import JobOutput, LocalPoolExecutor, SerialExecutor, Task, run_jobs

RAN: list[str] = []


def _job(key: str, value: int) -> JobOutput:
    RAN.append(key)
    return JobOutput({"value": value}, {}, 0.0)


def _task(key: str, value: int) -> Task:
    return (key, _job, (key, value))


def _then(key: str, record: dict[str, Any]) -> list[Task]:
    """Each base job is followed by two jobs that need its value."""
    if "-" in key:
        return []
    return [_task(f"{key}-x{k}", record["value"] * k) for k in (2, 3)]


def test_follow_ups_run_in_the_same_wave_and_come_back_in_order(tmp_path: Path) -> None:
    RAN.clear()
    folder = RunFolder(tmp_path / "run")
    folder.start({})
    records = run_jobs(folder, [_task("a", 1), _task("b", 10)], SerialExecutor(), then=_then)
    assert list(records) == ["a", "b", "a-x2", "a-x3", "b-x2", "b-x3"]
    assert [r["value"] for r in records.values()] == [1, 10, 2, 3, 20, 30]
    assert RAN == ["a", "b", "a-x2", "a-x3", "b-x2", "b-x3"]


def test_a_job_finished_before_still_brings_its_follow_ups(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.start({})
    run_jobs(folder, [_task("a", 1)], SerialExecutor())  # an earlier call: "a" alone
    RAN.clear()
    records = run_jobs(folder, [_task("a", 1), _task("b", 10)], SerialExecutor(), then=_then)
    # "a" not again, its follow-ups yes, after "b": a job given may be long, it starts first
    assert RAN == ["b", "a-x2", "a-x3", "b-x2", "b-x3"]
    assert list(records) == ["a", "b", "a-x2", "a-x3", "b-x2", "b-x3"]


def test_two_jobs_of_one_name_are_refused(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.start({})
    with pytest.raises(MdlkitError, match="two jobs named a-x2"):
        run_jobs(folder, [_task("a", 1), _task("a-x2", 5)], SerialExecutor(), then=_then)


def test_a_pool_starts_a_task_added_mid_run_without_waiting_for_the_slowest() -> None:
    with LocalPoolExecutor(workers=2) as executor:
        # Both workers started (each imports torch) before the timing below counts.
        assert sorted(executor.run([("w1", abs, (-1,)), ("w2", abs, (-2,))])) == [
            ("w1", 1),
            ("w2", 2),
        ]
        # "after" needs milliseconds in the idle worker; a pool that waited for the whole wave
        # would hand it back after "slow" however short the sleep.
        tasks: list[Task] = [("slow", time.sleep, (1.0,)), ("fast", abs, (-1,))]
        finished = []
        for key, _ in executor.run(tasks):
            finished.append(key)
            if key == "fast":
                tasks.append(("after", abs, (-5,)))
    assert finished == ["fast", "after", "slow"]


def test_a_lone_task_runs_here_and_tasks_added_after_it_go_to_the_pool() -> None:
    tasks: list[Task] = [("here", os.getpid, ())]
    pids = {}
    with LocalPoolExecutor(workers=2) as executor:
        for key, pid in executor.run(tasks):
            pids[key] = pid
            if key == "here":
                tasks += [("there", os.getpid, ()), ("there too", os.getpid, ())]
    assert pids["here"] == os.getpid()
    assert os.getpid() not in {pids["there"], pids["there too"]}
