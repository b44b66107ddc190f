"""Reading a finished fit run back: its settings, its decoded model and its data rebuilt.

A run folder of ``mdlkit fit`` (``demo`` and ``select`` folders too) stores the fit settings in
``config.json``, the figures in ``results.json`` and the encoded model as a weight file. The
data is not stored: it is rebuilt from the settings the way fit made it
(:func:`~mdlkit.recipes.fit.fit_data`), so the training split is the run's own as long as the
dataset (file) is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mdlkit.coding import read_model
from mdlkit.data import Scaling, Splits
from mdlkit.errors import MdlkitError
from mdlkit.models.factory import Factories
from mdlkit.recipes.fit_config import FitConfig, fit_data
from mdlkit.runs import RunFolder

__all__ = ["FitRun", "FittedModel", "read_fit_model", "read_fit_run"]

_FIT_FIELDS = frozenset(f.name for f in fields(FitConfig))


def _stored_run(
    folder: RunFolder, run_name: str | None
) -> tuple[str, FitConfig, str, dict[str, Any]]:
    """``(name, the fit settings, the weight file's name, the run's figures)`` of a finished
    fit, demo or select folder; ``select`` gives its selected model."""
    path = folder.path
    runs = folder.read_config().get("runs")
    if not isinstance(runs, dict) or not runs:
        raise MdlkitError(
            f"{path} is not a run folder of mdlkit fit, demo or select (no fit settings in "
            "its config.json)"
        )
    if not folder.finished:
        raise MdlkitError(
            f"the run in {path} has not finished (no results.json), so it has no weight file "
            f"yet; finish it with mdlkit fit --resume {path}"
        )
    results = folder.read_results()
    names = list(runs)
    if run_name is None:
        if len(names) > 1:
            raise MdlkitError(
                f"{path} holds the runs {', '.join(names)}; choose one with --run-name"
            )
        run_name = names[0]
    elif run_name not in runs:
        raise MdlkitError(f"{path} has no run {run_name!r}; it holds {', '.join(names)}")
    try:
        if names == ["select"]:
            # A select run's fit options (all but its grid) load the data every candidate used.
            fit_options = {k: v for k, v in runs["select"].items() if k in _FIT_FIELDS}
            chosen = str(results["chosen"])
            record = folder.record(chosen) or {}  # the all-pruned candidate has no record
            return f"select: {chosen}", FitConfig.from_dict(fit_options), "selected.mdlw", record
        config = FitConfig.from_dict(runs[run_name])
        figures = results["runs"][run_name]
        return run_name, config, str(figures.get("model_file", f"{run_name}.mdlw")), figures
    except (KeyError, TypeError, AttributeError):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit fit") from None


@dataclass(frozen=True)
class FittedModel:
    """One model of a finished fit run, decoded, with the feature scaling of its table."""

    path: Path
    """the run folder"""
    name: str
    """which run of the folder (``select: <candidate>`` for a select folder's chosen model)"""
    config: FitConfig
    """the fit settings the model was trained with"""
    model_file: str
    """the weight file's name in the folder"""
    figures: dict[str, Any]
    """the run's summary as ``results.json`` (or a select candidate's record) holds it"""
    model: nn.Module
    """the decoded model, in eval mode"""
    scaling: Scaling | None
    """the run's ``scaling.json`` (a run on a table), None for a built-in dataset"""


@dataclass(frozen=True)
class FitRun(FittedModel):
    """One model of a finished fit run, decoded, with the data it was trained on."""

    splits: Splits
    """the data rebuilt from ``config``"""


def read_fit_model(
    path: str | Path, run_name: str | None = None, factories: Factories | None = None
) -> FittedModel:
    """The model ``run_name`` of the finished fit (demo, select) run in ``path``, decoded (a
    factory's network only with the factory in ``factories``: see :func:`read_model`), and its
    feature scaling; the data is not read (its file may be gone)."""
    path = Path(path)
    if not path.is_dir():
        raise MdlkitError(f"run folder not found: {path}")
    if not (path / "config.json").is_file():
        raise MdlkitError(f"{path} is not an mdlkit run folder (no config.json)")
    name, config, model_file, figures = _stored_run(RunFolder(path), run_name)
    model = read_model(path / model_file, factories)
    model.eval()
    scaling = None
    if (path / "scaling.json").is_file():
        try:
            scaling = Scaling.from_dict(json.loads((path / "scaling.json").read_text()))
        except (ValueError, AttributeError):  # JSON errors are ValueErrors
            raise MdlkitError(f"{path / 'scaling.json'} is damaged; refit the model") from None
    return FittedModel(path, name, config, model_file, figures, model, scaling)


def read_fit_run(
    path: str | Path, run_name: str | None = None, factories: Factories | None = None
) -> FitRun:
    """The model ``run_name`` of the finished fit (demo, select) run in ``path`` (None: its
    only model; a select folder: the selected one), decoded, with its data rebuilt.

    Raises :class:`MdlkitError` in one line when the folder is missing, unfinished or damaged,
    when the run's dataset (file) cannot be loaded, or when the model does not take the rebuilt
    data."""
    fitted = read_fit_model(path, run_name, factories)
    path, config, model, model_file = fitted.path, fitted.config, fitted.model, fitted.model_file
    config.validate()  # e.g. the dataset file of the run has gone
    splits = fit_data(config)
    try:
        with torch.no_grad():
            model(splits.train.x[:2])
    except RuntimeError as error:  # e.g. the dataset file has other columns now
        first = str(error).splitlines()[0]
        raise MdlkitError(
            f"the model in {path / model_file} does not take the rebuilt training data: {first}"
        ) from None
    return FitRun(
        path, fitted.name, config, model_file, fitted.figures, model, fitted.scaling, splits
    )
