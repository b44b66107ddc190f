"""Reporting: result tables and plots."""

from mdlkit.report.llc import plot_llc_calibration, plot_llc_traces
from mdlkit.report.plots import plot_fit_runs
from mdlkit.report.selection import plot_selection
from mdlkit.report.tables import Report, fit_table, render_text

__all__ = [
    "Report",
    "fit_table",
    "plot_fit_runs",
    "plot_llc_calibration",
    "plot_llc_traces",
    "plot_selection",
    "render_text",
]
