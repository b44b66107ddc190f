"""λ̂ against compressibility along training (llc.md at CPU scale), with the machine it ran on.

Run: ``.venv/bin/python benchmarks/llc_vs_compressibility.py`` (runs ``mdlkit experiment
llc-vs-compressibility`` on ``../shared/data/mnist.npz`` and
``../shared/data/text/tinyshakespeare.txt`` into a new run folder, under 30 minutes on 2 cores),
or ``--folder runs/DIR`` to publish a run that has finished (``--minutes M`` states the wall time
seen). Writes ``benchmarks/results/llc_vs_compressibility.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

from _publish import RESULTS, cpu_name, publish

from mdlkit.recipes.llc_vs_compressibility import (
    LLCVsCompressibilityExperiment,
    run_llc_vs_compressibility,
)
from mdlkit.report.compressibility import plot_llc_vs_compressibility
from mdlkit.report.least_squares import linear_fit
from mdlkit.runs import RunFolder, git_revision

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST = SHARED / "mnist.npz"
TEXT = SHARED / "text" / "tinyshakespeare.txt"

# What "tracks" means in the reading below: a positive slope explaining most of the variance.
TRACKS_R2 = 0.8


def _reading(results: dict[str, Any]) -> str:
    """The fits said in words, study by study: every number from the run itself.

    Two controls beside each fit: the R² of the same measure against log10(step) — along a
    single training run anything that moves monotonically with training correlates with
    anything else that does — and the most the heuristic allows, log2(1/ε)/2 bits between
    λ = 0 and λ = d/2 (no model with d parameters has λ > d/2)."""
    lines = []
    for study in results["studies"]:
        rows = study["checkpoints"]
        good = [r for r in rows if r["llc"]["llc"] > 0 and not r["llc"]["warnings"]]
        llc = [r["llc"]["llc"] for r in good]
        steps = [math.log10(r["step"]) for r in good]
        along = linear_fit(steps, llc)
        lines.append(
            f"- **{study['title']}** (d = {study['d']:,}): {len(good)} of {len(rows)} "
            "checkpoints have a positive, warning-free λ̂"
            + (f", ranging {min(llc):.0f} … {max(llc):.0f}" if llc else "")
            + f" (d/2 = {study['d'] / 2:,.0f}); λ̂ against log10(step): R² = {along.r2:.2f}."
        )
        verdict: list[tuple[bool, bool]] = []
        for fit in study["fits"]:
            if fit["measure"] not in ("bits", "codec_bits_per_weight"):
                continue
            h = fit["healthy"]
            key = f"{fit['tolerance']:g}"
            values = [r["tolerances"][key][fit["measure"]] for r in good]
            what = "n_q" if fit["measure"] == "bits" else "codec bits per weight"
            if h["n"] < 2:
                lines.append(f"  - ε = {key}, {what}: fewer than 2 checkpoints to fit.")
                continue
            if not math.isfinite(h["r2"]):
                lines.append(
                    f"  - ε = {key}, {what}: the same ({values[0]:.3g}) at every fitted "
                    "checkpoint — nothing for λ̂ to explain."
                )
                continue
            tracks = h["slope"] > 0 and h["r2"] >= TRACKS_R2
            heuristic = fit["heuristic_slope"]
            control = linear_fit(steps, values)
            room = math.log2(1 / fit["tolerance"]) / 2
            if fit["measure"] == "bits":
                verdict.append((tracks, control.r2 >= h["r2"]))
            lines.append(
                f"  - ε = {key}, {what} {min(values):.3g} … {max(values):.3g} (the heuristic "
                f"allows a change of at most {room:.2f} bits over all λ ≤ d/2): slope "
                f"{h['slope']:.3g} per unit λ̂, {h['slope'] / heuristic:.3g}× the heuristic's "
                f"{heuristic:.3g}; R² = {h['r2']:.2f} over "
                f"{h['n']} checkpoints → {'tracks λ̂' if tracks else 'does NOT track λ̂'} "
                f"(criterion: slope > 0 and R² ≥ {TRACKS_R2}); against log10(step) instead: "
                f"R² = {control.r2:.2f}."
            )
        if verdict:
            lines.append(
                f"  - In short: n_q tracks λ̂ at {sum(t for t, _ in verdict)} of "
                f"{len(verdict)} tolerances; log10(step) explains n_q at least as well as λ̂ "
                f"at {sum(c for _, c in verdict)} of them."
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", help="a finished run folder to publish")
    parser.add_argument("--minutes", type=float, help="the wall time seen, to state")
    args = parser.parse_args()
    if args.folder:
        folder, minutes = Path(args.folder), args.minutes
    else:
        exp = LLCVsCompressibilityExperiment(
            mnist_path=str(MNIST), text_path=str(TEXT) if TEXT.is_file() else None
        )
        run = RunFolder.new(kind="llc-vs-compressibility")
        started = time.perf_counter()
        run_llc_vs_compressibility(exp, run, progress=True)
        folder, minutes = run.path, (time.perf_counter() - started) / 60
    results = json.loads((folder / "results.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    table = (folder / "table.md").read_text()
    env = config.get("environment", {})
    git = env.get("git") or git_revision()
    revision = (
        f" ({git['commit'][:8]}{', uncommitted changes' if git['dirty'] else ''})" if git else ""
    )
    e = config["experiment"]
    wall = f"{minutes:.1f} minutes" if minutes else "see the run folder"
    studies = results["studies"]
    seconds = {
        s["name"]: sum(r["seconds"] for r in s["checkpoints"]) + s["training_seconds"]
        for s in studies
    }
    text = (
        "# λ̂ against compressibility along training (llc.md, reproduction at CPU scale)\n\n"
        f"Machine: {platform.machine()}, {cpu_name()}, 2 cores shared with other jobs (the "
        f"wall time depends on their load), Python {env.get('python')}, torch "
        f"{env.get('torch')}, mdlkit {env.get('mdlkit')}{revision}, {env.get('threads')} torch "
        "thread. Command: `mdlkit experiment llc-vs-compressibility --mnist-path "
        "../shared/data/mnist.npz --data ../shared/data/text/tinyshakespeare.txt` (the "
        "benchmark calls the same recipe). "
        f"Wall time of the whole run: {wall} "
        f"({', '.join(f'{k} {v / 60:.1f} min' for k, v in seconds.items())} of measuring and "
        "training).\n\n"
        f"Settings: MNIST MLP 784-{'-'.join(map(str, e['mnist_hidden']))}-10 on "
        f"{e['mnist_train']:,} training images (stratified subset), Adam {e['mnist_lr']:g}, "
        f"batch {e['mnist_batch_size']}, checkpoints at epochs {e['mnist_checkpoints']}; byte "
        f"transformer (1 block, d_model {e['lm_d_model']}, {e['lm_heads']} heads, d_ff "
        f"{e['lm_d_ff']}, context {e['lm_context']}) on the first {e['lm_bytes']:,} bytes "
        f"(80 % train), Adam {e['lm_lr']:g}, batch {e['lm_batch_size']}, checkpoints at "
        f"epochs {e['lm_checkpoints']}. Tolerances ε = {e['tolerances']} nats on the training "
        "loss. λ̂ settings per study below (chosen once by `calibrate_llc`, see the comments at "
        "`MNIST_LLC` and `LM_LLC` in `mdlkit/recipes/llc_vs_compressibility.py`); minibatch "
        "SGLD, so λ̂ carries the minibatch heating (the same at every checkpoint).\n\n"
        "n_q is the critical quantization bits (per weight: every tensor on a 2^n_q − 1 level "
        "grid, ranges optimized); codec bits/weight the weight codec's description length "
        "within ε divided by d; rank fraction the share of every matrix's rank truncated SVD "
        "removes within ε; pruned fraction global magnitude pruning (TAMADE) within ε. Columns "
        "with three numbers give ε = 0.01 / 0.05 / 0.1.\n\n"
        f"{table}\n"
        "## Reading\n\n"
        f"{_reading(results)}\n\n"
        "The heuristic of llc.md, critical bits per weight ≈ log2(2m) + (λ/d)·log2(1/ε), "
        "predicts a slope of log2(1/ε)/d bits per unit λ; only the slope is compared (the "
        "intercept log2(2m) depends on the weights' units). n_q is an integer, so along "
        "training it moves in whole bits: its fit is coarse by construction; the codec's bits "
        "per weight vary continuously. Early checkpoints are not minima of the training loss, "
        "so their chains drift downhill (λ̂ ≤ 0 or a warning); they are shown but left out of "
        "the fits (R² over all checkpoints is beside each fit).\n\n"
        "![λ̂ against critical bits](llc_vs_compressibility.png)\n"
    )
    publish("llc_vs_compressibility.md", text)
    # Drawn again from results.json: the published figure follows the current plot code.
    plot_llc_vs_compressibility(
        studies, results["tolerances"], RESULTS / "llc_vs_compressibility.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
