"""Recipes: whole runs as readable functions over a typed config."""

from mdlkit.recipes.demo import DEMO_CONFIG, run_demo
from mdlkit.recipes.fit import METHODS, MODELS, FitConfig, FitResult, run_fit
from mdlkit.recipes.output import (
    finish_fit_runs,
    read_fit_configs,
    start_fit_runs,
    write_fit_runs,
)

__all__ = [
    "DEMO_CONFIG",
    "METHODS",
    "MODELS",
    "FitConfig",
    "FitResult",
    "finish_fit_runs",
    "read_fit_configs",
    "run_demo",
    "run_fit",
    "start_fit_runs",
    "write_fit_runs",
]
