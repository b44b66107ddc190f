"""A sweep of fit runs: every ``(key, FitConfig)`` a job of :func:`~mdlkit.sweeps.run_jobs`, its
summary the record and its weight file ``models/<key>.mdlw``.

The data of the jobs is loaded once per process (or, for Ray, once here and shipped with the
tasks), so no remote node needs the data files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from mdlkit.data import Splits
from mdlkit.models import is_image_model
from mdlkit.recipes.fit import FitConfig, fit_data, run_fit
from mdlkit.runs import RunFolder
from mdlkit.sweeps import Executor, JobOutput, SerialExecutor, Task, job_checkpoints, run_jobs

__all__ = ["fit_tasks", "job_data", "run_fit_job", "run_sweep", "share_data", "shared_for"]

_CACHE: dict[tuple[Any, ...], Splits] = {}


def _data_key(config: FitConfig) -> tuple[Any, ...]:
    return (
        config.dataset,
        config.target,
        config.task,
        config.mnist_path,
        config.n_train,
        config.noise,
        config.seed,
        is_image_model(config.model) or config.images,
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


def run_fit_job(config: FitConfig, folder: str, key: str, splits: Splits | None) -> JobOutput:
    """One fit run of a sweep, wherever it runs: its summary (with its config), its weight
    file and any checkpoints the parent cannot see."""
    files: dict[str, bytes] = {}
    with job_checkpoints(folder, key, files) as checkpoints:
        result = run_fit(config, splits=job_data(config, splits), checkpoint_dir=checkpoints)
    files[f"models/{key}.mdlw"] = result.two_part.encoded_model.data
    summary = {"config": config.to_dict(), **result.summary()}
    return JobOutput(summary, files, result.seconds)


def fit_tasks(
    folder: RunFolder,
    jobs: Sequence[tuple[str, FitConfig]],
    executor: Executor,
    device: str | None = None,
) -> list[Task]:
    """The tasks of the fits ``(key, config)`` for :func:`~mdlkit.sweeps.run_jobs`, their data
    shared where the executor needs it. ``device`` (if given) replaces every job's ``device``:
    where it trains, not what it does."""
    if device is not None:
        jobs = [(key, dataclasses.replace(config, device=device)) for key, config in jobs]
    unfinished = [config for key, config in jobs if folder.record(key) is None]
    shared = share_data(executor, unfinished)
    return [
        (key, run_fit_job, (config, str(folder.path), key, shared_for(shared, config)))
        for key, config in jobs
    ]


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
    ``device`` as in :func:`fit_tasks`.

    ``folder`` must be started (:meth:`RunFolder.start`) already."""
    executor = executor if executor is not None else SerialExecutor()
    tasks = fit_tasks(folder, jobs, executor, device)
    return run_jobs(folder, tasks, executor, progress=progress)
