"""A resumable sweep: many jobs into one run folder, each skipped once its record exists.

Layout: ``<folder>/runs/<key>.json`` (the record of a finished job, see
:meth:`RunFolder.record`), the files a job hands back (a fit job's ``models/<key>.mdlw``,
written before the record) and ``<folder>/checkpoints/<key>/`` (phase checkpoints of a job in
progress). Killing a sweep and calling it again on the resumed folder continues with the
unfinished jobs, the interrupted ones from their checkpoints.

Jobs run through an :class:`~mdlkit.recipes.executors.Executor` (serially, in local processes
or on Ray). Each returns a :class:`JobOutput`; the parent writes its files and its record as
jobs finish and returns the records in the order of the jobs, so records, tables and the folder
do not depend on the executor (only timing fields such as ``seconds`` do).

Where checkpoints go: a job that can see the run folder (any local executor; a Ray worker on
this machine or on a filesystem shared with it) checkpoints into ``checkpoints/<key>/`` there,
so an interrupted job resumes mid-run. A Ray worker on another machine that cannot see the
folder checkpoints into a temporary folder of its own and hands the files back with its
result: the folder ends up the same, but a job interrupted there starts again from scratch.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mdlkit.data import Splits
from mdlkit.models import is_image_model
from mdlkit.recipes.executors import Executor, SerialExecutor, Task
from mdlkit.recipes.fit import FitConfig, fit_data, run_fit
from mdlkit.runs import RunFolder

__all__ = [
    "JobOutput",
    "job_checkpoints",
    "job_data",
    "run_fit_job",
    "run_jobs",
    "run_sweep",
    "share_data",
    "shared_for",
]

_CACHE: dict[tuple[Any, ...], Splits] = {}


@dataclass(frozen=True)
class JobOutput:
    """What a job hands back to the parent: its record (a JSON-able dict), the files to write
    into the run folder before the record (paths relative to the folder) and its seconds."""

    record: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


def _data_key(config: FitConfig) -> tuple[Any, ...]:
    return (
        config.dataset,
        config.target,
        config.task,
        config.mnist_path,
        config.n_train,
        config.noise,
        config.seed,
        is_image_model(config.model),
    )


def job_data(config: FitConfig, splits: Splits | None = None) -> Splits:
    """``splits`` if the parent shipped them, else the data of ``config``, loaded once per
    process for all the jobs that share it."""
    if splits is not None:
        return splits
    key = _data_key(config)
    if key not in _CACHE:
        _CACHE[key] = fit_data(config)
    return _CACHE[key]


def share_data(executor: Executor, configs: Iterable[FitConfig]) -> dict[tuple[Any, ...], Any]:
    """For an executor whose tasks may run on other machines, every dataset the configs use,
    loaded here once and shared (Ray's object store), keyed for :func:`shared_for`; nothing
    for local executors, whose workers load (and cache) their own."""
    if not executor.remote:
        return {}
    shared: dict[tuple[Any, ...], Any] = {}
    for config in configs:
        key = _data_key(config)
        if key not in shared:
            shared[key] = executor.share(job_data(config))
    return shared


def shared_for(shared: dict[tuple[Any, ...], Any], config: FitConfig) -> Any:
    """The shared data of ``config`` (or None: the worker loads it)."""
    return shared.get(_data_key(config))


@contextmanager
def job_checkpoints(folder: str, key: str, files: dict[str, bytes]) -> Iterator[Path]:
    """The checkpoint folder of job ``key`` of the sweep in ``folder``: its place in the run
    folder when this process can see it, else a temporary folder whose files are added to
    ``files`` (as ``checkpoints/<key>/…``) on leaving, for the parent to write."""
    run = RunFolder(folder)
    if run.file("config.json").is_file():
        yield run.checkpoints / key
        return
    with tempfile.TemporaryDirectory(prefix="mdlkit-job-") as tmp:
        yield Path(tmp)
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file():
                files[f"checkpoints/{key}/{path.relative_to(tmp).as_posix()}"] = path.read_bytes()


def run_fit_job(config: FitConfig, folder: str, key: str, splits: Splits | None) -> JobOutput:
    """One fit run of a sweep, wherever it runs: its summary (with its config), its weight
    file and any checkpoints the parent cannot see."""
    files: dict[str, bytes] = {}
    with job_checkpoints(folder, key, files) as checkpoints:
        result = run_fit(config, splits=job_data(config, splits), checkpoint_dir=checkpoints)
    files[f"models/{key}.mdlw"] = result.two_part.encoded_model.data
    summary = {"config": config.to_dict(), **result.summary()}
    return JobOutput(summary, files, result.seconds)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # a rerun after a kill between these two lines rewrites the same bytes


def _finish(folder: RunFolder, key: str, output: JobOutput) -> None:
    for name, data in output.files.items():
        _write_file(folder.file(name), data)
    folder.write_record(key, output.record)  # last: the record says the job has finished


def run_jobs(
    folder: RunFolder,
    tasks: Sequence[Task],
    executor: Executor,
    *,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run every task (each returning a :class:`JobOutput`) whose key has no record yet;
    return ``key → record`` for all of them, in the order of ``tasks``."""
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for task in tasks:
        record = folder.record(task[0])
        if record is not None:
            records[task[0]] = record
        else:
            todo.append(task)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    with bar:
        line = bar.add_task(
            f"{len(todo)} jobs, {executor.description}",
            total=len(tasks),
            completed=len(tasks) - len(todo),
        )
        for key, output in executor.run(todo):
            _finish(folder, key, output)
            records[key] = output.record
            if not progress:
                print(f"{key}: done in {output.seconds:.1f} s", file=sys.stderr)
            bar.advance(line)
    return {task[0]: records[task[0]] for task in tasks}


def run_sweep(
    folder: RunFolder,
    jobs: Sequence[tuple[str, FitConfig]],
    *,
    executor: Executor | None = None,
    progress: bool = False,
    device: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every fit ``(key, config)`` not finished yet through ``executor`` (default: serially
    in this process); return ``key → summary`` for all jobs, in the order of ``jobs``.
    ``device`` (if given) replaces every job's ``device``: where it trains, not what it does.

    ``folder`` must be started (:meth:`RunFolder.start`) already."""
    executor = executor if executor is not None else SerialExecutor()
    if device is not None:
        jobs = [(key, dataclasses.replace(config, device=device)) for key, config in jobs]
    unfinished = [config for key, config in jobs if folder.record(key) is None]
    shared = share_data(executor, unfinished)
    tasks: list[Task] = [
        (key, run_fit_job, (config, str(folder.path), key, shared_for(shared, config)))
        for key, config in jobs
    ]
    return run_jobs(folder, tasks, executor, progress=progress)
