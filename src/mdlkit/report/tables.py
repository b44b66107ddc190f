"""Result tables for the terminal (rich) and for text files."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from mdlkit.coding.weights import OVERHEAD_BYTES
from mdlkit.report.notes import compression_rate_text

__all__ = ["Report", "fit_table", "render_text"]


_ROWS: tuple[tuple[str, str], ...] = (
    ("test accuracy (%)", "acc"),
    ("test MSE (standardized target)", "mse"),
    ("test RMSE (target units)", "rmse"),
    ("test MAE (target units)", "mae"),
    ("σ of the data code (RMS residual)", "sigma"),
    ("nonzero / parameters", "nz"),
    ("compression rate CR", "cr"),
    ("model bits: float32 dense", "f32"),
    ("model bits: 4 bytes per nonzero (paper's convention, no index cost)", "4b"),
    (f"model bits: mdlkit codec (the .mdlw adds {OVERHEAD_BYTES} B magic/CRC)", "codec"),
    ("model bits: of which architecture (model spec)", "arch"),
    ("data bits: ideal Σ −log2 p (regression: over every bin of N(f, σ²))", "ideal"),
    ("data bits: range-coded (regression: within the sent bin range)", "coded"),
    ("two-part total (codec + σ and side info + coded data)", "two"),
    ("uniform code n·log2 K", "uniform"),
)


def _maybe(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _cells(s: Mapping[str, Any]) -> dict[str, str]:
    mb = s["model_bits"]
    acc = s.get("test_accuracy")
    return {
        "acc": _maybe(None if acc is None else 100 * acc, ".2f"),
        "mse": _maybe(s.get("test_mse"), ".3g"),
        "rmse": _maybe(s.get("test_rmse_target_units"), ".4g"),
        "mae": _maybe(s.get("test_mae_target_units"), ".4g"),
        "sigma": _maybe(s.get("sigma"), ".4g"),
        "nz": f"{s['nonzero']:,} / {s['params']:,}",
        "cr": compression_rate_text(s["params"], s["nonzero"]),
        "f32": f"{mb['float32_dense']:,.0f}",
        "4b": f"{mb['4_bytes_per_nonzero']:,.0f}",
        "codec": f"{mb['codec']:,.0f}",
        "arch": _maybe(s.get("model_codec_parts_bits", {}).get("architecture"), ",.0f"),
        "ideal": f"{s['data_ideal_bits']:,.1f}",
        "coded": f"{s['data_coded_bits']:,.0f}",
        "two": f"{s['two_part_bits']:,.0f}",
        "uniform": _maybe(s.get("uniform_bits"), ",.0f"),
    }


def fit_table(rows: Sequence[tuple[str, Mapping[str, Any]]], title: str = "") -> Table:
    """One column per run (``(name, FitResult.summary())``), one row per figure; bits throughout."""
    table = Table(title=title or None)
    table.add_column("")
    for name, _ in rows:
        table.add_column(name, justify="right")
    cells = [_cells(s) for _, s in rows]
    for label, key in _ROWS:
        values = [c[key] for c in cells]
        hideable = ("acc", "mse", "rmse", "mae", "sigma", "arch", "uniform")
        if key in hideable and all(v == "—" for v in values):
            continue  # a row that means nothing for these runs
        table.add_row(label, *values)
    return table


def render_text(table: Table, width: int = 160) -> str:
    """The table as plain text (no colour codes), for files."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


@dataclass(frozen=True)
class Report:
    """What a recipe shows when it ends: a table (rich, or plain text such as Markdown) and
    lines of notes under it. The command line prints it; ``table.txt`` holds :meth:`text`."""

    table: Table | str
    notes: tuple[str, ...] = ()

    def text(self, width: int = 160) -> str:
        """The table as plain text, ``width`` columns wide if it is a rich table."""
        return self.table if isinstance(self.table, str) else render_text(self.table, width)
