"""Blier & Ollivier's MNIST table at mdlkit's best settings: runs (or resumes) ``mdlkit
experiment blier-ollivier`` and publishes its table, bits per block and the plot.

Needs the MNIST file (``MDLKIT_MNIST`` or ../shared/data/mnist.npz).
Run: ``.venv/bin/python benchmarks/blier_ollivier.py [--out DIR] [--n N] [--model vgg-cnn]``;
writes ``results/blier_ollivier.md`` and ``results/blier_ollivier.png``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
from _publish import RESULTS, cpu_name, publish

from mdlkit.recipes.blier_ollivier import BlierOllivierExperiment, run_blier_ollivier
from mdlkit.runs import RunFolder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/blier-ollivier", help="run folder (resumed)")
    parser.add_argument("--n", type=int, default=None, help="the first N labels (default all)")
    parser.add_argument("--model", default="small-cnn", choices=["small-cnn", "vgg-cnn"])
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=100, help="online learners' epoch cap")
    parser.add_argument("--window", type=int, default=20, help="their early-stopping window")
    parser.add_argument("--members", type=int, default=1, help="networks averaged per block")
    parser.add_argument("--anneal", type=int, default=0, help="phases at lr / 10 per block")
    parser.add_argument("--anneal-from", type=int, default=0, help="labels seen before annealing")
    parser.add_argument("--workers", type=int, default=None, help="processes running the rows")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per network")
    parser.add_argument("--rotate", type=int, default=0, help="training images rotated ± degrees")
    parser.add_argument("--scale", type=int, default=0, help="training images scaled ± percent")
    parser.add_argument(
        "--member-workers", type=int, default=1, help="processes training --members at once"
    )
    args = parser.parse_args()
    path = os.environ.get("MDLKIT_MNIST", str(SHARED))
    exp = BlierOllivierExperiment(
        path,
        n=args.n,
        model=args.model,
        channels=args.channels,
        epochs=args.epochs,
        window=args.window,
        members=args.members,
        anneal=args.anneal,
        anneal_from=args.anneal_from,
        rotate=args.rotate,
        scale=args.scale,
        threads=args.threads,
        workers=args.member_workers,
    )
    start = time.perf_counter()
    out = Path(args.out)
    folder = RunFolder.resume(out) if (out / "config.json").is_file() else RunFolder(out)
    table = run_blier_ollivier(exp, folder, progress=True, workers=args.workers)
    wall = time.perf_counter() - start
    settings = {k: v for k, v in asdict(exp).items() if k != "mnist_path"}
    text = (
        "# Blier & Ollivier's MNIST table, mdlkit's codes\n\n"
        f"Settings: {settings}. Machine: {cpu_name()} ({platform.machine()}), "
        f"{os.cpu_count()} cores, torch {torch.__version__}. Wall time of this call: "
        f"{wall / 60:.1f} min (a resumed run counts only what was left). Command: "
        f"`.venv/bin/python benchmarks/blier_ollivier.py --model {args.model} "
        f"--channels {args.channels} --epochs {args.epochs} --window {args.window} "
        f"--members {args.members} --anneal {args.anneal} --anneal-from {args.anneal_from}"
        + (f" --rotate {args.rotate}" if args.rotate else "")
        + (f" --scale {args.scale}" if args.scale else "")
        + (f" --threads {args.threads}" if args.threads is not None else "")
        + (f" --member-workers {args.member_workers}" if args.member_workers > 1 else "")
        + "`"
        "\n\n" + table
    )
    publish("blier_ollivier.md", text)
    shutil.copy(Path(args.out) / "bits_per_block.png", RESULTS / "blier_ollivier.png")


if __name__ == "__main__":
    main()
