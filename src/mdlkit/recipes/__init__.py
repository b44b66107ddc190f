"""Recipes: whole runs as readable functions over a typed config, each writing its own outputs
into a :class:`mdlkit.runs.RunFolder`.

The names below are imported from their modules on first use (PEP 562): most recipes need
torch or scikit-learn, and a command that runs one recipe imports that one alone.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from mdlkit.recipes.export import ExportConfig, ExportResult, run_export
    from mdlkit.recipes.fit import FitConfig, FitResult, fit_data, fit_spec, run_fit
    from mdlkit.recipes.llc import LLCCalibrationResult, LLCConfig, LLCRunResult, run_llc
    from mdlkit.recipes.predict import PredictConfig, run_predict
    from mdlkit.recipes.probe import PROBES, ProbeConfig, ProbeResult, run_probe
    from mdlkit.recipes.select import SelectConfig, SelectResult, run_select
    from mdlkit.recipes.sweep import run_sweep

__all__ = [
    "CODES",
    "DEMO_FIT",
    "EXPERIMENTS",
    "PROBES",
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
    "ExportConfig",
    "ExportResult",
    "FitConfig",
    "FitResult",
    "LLCCalibrationResult",
    "LLCConfig",
    "LLCRunResult",
    "PredictConfig",
    "ProbeConfig",
    "ProbeResult",
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
    "run_export",
    "run_fit",
    "run_llc",
    "run_predict",
    "run_probe",
    "run_select",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    module: ModuleType
    if name in ("BenchCompressConfig", "BenchCompressResult", "run_bench_compress"):
        from mdlkit.recipes import bench_compress as module
    elif name in ("CODES", "CodelengthConfig", "CodelengthResult", "run_codelength"):
        from mdlkit.recipes import codelength as module
    elif name in ("CompressConfig", "DecompressConfig", "run_compress", "run_decompress"):
        from mdlkit.recipes import compress_file as module
    elif name in ("DEMO_FIT", "DemoConfig", "DemoResult", "run_demo"):
        from mdlkit.recipes import demo as module
    elif name in ("EXPERIMENTS", "ExperimentConfig", "ExperimentResult", "run_experiment"):
        from mdlkit.recipes import experiment as module
    elif name in ("ExportConfig", "ExportResult", "run_export"):
        from mdlkit.recipes import export as module
    elif name in ("PredictConfig", "run_predict"):
        from mdlkit.recipes import predict as module
    elif name in ("FitConfig", "FitResult", "fit_data", "fit_spec", "run_fit"):
        from mdlkit.recipes import fit as module
    elif name in ("LLCCalibrationResult", "LLCConfig", "LLCRunResult", "run_llc"):
        from mdlkit.recipes import llc as module
    elif name in ("PROBES", "ProbeConfig", "ProbeResult", "run_probe"):
        from mdlkit.recipes import probe as module
    elif name in ("SelectConfig", "SelectResult", "run_select"):
        from mdlkit.recipes import select as module
    elif name == "run_sweep":
        from mdlkit.recipes import sweep as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
