"""Wall time of one small sweep serially, with 2 local workers and on a local Ray with 2 CPUs,
and whether every run gives the same table.

Run: ``.venv/bin/python benchmarks/sweep_workers.py`` (about six minutes on 2 cores: two rounds
in opposite orders, so that a change in the machine's load does not favour one executor);
writes ``benchmarks/results/sweep_workers.md``. Ray is skipped, with a note, when it is not
installed (``pip install 'mdlkit[ray]'``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from _publish import cpu_name, publish

from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student
from mdlkit.runs import RunFolder

# Seven runs of the teacher-student student (N = 2,000): unregularized, and DRR, R-L1, PMMP at
# two strengths each; about a minute serially on this machine.
EXPERIMENT = TeacherStudentExperiment(
    n_trains=(2000,),
    noises=(0.01,),
    alphas=(1e-3, 1e-2),
    epochs=5000,
    finetune_epochs=1500,
    window=200,
    warmup_epochs=100,
)
EXECUTORS: dict[str, dict[str, Any]] = {
    "serial (`--workers 1`)": {"workers": 1},
    "2 local workers (`--workers 2`)": {"workers": 2},
    "Ray, local, 2 CPUs (`--ray local --workers 2`)": {"ray": "local", "workers": 2},
}


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Timing:
    """One executor's figures over the rounds."""

    wall: list[float] = field(default_factory=list)  # the whole sweep, start-up included
    at_once: list[float] = field(default_factory=list)  # Σ run seconds / wall
    slowdown: list[float] = field(default_factory=list)  # run seconds / serial run seconds

    def mean(self, name: str) -> float:
        return statistics.mean(getattr(self, name))


def _timed(options: dict[str, Any], path: Path) -> tuple[float, dict[str, float], str]:
    """Seconds of the whole sweep (workers' start-up included), each run's own seconds, and
    the table."""
    started = time.perf_counter()
    run_teacher_student(EXPERIMENT, RunFolder.new(path, kind="teacher-student"), **options)
    wall = time.perf_counter() - started
    runs = {p.stem: json.loads(p.read_text())["seconds"] for p in (path / "runs").glob("*.json")}
    return wall, runs, (path / "table.md").read_text()


def _reading(timings: dict[str, Timing], names: list[str]) -> str:
    """What the figures say about two local workers, in one sentence."""
    serial, pool = timings[names[0]], timings[names[1]]
    cores = pool.mean("at_once") / pool.mean("slowdown")
    return (
        f"Two local workers ran {pool.mean('at_once'):.2f} runs at once, but each run took "
        f"{pool.mean('slowdown'):.2f}× its serial time: together they had {cores:.2f} cores' "
        f"worth of CPU (the serial sweep {serial.mean('at_once'):.2f}); the rest went to the "
        "machine's other work or was lost to the two cores slowing each other down (these "
        "figures cannot tell which), so the pool's speed-up here "
        f"({serial.mean('wall') / pool.mean('wall'):.2f}×) is bounded by what the machine gives "
        "and its workers' start-up comes on top."
    )


def main() -> None:
    executors = dict(EXECUTORS)
    notes = []
    if importlib.util.find_spec("ray") is None:
        executors = {k: v for k, v in executors.items() if "ray" not in v}
        notes.append("Ray is not installed here: its row is missing (pip install 'mdlkit[ray]').")
    names = list(executors)
    with_ray = any("ray" in options for options in executors.values())
    timings = {name: Timing() for name in names}
    tables: dict[str, str] = {}
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="sweep-workers-") as tmp:
        for round_, order in enumerate((names, names[::-1]), start=1):
            runs: dict[str, dict[str, float]] = {}
            for i, name in enumerate(order):
                wall, runs[name], table = _timed(executors[name], Path(tmp) / f"r{round_}-{i}")
                timings[name].wall.append(wall)
                timings[name].at_once.append(sum(runs[name].values()) / wall)
                tables[f"{name}, round {round_}"] = table
                print(f"round {round_}: {name}: {wall:.1f} s", flush=True)
            for name in names:  # against the same round's serial runs
                reference = runs[names[0]]
                ratios = [runs[name][key] / reference[key] for key in reference]
                timings[name].slowdown.append(statistics.mean(ratios))
    load_after = _load()
    reference_table = next(iter(tables.values()))
    identical = all(table == reference_table for table in tables.values())
    serial = timings[names[0]].mean("wall")
    rows = [
        f"| {name} | {t.wall[0]:.1f} | {t.wall[1]:.1f} | {serial / t.mean('wall'):.2f}× | "
        f"{t.mean('at_once'):.2f} | {t.mean('slowdown'):.2f}× | "
        f"{t.mean('at_once') / t.mean('slowdown'):.2f} |"
        for name, t in timings.items()
    ]
    fastest = min(names, key=lambda n: timings[n].mean("wall"))
    jobs = len(EXPERIMENT.jobs())
    text = "\n".join(
        [
            "# Sweep wall time by executor",
            "",
            f"Command: `.venv/bin/python benchmarks/sweep_workers.py`, {time.strftime('%Y-%m-%d')}."
            f" Machine: {cpu_name()}, {os.cpu_count()} cores shared with another long "
            "benchmark and another engineer's work (load average 1 / 5 / 15 min: "
            f"{load_before} before, {load_after} after); {platform.system()}, "
            f"torch {torch.__version__}"
            + (f", ray {importlib.metadata.version('ray')}" if with_ray else "")
            + ".",
            "",
            f"Sweep: `mdlkit experiment teacher-student` at N = 2,000, noise 0.01, unregularized "
            f"and DRR, R-L1, PMMP at α ∈ {{1e-3, 1e-2}}: {jobs} runs, one torch thread each. "
            "Times are the whole sweep, workers' start-up (a fresh Python importing torch and "
            "mdlkit; Ray's own start) included; two rounds, the second in the opposite order.",
            "",
            "| executor | round 1 s | round 2 s | speed-up (mean vs serial) | runs at once | "
            "a run's time vs serial | cores' worth |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "'runs at once' = the runs' own seconds summed over the wall time (at most 2 with "
            "two workers); 'a run's time vs serial' = the mean over runs of its seconds over "
            "the same run's seconds in the same round's serial sweep; 'cores' worth' = the "
            "first over the second, the CPU the sweep's runs got.",
            "",
            _reading(timings, names),
            "",
            f"Tables identical across all {len(tables)} sweeps: "
            f"{'yes' if identical else 'NO — a bug'}. Fastest: {fastest}.",
            *notes,
            "",
            "The table (every sweep's):",
            "",
            reference_table,
        ]
    )
    publish("sweep_workers.md", text)


if __name__ == "__main__":
    main()
