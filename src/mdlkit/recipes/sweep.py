"""A resumable sweep: many fit runs into one folder, each skipped once its result exists.

Layout: ``<folder>/runs/<key>.json`` (the record of a finished run, see
:meth:`RunFolder.record`), ``<folder>/models/<key>.mdlw`` (its weight file, written before the
record) and ``<folder>/checkpoints/<key>/`` (phase checkpoints of a run in progress). Killing a
sweep and calling it again on the resumed folder continues with the unfinished runs, the
interrupted ones from their checkpoints.

With ``workers > 1`` the runs go to a pool of local processes (each with one torch thread, so
that two workers on two cores do not fight over them); records are written by the parent as
runs finish, so the records and the returned summaries do not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mdlkit.data import Splits
from mdlkit.errors import MdlkitError
from mdlkit.models import is_image_model
from mdlkit.recipes.fit import FitConfig, fit_data, run_fit
from mdlkit.runs import RunFolder

__all__ = ["run_sweep"]

_CACHE: dict[tuple[Any, ...], Splits] = {}


def _load(config: FitConfig) -> Splits:
    """The data of ``config``, loaded once per process for all the runs that share it."""
    key = (
        config.dataset,
        config.target,
        config.task,
        config.mnist_path,
        config.n_train,
        config.noise,
        config.seed,
        is_image_model(config.model),
    )
    if key not in _CACHE:
        _CACHE[key] = fit_data(config)
    return _CACHE[key]


def _run_job(config: FitConfig, checkpoints: Path) -> tuple[dict[str, Any], bytes, float]:
    """One run: its summary (with its config), its weight file's bytes, its seconds."""
    result = run_fit(config, splits=_load(config), checkpoint_dir=checkpoints)
    summary = {"config": config.to_dict(), **result.summary()}
    return summary, result.two_part.encoded_model.data, result.seconds


def _worker_init() -> None:
    torch.set_num_threads(1)


def _finish(folder: RunFolder, key: str, summary: dict[str, Any], model: bytes) -> None:
    models = folder.file("models")
    models.mkdir(exist_ok=True)
    path = models / f"{key}.mdlw"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(model)
    tmp.replace(path)  # a rerun after a kill between these two lines rewrites the same bytes
    folder.write_record(key, summary)


def run_sweep(
    folder: RunFolder,
    jobs: Sequence[tuple[str, FitConfig]],
    *,
    progress: bool = False,
    workers: int = 1,
) -> dict[str, dict[str, Any]]:
    """Run every ``(key, config)`` not finished yet; return ``key → summary`` for all jobs,
    in the order of ``jobs``."""
    if workers < 1:
        raise MdlkitError(f"workers must be >= 1, got {workers}")
    console = Console(stderr=True)
    summaries: dict[str, dict[str, Any]] = {}
    todo = []
    for key, config in jobs:
        record = folder.record(key)
        if record is not None:
            summaries[key] = record
        else:
            todo.append((key, config))
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )

    def done(key: str, summary: dict[str, Any], model: bytes, seconds: float) -> None:
        _finish(folder, key, summary, model)
        summaries[key] = summary
        if not progress:
            print(f"{key}: done in {seconds:.1f} s", file=sys.stderr)
        bar.advance(task)

    with bar:
        task = bar.add_task("sweep", total=len(jobs), completed=len(jobs) - len(todo))
        if workers == 1 or len(todo) <= 1:
            for key, config in todo:
                bar.update(task, description=key)
                done(key, *_run_job(config, folder.checkpoints / key))
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                min(workers, len(todo)), mp_context=context, initializer=_worker_init
            ) as pool:
                futures = {
                    pool.submit(_run_job, config, folder.checkpoints / key): key
                    for key, config in todo
                }
                bar.update(task, description=f"{len(todo)} runs on {workers} workers")
                for future in as_completed(futures):
                    done(futures[future], *future.result())
    return {key: summaries[key] for key, _ in jobs}
