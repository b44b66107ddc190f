"""Two-part codes of the whole of tinyshakespeare against their training budget:
results/lm_budget.md and lm_budget.png.

Each run is one ``mdlkit experiment lm-compression`` job (the same plan: d_model 96, 2 blocks,
context 64, Adam 4e-3, batch 8, one training thread) on the whole 1,115,394-byte file, with a
budget of ``tokens`` bytes seen in the regularized phase (epochs = tokens / training bytes, then
one fine-tuning epoch per fifth). Its total (weight file + data range-coded with the decoded
model, decoded back) is set against whole-file xz -9e, PPMd and mdlkit's online mode, measured
in the same run folder. The compute of a run is C = 6 · parameters · bytes trained on (FLOPs,
regularized and fine-tuning epochs; attention and the penalty's own cost left out).

Run: ``.venv/bin/python benchmarks/lm_budget.py --out runs/lm-budget --workers 2`` (budgets
2.5M … 40M bytes, R-L1; about 2 hours on 2 cores; resumable: finished runs are skipped), then
``--publish`` to fit total bytes ≈ a · C^(−b) over the finished runs and write the results file.

Data size (:mod:`lm_budget_data`): ``--prefixes 100000 300000 --tokens 1e7`` codes the first
100 KB and 300 KB with the same budget (and their baselines); ``--publish`` then fits bits per
byte ≈ a · D^b for each code, checks the prefixes' fit on the whole file, fits the joint law
a · D^β_D · T^β_T (checked on a smaller budget's prefixes) and projects where each two-part
curve would pass each baseline (results/lm_budget_data.png).

Width: ``--widths 64 128 --equal-compute --tokens 1e7`` trains other d_model at the compute of
d_model 96 with 10M bytes (each width's budget scaled by the ratio of parameters).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from _publish import RESULTS, cpu_name, publish
from lm_budget_data import (
    CONTEXT,
    D_MODEL,
    data_size_lines,
    joint_lines,
    plot_data_size,
    save_log_plot,
    series,
    train_bytes,
)

from mdlkit.pruning import count_parameters
from mdlkit.recipes.lm_compression import (
    LMCompressionExperiment,
    baselines_job,
    resolve_text_path,
    two_part_job,
)
from mdlkit.runs import RunFolder
from mdlkit.sweeps import open_sweep, run_jobs

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "tinyshakespeare.txt"


def _experiment(data: str, tokens: int, context: int = CONTEXT) -> LMCompressionExperiment:
    # max_epochs 256: a short prefix gets its whole budget too (the whole file needs ≤ 45 epochs)
    exp = LMCompressionExperiment(data)
    return replace(exp, tokens=tokens, max_epochs=256, prefixes=(0,), context=context)


def run_key(
    method: str, tokens: int, prefix: int, d_model: int = D_MODEL, context: int = CONTEXT
) -> str:
    """``<method>-<tokens>`` for the whole file at the default width and context, then
    ``-d<width>`` for another width, ``-c<bytes>`` for another context, ``-p<bytes>`` for a
    prefix."""
    width = f"-d{d_model}" if d_model != D_MODEL else ""
    ctx = f"-c{context}" if context != CONTEXT else ""
    return f"{method}-{tokens}{width}{ctx}" + (f"-p{prefix}" if prefix else "")


def run(
    out: Path,
    tokens: list[int],
    methods: list[str],
    workers: int,
    prefixes: list[int],
    widths: list[int],
    equal_compute: bool = False,
    context: int = CONTEXT,
) -> None:
    """Every (method, budget, width, prefix) run and each prefix's baselines, into the run
    folder ``out`` (prefix 0: the whole file). With ``equal_compute`` a width's budget is
    scaled by parameters(d_model 96) / parameters(width), so every width costs the same C."""
    path = resolve_text_path(str(TEXT) if TEXT.is_file() else None)
    text = path.read_bytes()
    folder = RunFolder.resume(out) if (out / "config.json").is_file() else RunFolder(out)
    ppmd_orders = LMCompressionExperiment(str(path)).ppmd_orders
    # (training bytes, width) of every run: the same for every prefix
    plans = [(budget, d) for budget, d in itertools.product(tokens, widths)]
    if equal_compute:
        params = {d: _params(path, d, context) for d in {D_MODEL, *widths}}
        plans = [(round(b * params[D_MODEL] / params[d]), d) for b, d in plans]
    tasks = []
    for prefix in prefixes:
        data = text[:prefix] if prefix else text
        key = "baselines" + (f"-p{prefix}" if prefix else "")
        tasks.append((key, baselines_job, (data, ppmd_orders, True)))
        for t, d in plans:
            exp = _experiment(str(path), t, context)
            tasks += [
                (run_key(m, t, prefix, d, context), two_part_job, (exp, data, m, d, None))
                for m in methods
            ]
    config = {"benchmark": "lm_budget", "data": str(path), "d_model": D_MODEL}
    with open_sweep(folder, config, {"workers": workers}) as executor:
        run_jobs(folder, tasks, executor)


def _params(path: Path, d_model: int, context: int = CONTEXT) -> int:
    """Parameters of the byte transformer of this width and context (the plan's other
    settings; the position embedding grows with the context)."""
    exp = replace(LMCompressionExperiment(str(path)), context=context)
    spec = exp.plan(1 << 20, "l1", d_model).spec()
    return count_parameters(spec.build())


def compute_flops(record: dict) -> float:
    """C = 6 · parameters · bytes trained on (regularized + fine-tuning epochs)."""
    epochs = record["epochs"] + record.get("finetune_epochs", 0)
    return 6.0 * record["n_params"] * epochs * train_bytes(record)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/lm-budget", help="run folder (resumed)")
    parser.add_argument("--tokens", type=float, nargs="+", default=[2.5e6, 5e6, 1e7, 2e7, 4e7],
                        help="training budgets: bytes seen in the regularized phase")  # fmt: skip
    parser.add_argument("--methods", nargs="+", default=["l1"], help="drr | l1 | pmmp | none")
    parser.add_argument("--workers", type=int, default=1, help="runs at once (local processes)")
    parser.add_argument("--prefixes", type=int, nargs="+", default=[0],
                        help="bytes of the file to code (0: all of it)")  # fmt: skip
    parser.add_argument("--widths", type=int, nargs="+", default=[D_MODEL],
                        help="d_model of the runs (2 blocks)")  # fmt: skip
    parser.add_argument("--context", type=int, default=CONTEXT,
                        help="bytes of context of the runs (default 64)")  # fmt: skip
    parser.add_argument("--equal-compute", action="store_true",
                        help="scale each width's budget to d_model 96's compute")  # fmt: skip
    parser.add_argument("--publish", action="store_true", help="write the results file")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.publish:
        tokens = [int(t) for t in args.tokens]
        run(out, tokens, args.methods, args.workers, args.prefixes, args.widths,
            args.equal_compute, args.context)  # fmt: skip
        return 0
    return _publish_folder(out)


def _publish_folder(out: Path) -> int:
    records = {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}
    baselines = {
        int(key.partition("-p")[2] or 0): r for key, r in records.items() if key.startswith("base")
    }
    if 0 not in baselines:
        print(f"no whole-file baselines in {out}: run it with --prefixes 0 first", file=sys.stderr)
        return 2
    base = baselines[0]
    sizes = base["sizes"]
    every = []
    for key, r in records.items():
        if key.startswith("base"):
            continue
        _, tokens, *rest = key.split("-")  # see run_key
        prefix = [int(part[1:]) for part in rest if part.startswith("p")]
        r["tokens"], r["prefix"] = int(tokens), prefix[0] if prefix else 0
        every.append(r)
    runs = sorted(
        (r for r in every if r["prefix"] == 0), key=lambda r: (series(r), compute_flops(r))
    )
    if not runs:
        print("no finished runs in", out, file=sys.stderr)
        return 2
    lines = [
        "# Two-part codes of tinyshakespeare against the training budget",
        "",
        f"Machine: {platform.machine()}, {cpu_name()}, 2 cores shared with other jobs. "
        f"Command: `.venv/bin/python benchmarks/lm_budget.py --out {out} --tokens "
        f"{' '.join(f'{t:g}' for t in sorted({r['tokens'] for r in every}))} --methods "
        f"{' '.join(sorted({r['method'] for r in runs}))} --widths "
        f"{' '.join(str(d) for d in sorted({r['d_model'] for r in every}))} --context "
        f"{' '.join(str(c) for c in sorted({r['plan']['context'] for r in every}))} --prefixes "
        f"{' '.join(str(n) for n in sorted({r['prefix'] for r in every}))}` (each budget, "
        "width, context and prefix in turn, as they were run) then `--publish`. "
        f"Data: the whole file, {base['length']:,} bytes; d_model {D_MODEL} unless the "
        "row says otherwise, 2 blocks, "
        f"context {CONTEXT} unless the row says otherwise, batch 8, one training thread per run.",
        "",
        "| method | d_model | context | tokens | epochs | C (TFLOP) | train min | nonzero | "
        "model B | data B | total B | test bits/byte | decoded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['method']} | {r['d_model']} | {r['plan']['context']} | {r['tokens']:,} | "
            f"{r['epochs']}+{r.get('finetune_epochs', 0)} | {compute_flops(r) / 1e12:.1f} | "
            f"{r['train_seconds'] / 60:.1f} | {r['nonzero']:,} | {r['model_bytes']:,} | "
            f"{r['data_bits'] / 8:,.0f} | {r['total_bits'] / 8:,.0f} | "
            f"{r['test_bits_per_byte']:.3f} | {'yes' if r['decoded'] else 'NO'} |"
        )
    lines += ["", "Baselines (whole file, same run folder):", ""]
    lines += [f"- {b['label']}: {b['bytes']:,} B" for b in sizes.values()]
    lines += ["", *_fits(runs, sizes), *_width_lines(runs)]
    lines += data_size_lines(every, baselines)
    lines += joint_lines(every, baselines)
    text = "\n".join(lines) + "\n"
    publish("lm_budget.md", text)
    _plot(runs, sizes, RESULTS / "lm_budget.png")
    plot_data_size(every, baselines, RESULTS / "lm_budget_data.png")
    return 0


def _power_law(runs: list[dict]) -> tuple[float, float]:
    """(log a, −b) of total bytes ≈ a · C^(−b), least squares in log–log space."""
    c = np.log([compute_flops(r) for r in runs])
    t = np.log([r["total_bits"] / 8 for r in runs])
    slope, intercept = np.polyfit(c, t, 1)
    return float(intercept), float(slope)


def _fits(runs: list[dict], sizes: dict) -> list[str]:
    """Per method: the power law fitted without the largest budget and its prediction of it
    (the check of a projected point), then the fit over every budget and the compute at which
    it would reach each baseline (an extrapolation, stated as such)."""
    lines = []
    for method in sorted({series(r) for r in runs}):
        mine = [r for r in runs if series(r) == method]
        if len(mine) < 3:
            continue
        last = mine[-1]
        intercept, slope = _power_law(mine[:-1])
        predicted = math.exp(intercept + slope * math.log(compute_flops(last)))
        measured = last["total_bits"] / 8
        lines.append(
            f"Check ({method}): fitted on the {len(mine) - 1} smaller budgets, total ≈ "
            f"{math.exp(intercept):.4g} · C^({slope:.4f}); at the largest budget it predicts "
            f"{predicted:,.0f} B, measured {measured:,.0f} B ({predicted / measured - 1:+.1%})."
        )
        intercept, slope = _power_law(mine)
        seconds_per_flop = last["train_seconds"] / compute_flops(last)
        lines.append(
            f"Fit ({method}, all {len(mine)} budgets): total ≈ {math.exp(intercept):.4g} · "
            f"C^({slope:.4f})."
        )
        for b in sizes.values():
            if slope >= 0:
                lines.append(f"- {b['label']}: never reached on this fit (it does not fall)")
                continue
            c_pass = math.exp((math.log(b["bytes"]) - intercept) / slope)
            hours = c_pass * seconds_per_flop / 3600
            lines.append(
                f"- {b['label']} ({b['bytes']:,} B): reached at C ≈ {c_pass / 1e12:,.1f} TFLOP "
                f"({c_pass / compute_flops(last):.3g}× the largest budget; about {hours:,.1f} "
                "hours of training at its measured speed)"
            )
    return lines


def _width_lines(runs: list[dict]) -> list[str]:
    """Which width the fitted laws favour at a given compute: each series of one method with
    three budgets or more, compared at the smallest, middle and largest measured compute and
    at 10× the largest (an extrapolation)."""
    laws, ranges = {}, {}
    for name in sorted({series(r) for r in runs}):
        mine = [r for r in runs if series(r) == name]
        if len(mine) >= 3:
            laws[name] = _power_law(mine)
            ranges[name] = (compute_flops(mine[0]), compute_flops(mine[-1]))
    if len(laws) < 2:
        return []
    flops = sorted(compute_flops(r) for r in runs)
    lines = ["", "Sizing by the fitted laws (total bytes at the same compute; lowest first):", ""]
    for c in (flops[0], flops[len(flops) // 2], flops[-1], 10 * flops[-1]):
        totals = sorted((math.exp(a + b * math.log(c)), name) for name, (a, b) in laws.items())
        ranked = ", ".join(
            f"{name} {total:,.0f} B" + ("" if ranges[name][0] <= c <= ranges[name][1] else "*")
            for total, name in totals
        )
        lines.append(f"- C = {c / 1e12:,.1f} TFLOP: {ranked}")
    lines.append("")
    lines.append("*: outside the compute that series was measured at (its law extrapolated).")
    return lines


def _plot(runs: list[dict], sizes: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, method in enumerate(sorted({series(r) for r in runs})):
        mine = [r for r in runs if series(r) == method]
        ax.plot([compute_flops(r) for r in mine], [r["total_bits"] / 8 for r in mine], "o",
                color=f"C{i}", label=f"two-part ({method}), measured")  # fmt: skip
        if len(mine) >= 2:
            intercept, slope = _power_law(mine)
            c = np.geomspace(compute_flops(mine[0]), 1e3 * compute_flops(mine[-1]), 50)
            ax.plot(c, np.exp(intercept + slope * np.log(c)), ":", color=f"C{i}",
                    label=f"its fit a·C^({slope:.3f}), extrapolated")  # fmt: skip
    baseline_colors = ["black", "dimgray", "darkgoldenrod", "darkcyan"]
    for i, b in enumerate(sizes.values()):
        ax.axhline(b["bytes"], ls="--", lw=0.8, color=baseline_colors[i % 4], label=b["label"])
    save_log_plot(fig, ax, "training compute C = 6·N·D (FLOP)", "bytes", path)


if __name__ == "__main__":
    raise SystemExit(main())
