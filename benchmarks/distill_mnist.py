"""Distillation on MNIST: does a teacher's soft labels let DRR prune LeNet-300-100 further?

Teacher (and the EI baseline): LeNet-300-100 fitted without a regularizer. Students: DRR
LeNet-300-100 at the same α and settings, once on the labels alone and once with ``--teacher``
(the teacher's soft labels at T = 4, weight W = 0.9: the defaults). Settings are those of
``results/mnist_pruning.md``'s DRR scan and ``results/export_lenet.md``'s run: 45k/5k/10k,
batch 500, Adam 1e-3, ≤ 300 epochs regularized + ≤ 100 fine-tuning, stopping window 20,
TAMADE relative δ = 0.01, the quantization step within a 0.5 % loss tolerance, no grid
fine-tuning. Each run is ``mdlkit fit`` (:func:`~mdlkit.recipes.run_fit`) in its own folder
under ``--out``: a finished folder is reused (its settings must match), a started one resumed.
The students run as ``--workers`` processes at once, each with one torch thread.

Reports per run: test accuracy, EI (test error increase over the teacher, in points), nonzero
parameters, CR = parameters / nonzero, the two-part code length and the wall time.

Run: ``MDLKIT_MNIST=…/mnist.npz .venv/bin/python benchmarks/distill_mnist.py [--out DIR]
[--alphas 6e-5,1e-4] [--workers 2]``; writes ``results/distill_mnist.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _publish import cpu_name, publish

from mdlkit.recipes import FitConfig, run_fit
from mdlkit.runs import RunFolder

EI_LIMIT = 0.2  # points: the error increase the question allows


def base_config() -> FitConfig:
    """The fit settings every run shares (MNIST from $MDLKIT_MNIST)."""
    return FitConfig(
        dataset="mnist", model="lenet-300-100", n_train=45000, batch_size=500, lr=1e-3,
        epochs=300, finetune_epochs=100, window=20, prune_mode="relative", tolerance=0.01,
        quant_mode="tolerance", grid_epochs=0, seed=0,
    )  # fmt: skip


def command(config: FitConfig, out: Path) -> str:
    """The ``mdlkit fit`` command line of ``config`` (what differs from fit's defaults)."""
    default = FitConfig()
    options = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in config.to_dict().items()
        if value != getattr(default, name) and name != "mnist_path"
    ]
    return f"mdlkit fit {' '.join(options)} --out {out}"


