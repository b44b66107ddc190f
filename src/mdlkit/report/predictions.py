"""A fitted model's predictions on new rows, in the file's own terms, and as CSV text.

Classification: the probability of every class, p = softmax(logits) computed in float64 as the
coder computes it, and the most probable class by its name in the training file. Regression:
the model's outputs put back in the target's units, ŷ = output · std + mean (the training
targets' mean and standard deviation). When the rows came with targets, the accuracy (or RMSE
and MAE in the target's units) is computed on them, as ``fit`` computes it on its test split.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mdlkit.data.new_rows import NewRows
from mdlkit.data.scaling import Scaling
from mdlkit.errors import MdlkitError
from mdlkit.heads import outputs

__all__ = ["Predictions", "predict_rows"]


@dataclass(frozen=True)
class Predictions:
    """What the model says about each row, and how well, if the rows had targets."""

    scaling: Scaling
    probabilities: np.ndarray | None
    """(n, K) float64 class probabilities (classification), else None"""
    labels: np.ndarray | None
    """(n,) predicted class indices (classification), else None"""
    values: np.ndarray | None
    """(n, outputs) float64 predictions in the target's units (regression), else None"""
    targets: np.ndarray | None
    """the rows' targets as :class:`~mdlkit.data.new_rows.NewRows` holds them, or None"""

    def __len__(self) -> int:
        shown = self.probabilities if self.probabilities is not None else self.values
        assert shown is not None
        return len(shown)

    @property
    def accuracy(self) -> float | None:
        """The fraction of rows whose predicted class is their label (an unknown label counts
        as wrong); None without labels or for regression."""
        if self.labels is None or self.targets is None:
            return None
        return float(np.mean(self.labels == self.targets))

    @property
    def errors(self) -> dict[str, float] | None:
        """RMSE and MAE in the target's units over all outputs (regression with targets)."""
        if self.values is None or self.targets is None:
            return None
        residual = self.values - self.targets
        return {"rmse": float(np.sqrt(np.mean(residual**2))), "mae": float(np.mean(abs(residual)))}

    def csv(self) -> str:
        """One line per row in the input's order: ``predicted_<target>`` (a class name, or one
        column per regression output) and ``p_<class>`` per class (9 significant digits)."""
        s = self.scaling
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if self.probabilities is not None and self.labels is not None:
            assert s.class_names is not None
            writer.writerow([f"predicted_{s.target_names[0]}", *(f"p_{c}" for c in s.class_names)])
            for k, p in zip(self.labels.tolist(), self.probabilities, strict=True):
                writer.writerow([s.class_names[k], *(f"{v:.9g}" for v in p)])
        else:
            assert self.values is not None
            writer.writerow([f"predicted_{t}" for t in s.target_names])
            writer.writerows([f"{v:.9g}" for v in row] for row in self.values)
        return buffer.getvalue()

    def summary(self) -> str:
        """One line: how many rows, and the score if the rows had targets."""
        line = f"{len(self):,} rows predicted"
        if self.accuracy is not None:
            line += f"; accuracy {self.accuracy:.4%} on the file's labels"
            assert self.targets is not None
            unknown = int((self.targets < 0).sum())
            if unknown:
                line += f" ({unknown} rows have a label the model was not trained on)"
        if self.errors is not None:
            rmse, mae = self.errors["rmse"], self.errors["mae"]
            line += f"; RMSE {rmse:.6g}, MAE {mae:.6g} in the target's units"
        return line


@torch.no_grad()
def predict_rows(model: nn.Module, rows: NewRows, scaling: Scaling) -> Predictions:
    """The decoded ``model``'s predictions on ``rows`` (standardized with ``scaling``)."""
    out = outputs(model, rows.x)
    if scaling.class_names is not None:
        if out.shape[1] != len(scaling.class_names):
            raise MdlkitError(
                f"the model has {out.shape[1]} outputs but its scaling.json names "
                f"{len(scaling.class_names)} classes; the run folder is damaged"
            )
        probabilities = torch.softmax(out.to(torch.float64), dim=1).numpy()
        labels = out.argmax(dim=1).numpy()
        return Predictions(scaling, probabilities, labels, None, rows.targets)
    values = scaling.unscale_y(out.to(torch.float64).numpy())
    return Predictions(scaling, None, None, values, rows.targets)
