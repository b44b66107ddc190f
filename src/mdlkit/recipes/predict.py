"""``mdlkit predict RUN_DIR DATA``: a fitted model applied to new rows, written as CSV.

Reads top to bottom: check where the output goes (before any work), decode the run's model and
read its feature scaling (``scaling.json``), read the new rows with fit's checks on columns and
standardize them as the training rows were, predict, write the CSV (class probabilities and
labels, or values in the target's units) and return one line: the rows and, when the file has
the targets, the accuracy (or RMSE and MAE) on them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mdlkit.data.new_rows import read_new_rows
from mdlkit.errors import MdlkitError
from mdlkit.files import check_output, deliver
from mdlkit.models.factory import import_factories
from mdlkit.recipes.fit_run import read_fit_model
from mdlkit.report.predictions import Predictions, predict_rows

__all__ = ["PredictConfig", "predict_file", "run_predict"]


@dataclass(frozen=True)
class PredictConfig:
    """Options of ``mdlkit predict``."""

    run_dir: str
    """a finished run folder of mdlkit fit or select on a table (it holds scaling.json)"""
    data: str
    """new rows: .csv, .parquet (feature columns by name; a target column scores) or .npz (x, y)"""
    output: str = "-"
    """the CSV to write (- is standard output)"""
    run_name: str | None = None
    """which model of a folder holding several"""
    force: bool = False
    """overwrite an existing output"""
    allow_factory: tuple[str, ...] = ()
    """model factories module:name the run's weight file may name (imported: trust the code)"""

    def validate(self) -> None:
        pass


def predict_file(
    run_dir: str | Path,
    data: str,
    run_name: str | None = None,
    allow_factory: tuple[str, ...] = (),
) -> Predictions:
    """The predictions of the model in ``run_dir`` on the rows of the file ``data``; a network
    of a user's factory decodes only if ``allow_factory`` names it (it is imported then)."""
    fitted = read_fit_model(run_dir, run_name, import_factories(allow_factory))
    if fitted.scaling is None:
        raise MdlkitError(
            f"{fitted.path} was fitted on {fitted.config.dataset}, not on a table: predict "
            "needs a run on sklearn:NAME or a .csv/.parquet/.npz file (it has scaling.json)"
        )
    rows = read_new_rows(data, fitted.scaling)
    return predict_rows(fitted.model, rows, fitted.scaling)


def run_predict(config: PredictConfig, *, progress: bool = False) -> str:
    """Predict and write the CSV; returns the line printed on stderr."""
    output = check_output(config.output, source=Path(config.data), force=config.force, binary=False)
    predictions = predict_file(config.run_dir, config.data, config.run_name, config.allow_factory)
    prefix = f".{output.path.name}." if output.path is not None else ".mdlkit-predict."
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".partial", dir=output.staging_folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(predictions.csv())
        deliver(output, Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
    where = "standard output" if output.path is None else str(output.path)
    return f"{predictions.summary()}; written to {where}"
