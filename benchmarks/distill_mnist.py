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


Variant = tuple[float, float] | None
"""(T, W) of a distilled student; None: no teacher."""


def variant_name(variant: Variant) -> str:
    if variant is None:
        return "DRR"
    return f"DRR + teacher (T = {variant[0]:g}, W = {variant[1]:g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "distill_mnist")
    parser.add_argument("--alphas", default="6e-5,1e-4", help="DRR strengths, comma-separated")
    parser.add_argument(
        "--teachers", default="4:0.9", help="T:W of the distilled students, comma-separated"
    )
    parser.add_argument("--workers", type=int, default=2, help="students trained at once")
    args = parser.parse_args()
    if not os.environ.get("MDLKIT_MNIST"):
        raise SystemExit("set MDLKIT_MNIST to the MNIST .npz file")
    alphas = [float(a) for a in args.alphas.split(",")]
    variants: list[Variant] = [None]
    variants += [(float(t), float(w)) for t, w in (v.split(":") for v in args.teachers.split(","))]
    load = os.getloadavg()[0]
    started = time.perf_counter()

    teacher_config = replace(base_config(), method="none")
    teacher_path = args.out / "teacher"
    teacher = fit_once(teacher_config, teacher_path)

    def student(alpha: float, variant: Variant) -> tuple[FitConfig, Path]:
        config = replace(base_config(), method="drr", alpha=alpha)
        if variant is None:
            return config, args.out / f"drr-a{alpha:g}"
        t, w = variant
        # the defaults' folder is named -teacher (runs of earlier calls are reused)
        suffix = "" if (t, w) == (4.0, 0.9) else f"-T{t:g}-W{w:g}"
        config = replace(config, teacher=str(teacher_path), temperature=t, teacher_weight=w)
        return config, args.out / f"drr-a{alpha:g}-teacher{suffix}"

    students = {(alpha, v): student(alpha, v) for alpha in alphas for v in variants}
    # spawn: a fresh interpreter per worker (forking after torch ran can hang its thread pool)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=spawn) as pool:
        futures = {key: pool.submit(fit_once, *job) for key, job in students.items()}
        results = {key: future.result() for key, future in futures.items()}
    wall = time.perf_counter() - started

    base_acc = teacher["test_accuracy"]

    def figures(r: dict[str, Any]) -> tuple[float, float]:
        """(EI in points, CR)"""
        return 100 * (base_acc - r["test_accuracy"]), r["compression_rate"]

    def row(name: str, alpha: str, r: dict[str, Any]) -> str:
        ei, cr = figures(r)
        return (
            f"| {name} | {alpha} | {100 * r['test_accuracy']:.2f} | {ei:+.2f} | "
            f"{r['nonzero']:,} | {cr:.1f} | {r['two_part_bits'] / 1000:.1f} | "
            f"{r['seconds']:.0f} |"
        )

    first = students[(alphas[0], variants[1])][0] if len(variants) > 1 else None
    lines = [
        "# Distillation on MNIST: DRR LeNet-300-100 with and without a teacher",
        "",
        f"Run by `benchmarks/distill_mnist.py --alphas {args.alphas} --teachers {args.teachers} "
        f"--workers {args.workers}` ({platform.platform()}, {cpu_name()}, torch "
        f"{torch.__version__}, one torch thread per run, {args.workers} runs at once, on a "
        f"machine shared with other work; load average at the start of this call {load:.1f}). "
        f"This call took {wall / 60:.1f} min; runs reused from earlier calls count their own "
        "recorded time in the table. The runs' recorded times sum to "
        f"{(teacher['seconds'] + sum(r['seconds'] for r in results.values())) / 60:.1f} min.",
        "",
        f"Teacher = baseline: `{command(teacher_config, teacher_path)}`.",
        *(
            [
                f"Students: `{command(first, Path('OUT'))}` — the same without `--teacher` for "
                "the plain students; α, T (`--temperature`) and W (`--teacher-weight`) as in "
                "the table."
            ]
            if first is not None
            else []
        ),
        "",
        "Distillation loss per example, in nats: (1 − W)·CE(y, s) + W·T²·KL(softmax(t/T) ‖ "
        "softmax(s/T)); fit's defaults are T = 4, W = 0.9. Every code length codes the TRUE "
        "labels (the teacher is a training aid, not part of the code). EI = teacher's test "
        "accuracy − the run's, in points; CR = parameters / nonzero (biases included).",
        "",
        "| run | α | test acc % | EI (points) | nonzero | CR | two-part kbit | wall s |",
        "|---|---|---|---|---|---|---|---|",
        row("teacher (no regularizer)", "—", teacher),
    ]
    for alpha in alphas:
        lines += [row(variant_name(v), f"{alpha:g}", results[(alpha, v)]) for v in variants]

    verdicts = []
    for v in variants[1:]:
        for alpha in alphas:
            (plain_ei, plain_cr), (ei, cr) = (
                figures(results[(alpha, None)]),
                figures(results[(alpha, v)]),
            )
            if cr > plain_cr and ei <= EI_LIMIT:
                verdict = f"RAISES the CR at EI ≤ {EI_LIMIT} points"
            elif cr > plain_cr:
                verdict = f"raises the CR, but only at EI > {EI_LIMIT} points"
            else:
                verdict = "does NOT raise the CR"
            verdicts.append(
                f"- α = {alpha:g}, {variant_name(v)}: CR {cr:.1f} (EI {ei:+.2f}) vs {plain_cr:.1f} "
                f"(EI {plain_ei:+.2f}) without the teacher ({cr / plain_cr:.2f}×): the teacher "
                f"{verdict}."
            )

    def best(v: Variant) -> tuple[float, float] | None:
        """The highest CR within EI ≤ EI_LIMIT over the α tried, and its α."""
        within = [(figures(results[(a, v)])[1], a) for a in alphas
                  if figures(results[(a, v)])[0] <= EI_LIMIT]  # fmt: skip
        return max(within) if within else None

    def best_text(v: Variant) -> str:
        found = best(v)
        return "no run" if found is None else f"CR {found[0]:.1f} (α = {found[1]:g})"

    plain_best = best(None)
    for v in variants[1:]:
        dist_best = best(v)
        raises = dist_best is not None and (plain_best is None or dist_best[0] > plain_best[0])
        verdicts.append(
            f"- Best CR at EI ≤ {EI_LIMIT} points over the α tried: {best_text(None)} without "
            f"the teacher, {best_text(v)} with it ({variant_name(v)}): the teacher "
            f"{'RAISES' if raises else 'does NOT raise'} the best CR within EI ≤ {EI_LIMIT}."
        )
    lines += ["", f"Does the teacher raise the CR at EI ≤ {EI_LIMIT} points?", "", *verdicts, ""]
    lines.append(
        "One seed per run: differences of a few percent in CR or a tenth of a point in "
        "accuracy are within what another seed could give."
    )
    publish("distill_mnist.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
