"""Online learners' settings on a prefix of MNIST: the prequential code of the first N labels
(10,240 by default) under the Blier & Ollivier experiment's main learner, once per variant.

A study to choose settings before a full run (which decodes every stream back): here each code
is encoded, not decoded; the length is the range coder's stream (32-bit words) and the ideal
Σ −log2 p beside it. Each finished variant is kept in ``--rows`` so a killed run resumes.

Run: ``MDLKIT_MNIST=… .venv/bin/python benchmarks/online_learners.py
[--variants "base;anneal=1"] [--n 10240]``; writes ``results/online_learners.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _publish import cpu_name, publish

from mdlkit.codes import doubling_schedule, prequential_code
from mdlkit.heads import evaluate
from mdlkit.recipes.blier_ollivier import BlierOllivierExperiment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
VARIANTS = "base;anneal=1;anneal=1,anneal_from=2560;anneal=1,anneal_from=2560,members=2"


def overrides(variant: str) -> dict[str, int]:
    """``"anneal=1,members=2,workers=2"`` → {"anneal": 1, "members": 2, "workers": 2};
    ``"base"`` → {}."""
    if variant == "base":
        return {}
    return {k: int(v) for k, v in (part.split("=") for part in variant.split(","))}


def run(exp: BlierOllivierExperiment, variant: str) -> dict[str, Any]:
    """The prequential code of the experiment's main learner with ``variant``'s settings."""
    exp = replace(exp, **overrides(variant))  # type: ignore[arg-type]
    x, y, test, k = exp.data()
    learner = exp.learners(x.shape[-1], k)[1]
    blocks: list[float] = []
    start = time.perf_counter()

    def on_block(i: int, a: int, b: int, bits: float) -> None:
        blocks.append(bits)
        print(f"{variant}: block {i} [{a}, {b}) {bits:.1f} bits", flush=True)

    code = prequential_code(x, y, k, learner, doubling_schedule(len(y), 10), on_block=on_block)
    seconds = time.perf_counter() - start
    last = code.fitted[-1]
    accuracy = evaluate(last.model, test).accuracy if last is not None else float("nan")
    assert code.encoded is not None
    return {
        "variant": variant,
        "words": hashlib.sha256(code.encoded.words.tobytes()).hexdigest()[:16],
        "blocks": blocks,
        "ideal": sum(blocks),
        "stream": 32 * len(code.encoded.words),
        "seconds": seconds,
        "accuracy": accuracy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10240, help="the first N labels")
    parser.add_argument("--variants", default=VARIANTS, help="';'-separated, e.g. anneal=1")
    parser.add_argument("--rows", default="runs/online_learners.jsonl", help="finished rows")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default="online_learners.md", help="results/ file name")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    exp = BlierOllivierExperiment(os.environ.get("MDLKIT_MNIST", str(SHARED)), n=args.n)
    rows_path = Path(args.rows)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if rows_path.is_file():
        done = {r["variant"]: r for r in map(json.loads, rows_path.read_text().splitlines())}
    rows = []
    for variant in args.variants.split(";"):
        if variant not in done:
            done[variant] = run(exp, variant)
            with rows_path.open("a") as f:
                f.write(json.dumps(done[variant]) + "\n")
        rows.append(done[variant])
    base = rows[0]["ideal"]
    lines = [
        "| variant | bits per block | ideal bits | stream bits | stream SHA-256 | vs first row "
        "| test acc. % | s |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        per_block = ", ".join(f"{b:.0f}" for b in r["blocks"])
        lines.append(
            f"| {r['variant']} | {per_block} | {r['ideal']:,.1f} | {r['stream']:,} | "
            f"{r.get('words', '–')} | "
            f"{100 * (r['ideal'] / base - 1):+.1f} % | {100 * r['accuracy']:.2f} | "
            f"{r['seconds']:.0f} |"
        )
    settings = {k: v for k, v in vars(exp).items() if k != "mnist_path"}
    text = (
        f"# Online learners on the first {args.n:,} MNIST labels (prequential code)\n\n"
        f"Base settings: {settings}; the main learner (a {exp.channels}-channel CNN, continued "
        "training with replay, shifts, temperature mixture). Machine: "
        f"{cpu_name()}, {os.cpu_count()} cores shared with other jobs, torch "
        f"{torch.__version__}, {args.threads} torch thread(s); seconds carry that load. "
        f"Command: `.venv/bin/python benchmarks/online_learners.py --n {args.n} "
        f'--threads {args.threads} --variants "{args.variants}" --out {args.out}`\n\n'
        "Encoded only (a full run decodes every stream back); 'stream bits' is the range "
        "coder's output, 32-bit words. 'anneal=1': after early stopping one more phase at a "
        "tenth of the learning rate; 'anneal_from': only once that many labels are seen; "
        "'members=2': two networks' probabilities averaged; 'threads=1': each network trains "
        "with one torch thread; 'workers=2': the members train at once in two processes (the "
        "stream's SHA-256, first 16 hex digits, shows whether two rows wrote the same bits); "
        "'rotate=R,scale=S': the shifted training images also rotated by up to R degrees and "
        "scaled by up to S %. Test accuracy: the last block's model on the 10,000 test "
        "images.\n\n" + "\n".join(lines) + "\n"
    )
    publish(args.out, text)


if __name__ == "__main__":
    main()
