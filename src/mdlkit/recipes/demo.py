"""The main job: on scikit-learn's digits, an MLP trained plain and with DRR (then pruned and
fine-tuned), both encoded for real, compared in one table of bits."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mdlkit.recipes.fit import (
    FitConfig,
    FitResult,
    fit_data,
    fit_report,
    run_fit,
    write_fit_outputs,
)
from mdlkit.report import Report
from mdlkit.runs import RunFolder

__all__ = ["DEMO_FIT", "DEMO_PLAIN", "DemoConfig", "DemoResult", "run_demo"]

# The DRR run: pruning threshold and quantization step by the shortest code, then fine-tuned on
# the grid (the defaults). The plain run is the network as trained: method "none", quantized at
# the largest step within 0.5 % of its validation loss, no fine-tuning on the grid.
DEMO_FIT = FitConfig(
    dataset="digits", model="mlp", hidden=(32,), method="drr", alpha=3e-3, beta=5.0, seed=0
)
DEMO_PLAIN = replace(DEMO_FIT, method="none", quant_mode="tolerance", grid_epochs=0)
TITLE = "mdlkit demo: digits, MLP 64-32-10, plain vs DRR"


@dataclass(frozen=True)
class DemoConfig:
    """The demo's only choice; everything else is :data:`DEMO_FIT`."""

    seed: int = 0
    """random seed: data split, initial weights, batch order"""

    def validate(self) -> None:
        """Nothing can be wrong with a seed; here for the shape every recipe config has."""

    def fit_configs(self) -> dict[str, FitConfig]:
        """The two runs, by name: ``plain`` and ``drr``."""
        return {
            "plain": replace(DEMO_PLAIN, seed=self.seed),
            "drr": replace(DEMO_FIT, seed=self.seed),
        }


@dataclass
class DemoResult:
    """Both runs by name (``plain``, ``drr``)."""

    runs: dict[str, FitResult]

    def report(self) -> Report:
        return fit_report(list(self.runs.items()), TITLE)


def run_demo(
    config: DemoConfig | None = None, *, folder: RunFolder | None = None, progress: bool = False
) -> DemoResult:
    """Train the plain and the DRR model on the same data and seed; with ``folder``, write
    ``config.json``, ``results.json``, ``plain.mdlw``, ``drr.mdlw``, ``table.txt`` and
    ``training.png`` there."""
    configs = (config or DemoConfig()).fit_configs()
    if folder is not None:
        folder.start({"runs": {name: c.to_dict() for name, c in configs.items()}})
    splits = fit_data(configs["drr"])
    result = DemoResult(
        {name: run_fit(c, progress=progress, splits=splits) for name, c in configs.items()}
    )
    if folder is not None:
        write_fit_outputs(folder, list(result.runs.items()), result.report())
    return result
