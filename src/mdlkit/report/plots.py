"""Plots of training runs and code lengths (matplotlib, written to PNG files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mdlkit.bits import bits_from_nats
from mdlkit.training.loop import TrainResult

__all__ = ["plot_fit_runs", "save_figure"]


def plot_fit_runs(
    runs: Mapping[str, Mapping[str, TrainResult]],
    summaries: Sequence[tuple[str, Mapping[str, Any]]],
    path: str | Path,
) -> Path:
    """Three panels: validation loss per epoch, parameters in use per epoch (|θ| ≥ 0.01 solid,
    exactly nonzero dotted; every phase of every run, phases laid end to end), and each run's
    two-part code as stacked model + data bits beside the uniform code."""
    fig, (ax_loss, ax_nz, ax_bits) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, phases in runs.items():
        offset = 0
        for phase, result in phases.items():
            epochs = [offset + e.epoch for e in result.history]
            ax_loss.plot(
                epochs,
                [bits_from_nats(e.val_loss) for e in result.history],
                label=f"{name}: {phase}",
            )
            (line,) = ax_nz.plot(
                epochs, [e.above_001 for e in result.history], label=f"{name}: {phase}, |θ| ≥ 0.01"
            )
            ax_nz.plot(
                epochs,
                [e.nonzero for e in result.history],
                ls=":",
                color=line.get_color(),
                label=f"{name}: {phase}, exactly nonzero",
            )
            offset = epochs[-1] + 1 if epochs else offset
    ax_loss.set(
        xlabel="epoch",
        ylabel="validation loss (bits / sample)",
        yscale="log",
        title="validation loss",
    )
    ax_nz.set(
        xlabel="epoch",
        ylabel="parameters",
        yscale="log",
        title="parameters in use",
    )
    ax_loss.legend(fontsize=8)
    ax_nz.legend(fontsize=8)
    names = [n for n, _ in summaries]
    model = [s["model_bits"]["codec"] for _, s in summaries]
    data = [s["two_part_bits"] - s["model_bits"]["codec"] for _, s in summaries]
    ax_bits.bar(names, model, label="model (codec)")
    ax_bits.bar(names, data, bottom=model, label="data (range-coded, with side info)")
    if summaries and summaries[0][1].get("uniform_bits") is not None:
        ax_bits.axhline(summaries[0][1]["uniform_bits"], color="k", ls="--", label="uniform code")
    ax_bits.set(ylabel="bits", title="two-part code length")
    ax_bits.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Lay out ``fig``, write it as a PNG at ``dpi`` and close it (no figure stays open)."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
