"""The main job: on scikit-learn's digits, an MLP trained plain and with DRR (then pruned and
fine-tuned), both encoded for real, compared in one table of bits."""

from __future__ import annotations

from dataclasses import replace

from mdlkit.recipes.fit import FitConfig, FitResult, load_fit_data, run_fit

__all__ = ["DEMO_CONFIG", "run_demo"]

DEMO_CONFIG = FitConfig(
    dataset="digits", model="mlp", hidden=(32,), method="drr", alpha=3e-3, beta=5.0, seed=0
)


def run_demo(
    config: FitConfig = DEMO_CONFIG, *, progress: bool = False
) -> list[tuple[str, FitResult]]:
    """Train the plain and the DRR model on the same data and seed; return both results."""
    config.validate()
    splits = load_fit_data(config)
    plain = run_fit(replace(config, method="none"), progress=progress, splits=splits)
    drr = run_fit(config, progress=progress, splits=splits)
    return [("plain", plain), ("drr", drr)]
