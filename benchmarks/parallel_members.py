"""Ensemble members trained at once: one block's fit of the Blier & Ollivier main learner
(a 32-channel CNN, two members, one torch thread each) with ``workers`` 1 and 2, interleaved.

The pool of worker processes starts once (timed apart: each process imports torch and mdlkit);
then each round fits the same block with 1 and 2 workers (order alternating) and checks that
every weight is bit-identical. The machine's cores may be shared with other jobs: the load
average at the start and end is printed beside the times.

Run: ``MDLKIT_MNIST=… .venv/bin/python benchmarks/parallel_members.py [--seen 1280]
[--rounds 3]``; writes ``results/parallel_members.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
from _publish import cpu_name, publish

from mdlkit.codes import TorchLearner
from mdlkit.recipes.blier_ollivier import BlierOllivierExperiment

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and its live children (the
    pool's workers), read from /proc; NaN where there is no /proc."""
    me, tick, total = os.getpid(), os.sysconf("SC_CLK_TCK"), 0.0
    try:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended meanwhile
            pid = int(stat.parent.name)
            if pid == me or int(fields[1]) == me:  # fields[1]: the parent's pid
                total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    except OSError:
        return float("nan")
    return total


def fit_seconds(
    learner: TorchLearner, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, float, dict[str, torch.Tensor]]:
    """Wall and CPU seconds of one fit (block 1, from scratch) on (x, y), and its weights."""
    start, cpu = time.perf_counter(), cpu_seconds()
    fitted = learner.fit(x, y, None, 1)
    wall = time.perf_counter() - start
    return wall, cpu_seconds() - cpu, fitted.model.state_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seen", type=int, default=1280, help="labels seen by the fit")
    parser.add_argument("--rounds", type=int, default=3, help="fits per worker count")
    args = parser.parse_args()
    torch.set_num_threads(1)
    exp = BlierOllivierExperiment(
        os.environ.get("MDLKIT_MNIST", str(SHARED)), n=args.seen, members=2, threads=1
    )
    x, y, _, k = exp.data()
    serial = exp.learners(x.shape[-1], k)[1]
    parallel = replace(serial, workers=2)
    load_before = os.getloadavg()
    start = time.perf_counter()
    parallel.fit(x[:20], y[:20], None, 1)  # starts the pool
    pool_start = time.perf_counter() - start
    times: dict[int, list[float]] = {1: [], 2: []}
    cores: dict[int, list[float]] = {1: [], 2: []}
    weights: dict[int, list[dict[str, torch.Tensor]]] = {1: [], 2: []}
    for r in range(args.rounds):
        for learner in (serial, parallel) if r % 2 == 0 else (parallel, serial):
            seconds, cpu, state = fit_seconds(learner, x, y)
            times[learner.workers].append(seconds)
            cores[learner.workers].append(cpu / seconds)
            weights[learner.workers].append(state)
            print(f"round {r + 1}, workers {learner.workers}: {seconds:.1f} s", flush=True)
    load_after = os.getloadavg()
    reference = weights[1][0]
    identical = all(
        all(torch.equal(w[name], reference[name]) for name in reference)
        for w in weights[1] + weights[2]
    )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    rows = [
        f"| {w} | {', '.join(f'{s:.1f}' for s in times[w])} | {statistics.median(times[w]):.1f} "
        f"| {', '.join(f'{c:.2f}' for c in cores[w])} |"
        for w in (1, 2)
    ]
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    grouped = autogroup.is_file() and autogroup.read_text().strip() == "1"
    text = (
        f"# Two ensemble members trained at once (one block, {args.seen:,} MNIST labels seen)\n\n"
        f"The Blier & Ollivier main learner ({exp.channels}-channel CNN, shifts, replay, "
        f"temperature mixture; epochs ≤ {exp.epochs}, stopping window {exp.window}), "
        "members=2, threads=1, one fit of block 1 from scratch, repeated with workers 1 and 2 in "
        f"alternating order. Machine: {cpu_name()}, {os.cpu_count()} cores shared with other "
        f"jobs (load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end), "
        f"torch {torch.__version__}. Command: `.venv/bin/python benchmarks/parallel_members.py "
        f"--seen {args.seen} --rounds {args.rounds}`\n\n"
        "| workers | seconds per fit | median | cores used (CPU s / wall s, with the workers) |\n"
        "|---:|---|---:|---|\n" + "\n".join(rows) + "\n\n"
        f"Median speed-up of 2 workers: {one / two:.2f}×. Every fit's weights bit-identical "
        f"(torch.equal on every tensor): {identical}. Starting the pool of 2 processes (once "
        f"per program): {pool_start:.1f} s. The kernel's autogroup scheduling is "
        f"{'on' if grouped else 'off'}"
        + (
            " (the processes of one session share one session's CPU share, so on a loaded "
            "machine a second worker process need not add cores)"
            if grouped
            else ""
        )
        + ".\n"
    )
    publish("parallel_members.md", text)


if __name__ == "__main__":
    main()
