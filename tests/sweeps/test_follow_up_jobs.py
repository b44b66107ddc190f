"""Jobs that can start only once another has finished join the running wave (run_jobs' then)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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


def test_a_pool_starts_a_task_added_mid_run_without_waiting_for_the_slowest() -> None:
    tasks: list[Task] = [("slow", time.sleep, (4.0,)), ("fast", abs, (-1,))]
    finished = []
    with LocalPoolExecutor(workers=2) as executor:
        for key, _ in executor.run(tasks):
            finished.append(key)
            if key == "fast":
                tasks.append(("after", abs, (-5,)))
    assert finished == ["fast", "after", "slow"]
