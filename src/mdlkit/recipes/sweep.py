"""A resumable sweep: many fit runs into one folder, each skipped once its result exists.

Layout: ``<folder>/runs/<key>.json`` (the record of a finished run, see
:meth:`RunFolder.record`) and ``<folder>/checkpoints/<key>/`` (phase checkpoints of the run in
progress). Killing a sweep and calling it again on the resumed folder continues with the
unfinished runs, the interrupted one from its checkpoint.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mdlkit.data import Splits
from mdlkit.models import is_image_model
from mdlkit.recipes.fit import FitConfig, FitResult, fit_data, run_fit
from mdlkit.runs import RunFolder

__all__ = ["run_sweep"]


def _cached_loader() -> Callable[[FitConfig], Splits]:
    cache: dict[tuple[Any, ...], Splits] = {}

    def load(config: FitConfig) -> Splits:
        key = (
            config.dataset,
            config.mnist_path,
            config.n_train,
            config.noise,
            config.seed,
            is_image_model(config.model),
        )
        if key not in cache:
            cache[key] = fit_data(config)
        return cache[key]

    return load


def run_sweep(
    folder: RunFolder,
    jobs: Sequence[tuple[str, FitConfig]],
    *,
    progress: bool = False,
    on_result: Callable[[str, FitResult], dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every ``(key, config)`` not finished yet; return ``key → summary`` for all jobs.

    ``on_result`` may add figures to a run's summary (it sees the full result once).
    """
    load = _cached_loader()
    console = Console(stderr=True)
    summaries: dict[str, dict[str, Any]] = {}
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        task = bar.add_task("sweep", total=len(jobs))
        for key, config in jobs:
            record = folder.record(key)
            if record is not None:
                summaries[key] = record
                bar.advance(task)
                continue
            bar.update(task, description=key)
            result = run_fit(config, splits=load(config), checkpoint_dir=folder.checkpoints / key)
            summary = {"config": config.to_dict(), **result.summary()}
            if on_result is not None:
                summary.update(on_result(key, result))
            folder.write_record(key, summary)
            summaries[key] = summary
            if not progress:
                print(f"{key}: done in {result.seconds:.1f} s", file=sys.stderr)
            bar.advance(task)
    return summaries
