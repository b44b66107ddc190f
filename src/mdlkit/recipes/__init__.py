"""Recipes: whole runs as readable functions over a typed config, each writing its own outputs
into a :class:`mdlkit.runs.RunFolder`."""

from mdlkit.recipes.bench_compress import (
    BenchCompressConfig,
    BenchCompressResult,
    run_bench_compress,
)
from mdlkit.recipes.codelength import CODES, CodelengthConfig, CodelengthResult, run_codelength
from mdlkit.recipes.compress_file import (
    CompressConfig,
    DecompressConfig,
    run_compress,
    run_decompress,
)
from mdlkit.recipes.demo import DEMO_FIT, DemoConfig, DemoResult, run_demo
from mdlkit.recipes.experiment import (
    EXPERIMENTS,
    ExperimentConfig,
    ExperimentResult,
    run_experiment,
)
from mdlkit.recipes.fit import FitConfig, FitResult, fit_data, fit_spec, run_fit
from mdlkit.recipes.llc import LLCCalibrationResult, LLCConfig, LLCRunResult, run_llc
from mdlkit.recipes.select import SelectConfig, SelectResult, run_select
from mdlkit.recipes.sweep import run_sweep

__all__ = [
    "CODES",
    "DEMO_FIT",
    "EXPERIMENTS",
    "BenchCompressConfig",
    "BenchCompressResult",
    "CodelengthConfig",
    "CodelengthResult",
    "CompressConfig",
    "DecompressConfig",
    "DemoConfig",
    "DemoResult",
    "ExperimentConfig",
    "ExperimentResult",
    "FitConfig",
    "FitResult",
    "LLCCalibrationResult",
    "LLCConfig",
    "LLCRunResult",
    "SelectConfig",
    "SelectResult",
    "fit_data",
    "fit_spec",
    "run_bench_compress",
    "run_codelength",
    "run_compress",
    "run_decompress",
    "run_demo",
    "run_experiment",
    "run_fit",
    "run_llc",
    "run_select",
    "run_sweep",
]
