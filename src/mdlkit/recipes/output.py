"""What fit runs leave in their run folder: results, encoded models, a table and plots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mdlkit.report import Report, fit_table, plot_fit_runs
from mdlkit.runs import RunFolder

if TYPE_CHECKING:
    from mdlkit.recipes.fit import FitResult

__all__ = ["fit_report", "write_fit_outputs"]


def fit_report(runs: Sequence[tuple[str, FitResult]], title: str) -> Report:
    """One column per run, one row per figure (bits throughout), and each run's time."""
    table = fit_table([(name, r.summary()) for name, r in runs], title)
    notes = tuple(f"{name}: {r.seconds:.1f} s, decoded model and data verified" for name, r in runs)
    return Report(table, notes)


def write_fit_outputs(
    folder: RunFolder, runs: Sequence[tuple[str, FitResult]], report: Report
) -> None:
    """Write ``results.json`` (figures and per-epoch histories), ``<run>.mdlw`` (the encoded
    models, decodable with :func:`mdlkit.coding.read_model`), ``table.txt`` and ``training.png``.
    """
    summaries = [(name, r.summary()) for name, r in runs]
    for name, r in runs:
        r.two_part.encoded_model.write(folder.file(f"{name}.mdlw"))
    folder.write_text("table.txt", report.text())
    plot_fit_runs({name: r.phases for name, r in runs}, summaries, folder.file("training.png"))
    # Last: results.json marks the run as finished.
    folder.write_results(
        {
            "runs": {
                name: {
                    **summary,
                    "model": r.spec.to_dict(),
                    "phases": {k: v.to_dict() for k, v in r.phases.items()},
                    "model_file": f"{name}.mdlw",
                }
                for (name, r), (_, summary) in zip(runs, summaries, strict=True)
            },
        }
    )
