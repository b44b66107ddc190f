"""Resumable waves of jobs: many jobs into one run folder, each skipped once its record exists.

Layout: ``<folder>/runs/<key>.json`` (the record of a finished job, see
:meth:`RunFolder.record`), the files a job hands back (a fit job's ``models/<key>.mdlw``,
written before the record) and ``<folder>/checkpoints/<key>/`` (phase checkpoints of a job in
progress). Killing a sweep and calling it again on the resumed folder continues with the
unfinished jobs, the interrupted ones from their checkpoints.

Jobs run through an :class:`~mdlkit.sweeps.executors.Executor` (serially, in local processes
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

import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically
from mdlkit.runs import RunFolder
from mdlkit.sweeps.executors import Executor, Task, make_executor

__all__ = ["JobOutput", "Where", "job_checkpoints", "open_sweep", "run_jobs"]


class Where(TypedDict, total=False):
    """Where a sweep's jobs run: the keyword arguments every sweep recipe takes.

    ``workers``: jobs at once, each in a local process (None: one per core; 1: serially in
    this process); ``ray``: a Ray address to run them on instead
    (:func:`~mdlkit.sweeps.executors.make_executor`); ``device``: where each job trains (it
    replaces the configs' device: where a job runs, not what it does)."""

    workers: int | None
    ray: str | None
    device: str | None


@dataclass(frozen=True)
class JobOutput:
    """What a job hands back to the parent: its record (a JSON-able dict), the files to write
    into the run folder before the record (paths relative to the folder) and its seconds."""

    record: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0


@contextmanager
def open_sweep(
    folder: RunFolder, config: Mapping[str, Any], where: Where, *, threads: int = 1
) -> Iterator[Executor]:
    """The executor ``where`` asks for, with every task on ``threads`` torch threads, and
    ``folder`` started with ``config``; the executor is released on leaving.

    The executor comes first: an unreachable Ray cluster is refused before the folder is
    written."""
    with make_executor(where.get("workers"), where.get("ray"), threads=threads) as executor:
        folder.start(config)
        yield executor


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


def _write_file(path: Path, data: bytes) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


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
    then: Callable[[str, dict[str, Any]], Sequence[Task]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every task (each returning a :class:`JobOutput`) whose key has no record yet;
    return ``key → record`` for all of them, in the order of ``tasks``.

    ``then(key, record)``, called once for every job with a record (finished before this call
    or during it), returns the jobs that could only start once that one had finished (e.g.
    fine-tuning a trained baseline); they join the same wave at once, so no worker waits for
    the wave's slowest job. They start after the jobs given (which may be long; a pool runs
    tasks in the order they come), and their records follow in the returned order."""
    records: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    todo: list[Task] = []  # grows while the executor runs it (see mdlkit.sweeps.executors)

    def add(new: Sequence[Task]) -> None:
        later: list[Task] = []  # follow-ups of jobs finished before: after the jobs given
        for task in new:
            if task[0] in order:  # two jobs would write one record
                raise MdlkitError(f"the sweep has two jobs named {task[0]}")
            order.append(task[0])
            record = folder.record(task[0])
            if record is None:
                todo.append(task)
            else:
                records[task[0]] = record
                later += then(task[0], record) if then is not None else []
        if later:
            add(later)

    add(tasks)
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
            total=len(order),
            completed=len(order) - len(todo),
        )
        for key, output in executor.run(todo):
            _finish(folder, key, output)
            records[key] = output.record
            if not progress:
                print(f"{key}: done in {output.seconds:.1f} s", file=sys.stderr)
            if then is not None:
                add(then(key, output.record))
            bar.update(line, advance=1, total=len(order))
    return {key: records[key] for key in order}
