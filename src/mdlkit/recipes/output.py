"""Writing fit runs to a run folder: config, results, encoded models, table and plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mdlkit.recipes.fit import FitResult
from mdlkit.report.plots import plot_fit_runs
from mdlkit.report.tables import fit_table, render_text
from mdlkit.runs import environment, make_run_dir, write_json

__all__ = ["write_fit_runs"]


def write_fit_runs(out: Path, runs: Sequence[tuple[str, FitResult]], title: str) -> Path:
    """Create ``out`` (it must not exist) and write everything a person needs to check the runs.

    Files: ``config.json`` (resolved configs and environment), ``results.json`` (figures and
    per-epoch histories), ``<run>.mdlw`` (the encoded models, decodable with
    :func:`mdlkit.coding.read_model`), ``table.txt`` and ``training.png``.
    """
    out = make_run_dir(out)
    summaries = [(name, r.summary()) for name, r in runs]
    write_json(
        out / "config.json",
        {
            "runs": {
                name: {"config": r.config.to_dict(), "model": r.spec.to_dict()} for name, r in runs
            },
            "environment": environment(),
        },
    )
    write_json(
        out / "results.json",
        {
            "runs": {
                name: {
                    **summary,
                    "phases": {k: v.to_dict() for k, v in r.phases.items()},
                    "tamade_threshold": r.pruning.tamade.threshold if r.pruning else None,
                    "model_file": f"{name}.mdlw",
                }
                for (name, r), (_, summary) in zip(runs, summaries, strict=True)
            },
        },
    )
    for name, r in runs:
        r.two_part.encoded_model.write(out / f"{name}.mdlw")
    (out / "table.txt").write_text(render_text(fit_table(summaries, title)))
    plot_fit_runs({name: r.phases for name, r in runs}, summaries, out / "training.png")
    return out
