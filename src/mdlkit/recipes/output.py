"""Run folders of fit runs: configuration first, checkpoints while running, results at the end."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mdlkit.errors import MdlkitError
from mdlkit.recipes.fit import FitConfig, FitResult
from mdlkit.report.plots import plot_fit_runs
from mdlkit.report.tables import fit_table, render_text
from mdlkit.runs import environment, make_run_dir, write_json

__all__ = ["finish_fit_runs", "read_fit_configs", "start_fit_runs", "write_fit_runs"]


def start_fit_runs(out: Path, configs: Mapping[str, FitConfig]) -> Path:
    """Create ``out`` (it must not exist) with ``config.json``: resolved configs + environment."""
    out = make_run_dir(out)
    write_json(
        out / "config.json",
        {
            "runs": {name: c.to_dict() for name, c in configs.items()},
            "environment": environment(),
        },
    )
    return out


def read_fit_configs(out: Path) -> tuple[dict[str, FitConfig], dict[str, Any]]:
    """The configs and environment a run folder was started with (for ``--resume``)."""
    path = Path(out) / "config.json"
    if not path.is_file():
        raise MdlkitError(f"{out} is not an mdlkit run folder (no config.json)")
    if (Path(out) / "results.json").exists():
        raise MdlkitError(f"the run in {out} has finished already (results.json exists)")
    try:
        data = json.loads(path.read_text())
        return {n: FitConfig.from_dict(c) for n, c in data["runs"].items()}, data["environment"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit") from None


def finish_fit_runs(out: Path, runs: Sequence[tuple[str, FitResult]], title: str) -> Path:
    """Write ``results.json`` (figures and per-epoch histories), ``<run>.mdlw`` (the encoded
    models, decodable with :func:`mdlkit.coding.read_model`), ``table.txt`` and ``training.png``.
    """
    summaries = [(name, r.summary()) for name, r in runs]
    write_json(
        out / "results.json",
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
        },
    )
    for name, r in runs:
        r.two_part.encoded_model.write(out / f"{name}.mdlw")
    (out / "table.txt").write_text(render_text(fit_table(summaries, title)))
    plot_fit_runs({name: r.phases for name, r in runs}, summaries, out / "training.png")
    return out


def write_fit_runs(out: Path, runs: Sequence[tuple[str, FitResult]], title: str) -> Path:
    """Start and finish a run folder in one go (for runs that were not checkpointed)."""
    start_fit_runs(out, {name: r.config for name, r in runs})
    return finish_fit_runs(out, runs, title)