def fit_once(config: FitConfig, path: Path) -> dict[str, Any]:
    """The run of ``config`` in ``path``: reused if finished, resumed if started, else made.
    Returns its summary (results.json) and its wall time (seconds of the run that finished)."""
    torch.set_num_threads(1)  # one thread per process: the runs share two cores
    folder = RunFolder(path)
    if folder.finished:
        stored = json.loads((path / "config.json").read_text())["runs"]
        if next(iter(stored.values())) != json.loads(json.dumps(config.to_dict())):
            raise SystemExit(f"{path} holds a run with other settings; use a new --out")
    else:
        folder = RunFolder.resume(path) if path.exists() else RunFolder.new(path, kind="fit")
        run_fit(config, folder=folder)
    results = json.loads((path / "results.json").read_text())["runs"]
    return dict(next(iter(results.values())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "distill_mnist")
    parser.add_argument("--alphas", default="6e-5,1e-4", help="DRR strengths, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="students trained at once")
    args = parser.parse_args()
    if not os.environ.get("MDLKIT_MNIST"):
        raise SystemExit("set MDLKIT_MNIST to the MNIST .npz file")
    alphas = [float(a) for a in args.alphas.split(",")]
    load = os.getloadavg()[0]
    started = time.perf_counter()

    teacher_config = replace(base_config(), method="none")
    teacher_path = args.out / "teacher"
    teacher = fit_once(teacher_config, teacher_path)
    students = {
        (alpha, distilled): (
            replace(
                base_config(), method="drr", alpha=alpha,
                teacher=str(teacher_path) if distilled else None,
            ),
            args.out / f"drr-a{alpha:g}{'-teacher' if distilled else ''}",
        )
        for alpha in alphas
        for distilled in (False, True)
    }  # fmt: skip
    # spawn: a fresh interpreter per worker (forking after torch ran can hang its thread pool)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=spawn) as pool:
        futures = {key: pool.submit(fit_once, *job) for key, job in students.items()}
        results = {key: future.result() for key, future in futures.items()}
    wall = time.perf_counter() - started

    base_acc = teacher["test_accuracy"]

    def row(name: str, alpha: str, r: dict[str, Any]) -> tuple[str, float, float]:
        ei = 100 * (base_acc - r["test_accuracy"])
        cr = r["compression_rate"]
        text = (
            f"| {name} | {alpha} | {100 * r['test_accuracy']:.2f} | {ei:+.2f} | "
            f"{r['nonzero']:,} | {cr:.1f} | {r['two_part_bits'] / 1000:.1f} | "
            f"{r['seconds']:.0f} |"
        )
        return text, ei, cr

    lines = [
        "# Distillation on MNIST: DRR LeNet-300-100 with and without a teacher",
        "",
        f"Run by `benchmarks/distill_mnist.py --alphas {args.alphas} --workers {args.workers}` "
        f"({platform.platform()}, {cpu_name()}, torch {torch.__version__}, one torch thread per "
        f"run, {args.workers} runs at once; load average at the start {load:.1f}). Whole "
        f"experiment as timed by this call: {wall / 60:.1f} min (runs reused from an earlier "
        "call count their own recorded time below, not this one); the runs' recorded times "
        f"sum to {(teacher['seconds'] + sum(r['seconds'] for r in results.values())) / 60:.1f} "
        f"min, the students {args.workers} at a time.",
        "",
        f"Teacher = baseline: `{command(teacher_config, teacher_path)}`.",
        f"Students: `{command(students[(alphas[0], True)][0], Path('OUT'))}` — the same "
        "without `--teacher` for the plain students; α as in the table.",
        "",
        "Distillation loss per example, in nats: (1 − W)·CE(y, s) + W·T²·KL(softmax(t/T) ‖ "
        "softmax(s/T)), T = 4, W = 0.9. Every code length codes the TRUE labels (the teacher "
        "is a training aid, not part of the code). EI = teacher's test accuracy − the run's, "
        "in points; CR = parameters / nonzero (biases included).",
        "",
        "| run | α | test acc % | EI (points) | nonzero | CR | two-part kbit | wall s |",
        "|---|---|---|---|---|---|---|---|",
        row("teacher (no regularizer)", "—", teacher)[0],
    ]
    verdicts = []
    best: dict[bool, tuple[float, float] | None] = {False: None, True: None}  # (CR, α)
    for alpha in alphas:
        plain_text, plain_ei, plain_cr = row("DRR", f"{alpha:g}", results[(alpha, False)])
        dist_text, dist_ei, dist_cr = row("DRR + teacher", f"{alpha:g}", results[(alpha, True)])
        lines += [plain_text, dist_text]
        for distilled, ei, cr in ((False, plain_ei, plain_cr), (True, dist_ei, dist_cr)):
            found = best[distilled]
            if ei <= EI_LIMIT and (found is None or cr > found[0]):
                best[distilled] = (cr, alpha)
        both = plain_ei <= EI_LIMIT and dist_ei <= EI_LIMIT
        verdicts.append(
            f"- α = {alpha:g}: CR {plain_cr:.1f} (EI {plain_ei:+.2f}) without the teacher, "
            f"{dist_cr:.1f} (EI {dist_ei:+.2f}) with it: the teacher "
            + (
                ("RAISES" if dist_cr > plain_cr else "does NOT raise")
                + f" the CR at EI ≤ {EI_LIMIT} points ({dist_cr / plain_cr:.2f}×)."
                if both
                else f"cannot be judged at EI ≤ {EI_LIMIT} points (a run exceeds it)."
            )
        )

    def best_text(distilled: bool) -> str:
        found = best[distilled]
        return "no run" if found is None else f"CR {found[0]:.1f} (α = {found[1]:g})"

    plain_best, dist_best = best[False], best[True]
    overall = (
        "the teacher RAISES the best CR within EI ≤ 0.2 points"
        if dist_best is not None and (plain_best is None or dist_best[0] > plain_best[0])
        else "the teacher does NOT raise the best CR within EI ≤ 0.2 points"
    )
    verdicts.append(
        f"- Best CR at EI ≤ {EI_LIMIT} points over the α tried: without the teacher "
        f"{best_text(False)}, with it {best_text(True)}: {overall}."
    )
    lines += ["", "Does the teacher raise the CR at EI ≤ 0.2 points?", "", *verdicts, ""]
    lines.append(
        "One seed per run: differences of a few percent in CR or a tenth of a point in "
        "accuracy are within what another seed could give."
    )
    publish("distill_mnist.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
