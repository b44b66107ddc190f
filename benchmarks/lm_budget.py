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

Data size: ``--prefixes 100000 300000 --tokens 1e7`` codes the first 100 KB and 300 KB with the
same budget (and their baselines); ``--publish`` then fits bits per byte ≈ a · D^(−b) for each
code over the prefixes and the whole file, checks the fit of the prefixes on the whole file, and
projects the length at which each two-part curve would cross each baseline's
(results/lm_budget_data.png).
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

from mdlkit.recipes.lm_compression import (
    LMCompressionExperiment,
    baselines_job,
    resolve_text_path,
    two_part_job,
)
from mdlkit.runs import RunFolder
from mdlkit.sweeps import open_sweep, run_jobs

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "tinyshakespeare.txt"
D_MODEL = 96


def _experiment(data: str, tokens: int) -> LMCompressionExperiment:
    # max_epochs 256: a short prefix gets its whole budget too (the whole file needs ≤ 45 epochs)
    return replace(LMCompressionExperiment(data), tokens=tokens, max_epochs=256, prefixes=(0,))


def run_key(method: str, tokens: int, prefix: int, d_model: int = D_MODEL) -> str:
    """``<method>-<tokens>`` for the whole file at the default width, ``-d<width>`` after it
    for another width, ``-p<bytes>`` for a prefix."""
    width = f"-d{d_model}" if d_model != D_MODEL else ""
    return f"{method}-{tokens}{width}" + (f"-p{prefix}" if prefix else "")


def series(r: dict) -> str:
    """A run's curve: its method, and its width where not the default."""
    return r["method"] + (f" d{r['d_model']}" if r["d_model"] != D_MODEL else "")


def run(
    out: Path,
    tokens: list[int],
    methods: list[str],
    workers: int,
    prefixes: list[int],
    widths: list[int],
    equal_compute: bool = False,
) -> None:
    """Every (method, budget, width, prefix) run and each prefix's baselines, into the run
    folder ``out`` (prefix 0: the whole file). With ``equal_compute`` a width's budget is
    scaled by parameters(d_model 96) / parameters(width), so every width costs the same C."""
    path = resolve_text_path(str(TEXT) if TEXT.is_file() else None)
    text = path.read_bytes()
    folder = RunFolder.resume(out) if (out / "config.json").is_file() else RunFolder(out)
    ppmd_orders = LMCompressionExperiment(str(path)).ppmd_orders
    tasks = []
    for prefix in prefixes:
        data = text[:prefix] if prefix else text
        key = "baselines" + (f"-p{prefix}" if prefix else "")
        tasks.append((key, baselines_job, (data, ppmd_orders, True)))
        for budget, d in itertools.product(tokens, widths):
            t = (
                round(budget * _params(path, D_MODEL) / _params(path, d))
                if equal_compute
                else budget
            )
            exp = _experiment(str(path), t)
            tasks += [
                (run_key(m, t, prefix, d), two_part_job, (exp, data, m, d, None)) for m in methods
            ]
    config = {"benchmark": "lm_budget", "data": str(path), "d_model": D_MODEL}
    with open_sweep(folder, config, {"workers": workers}) as executor:
        run_jobs(folder, tasks, executor)


def _params(path: Path, d_model: int) -> int:
    """Parameters of the byte transformer of this width (the plan's other settings)."""
    spec = LMCompressionExperiment(str(path)).plan(1 << 20, "l1", d_model).spec()
    return sum(p.numel() for p in spec.build().parameters())


def compute_flops(record: dict) -> float:
    """C = 6 · parameters · bytes trained on (regularized + fine-tuning epochs)."""
    plan = record["plan"]
    n_train = round(record["length"] * (1 - plan["val_fraction"] - plan["test_fraction"]))
    epochs = record["epochs"] + record.get("finetune_epochs", 0)
    return 6.0 * record["n_params"] * epochs * n_train


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
                        help="d_model of the runs (2 blocks, context 64)")  # fmt: skip
    parser.add_argument("--equal-compute", action="store_true",
                        help="scale each width's budget to d_model 96's compute")  # fmt: skip
    parser.add_argument("--publish", action="store_true", help="write the results file")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.publish:
        tokens = [int(t) for t in args.tokens]
        run(out, tokens, args.methods, args.workers, args.prefixes, args.widths, args.equal_compute)
        return 0
    return _publish_folder(out)


def _publish_folder(out: Path) -> int:
    records = {p.stem: json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))}
    baselines = {
        int(key.partition("-p")[2] or 0): r for key, r in records.items() if key.startswith("base")
    }
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
        f"{' '.join(str(d) for d in sorted({r['d_model'] for r in every}))} --prefixes "
        f"{' '.join(str(n) for n in sorted({r['prefix'] for r in every}))}` (each budget, "
        "width and prefix in turn, as they were run) then `--publish`. "
        f"Data: the whole file, {base['length']:,} bytes; d_model {D_MODEL} unless the "
        "row says otherwise, 2 blocks, "
        "context 64, batch 8, one training thread per run.",
        "",
        "| method | d_model | tokens | epochs | C (TFLOP) | train min | nonzero | model B | "
        "data B | total B | test bits/byte | decoded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['method']} | {r['d_model']} | {r['tokens']:,} | "
            f"{r['epochs']}+{r.get('finetune_epochs', 0)} | {compute_flops(r) / 1e12:.1f} | "
            f"{r['train_seconds'] / 60:.1f} | {r['nonzero']:,} | {r['model_bytes']:,} | "
            f"{r['data_bits'] / 8:,.0f} | {r['total_bits'] / 8:,.0f} | "
            f"{r['test_bits_per_byte']:.3f} | {'yes' if r['decoded'] else 'NO'} |"
        )
    lines += ["", "Baselines (whole file, same run folder):", ""]
    lines += [f"- {b['label']}: {b['bytes']:,} B" for b in sizes.values()]
    lines += ["", *_fits(runs, sizes)]
    lines += _data_size(every, baselines)
    lines += _joint(every, baselines)
    text = "\n".join(lines) + "\n"
    publish("lm_budget.md", text)
    _plot(runs, sizes, RESULTS / "lm_budget.png")
    _plot_data_size(every, baselines, RESULTS / "lm_budget_data.png")
    return 0


def _series(every: list[dict], baselines: dict[int, dict]) -> dict[str, list[tuple[int, float]]]:
    """Bits per byte against the prefix length: per (method, budget) with the whole file and at
    least two prefixes, and per baseline at the same lengths."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for method, tokens in sorted({(series(r), r["tokens"]) for r in every}):
        mine = sorted((r for r in every if (series(r), r["tokens"]) == (method, tokens)),
                      key=lambda r: r["length"])  # fmt: skip
        if len(mine) >= 3:
            curves[f"two-part {method}, {tokens / 1e6:g}M bytes"] = [
                (r["length"], r["total_bits"] / r["length"]) for r in mine
            ]
    lengths = sorted({length for points in curves.values() for length, _ in points})
    by_length = {b["length"]: b for b in baselines.values()}
    for name in baselines[0]["sizes"]:
        points = [(n, 8 * by_length[n]["sizes"][name]["bytes"] / n) for n in lengths
                  if n in by_length]  # fmt: skip
        if len(points) >= 3:
            curves[baselines[0]["sizes"][name]["label"]] = points
    return curves


def _law(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(log a, −b) of bits per byte ≈ a · D^(−b), D the bytes coded (least squares, log–log)."""
    slope, intercept = np.polyfit(np.log([n for n, _ in points]), np.log([v for _, v in points]), 1)
    return float(intercept), float(slope)


def _data_size(every: list[dict], baselines: dict[int, dict]) -> list[str]:
    """The projection in data size: bits per byte of each code against the prefix coded, a
    power law per code, checked on the whole file when fitted on the prefixes, and the length at
    which each two-part curve would cross each baseline's (an extrapolation, stated as such)."""
    curves = _series(every, baselines)
    mine = {k: v for k, v in curves.items() if k.startswith("two-part")}
    if not mine:
        return []
    lengths = sorted({n for points in curves.values() for n, _ in points})
    lines = [
        "",
        "## Data size: bits per byte against the bytes coded (same budget in training bytes)",
        "",
        "| code | " + " | ".join(f"{n:,} B" for n in lengths) + " |",
        "|---|" + "---:|" * len(lengths),
    ]
    for name, points in curves.items():
        values = dict(points)
        cells = [f"{values[n]:.3f}" if n in values else "" for n in lengths]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, points in mine.items():
        head, last = points[:-1], points[-1]
        intercept, slope = _law(head)
        predicted = math.exp(intercept + slope * math.log(last[0]))
        lines.append(
            f"Check ({name}): fitted on the {len(head)} prefixes, bits/byte ≈ "
            f"{math.exp(intercept):.4g} · D^({slope:.4f}); at {last[0]:,} B it predicts "
            f"{predicted:.3f}, measured {last[1]:.3f} ({predicted / last[1] - 1:+.1%})."
        )
        intercept, slope = _law(points)
        lines.append(f"Fit ({name}, all {len(points)}): bits/byte ≈ "
                     f"{math.exp(intercept):.4g} · D^({slope:.4f}).")  # fmt: skip
        for other, theirs in curves.items():
            if other.startswith("two-part"):
                continue
            i2, s2 = _law(theirs)
            if slope >= s2:
                lines.append(f"- {other} (D^({s2:.4f})): never crossed on these fits (the "
                             "two-part code does not fall faster)")  # fmt: skip
                continue
            d_cross = math.exp((i2 - intercept) / (slope - s2))
            lines.append(
                f"- {other} (≈ {math.exp(i2):.4g} · D^({s2:.4f})): crossed at D ≈ "
                f"{d_cross:.3g} bytes ({d_cross / last[0]:.3g}× the whole file), at "
                f"{math.exp(intercept + slope * math.log(d_cross)):.3f} bits/byte"
            )
    return lines


def _joint(every: list[dict], baselines: dict[int, dict]) -> list[str]:
    """Data size and budget together: log bits/byte = A + β_D log D + β_T log T over the runs
    at the default width (D the bytes coded, T the training bytes), fitted on the whole-file
    runs and the prefixes' largest budget, checked on the prefixes' smaller budgets; then the
    data size at which it would pass each baseline if the budget grew with the data (T/D kept
    at the whole-file run nearest 10M training bytes)."""
    lines: list[str] = []
    for method in sorted({r["method"] for r in every}):
        mine = [r for r in every if series(r) == method]
        prefix_tokens = {r["tokens"] for r in mine if r["prefix"]}
        if not prefix_tokens or len({r["length"] for r in mine}) < 2:
            continue
        held = [r for r in mine if r["prefix"] and r["tokens"] < max(prefix_tokens)]
        fitted = [r for r in mine if r not in held]
        x = np.array([[1.0, math.log(r["length"]), math.log(r["tokens"])] for r in fitted])
        y = np.log([r["total_bits"] / r["length"] for r in fitted])
        (a, b_d, b_t), *_ = np.linalg.lstsq(x, y, rcond=None)
        lines += [
            "",
            f"Joint fit ({method}, {len(fitted)} runs): bits/byte ≈ {math.exp(a):.4g} · "
            f"D^({b_d:.4f}) · T^({b_t:.4f}).",
        ]
        for r in held:
            predicted = math.exp(a + b_d * math.log(r["length"]) + b_t * math.log(r["tokens"]))
            measured = r["total_bits"] / r["length"]
            lines.append(
                f"- check at D = {r['length']:,} B, T = {r['tokens']:,}: predicts "
                f"{predicted:.3f}, measured {measured:.3f} ({predicted / measured - 1:+.1%})"
            )
        whole = [r for r in mine if not r["prefix"]]
        ref = min(whole, key=lambda r: abs(math.log(r["tokens"] / 1e7)))
        k = ref["tokens"] / ref["length"]
        for name, points in _series(every, baselines).items():
            if name.startswith("two-part"):
                continue
            i2, s2 = _law(points)
            if b_d + b_t >= s2:
                lines.append(f"- {name}: never passed with T ∝ D on this fit")
                continue
            log_d = (i2 - a - b_t * math.log(k)) / (b_d + b_t - s2)
            d_cross = math.exp(log_d)
            hours = ref["train_seconds"] / 3600 * (k * d_cross) / ref["tokens"]
            lines.append(
                f"- {name}: passed at D ≈ {d_cross:.3g} B with T = {k:.2f}·D ≈ "
                f"{k * d_cross:.3g} training bytes (about {hours:,.1f} hours at the measured "
                f"speed of d_model {D_MODEL}), at {math.exp(i2 + s2 * log_d):.3f} bits/byte"
            )
    return lines


def _plot_data_size(every: list[dict], baselines: dict[int, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _series(every, baselines)
    if not any(k.startswith("two-part") for k in curves):
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, points) in enumerate(curves.items()):
        ax.plot([n for n, _ in points], [v for _, v in points], "o", color=f"C{i}", label=name)
        intercept, slope = _law(points)
        d = np.geomspace(points[0][0], 1e3 * points[-1][0], 50)
        ax.plot(d, np.exp(intercept + slope * np.log(d)), ":", color=f"C{i}")
    ax.set_xscale("log")
    ax.set_xlabel("bytes coded D (prefixes of the file; dotted: power-law fits, extrapolated)")
    ax.set_ylabel("bits per byte")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


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


def _plot(runs: list[dict], sizes: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in sorted({series(r) for r in runs}):
        mine = [r for r in runs if series(r) == method]
        ax.plot([compute_flops(r) for r in mine], [r["total_bits"] / 8 for r in mine], "o",
                label=f"two-part ({method}), measured")  # fmt: skip
        if len(mine) >= 2:
            intercept, slope = _power_law(mine)
            c = np.geomspace(compute_flops(mine[0]), 1e3 * compute_flops(mine[-1]), 50)
            ax.plot(c, np.exp(intercept + slope * np.log(c)), ":",
                    label=f"fit a·C^({slope:.3f}), extrapolated")  # fmt: skip
    for i, b in enumerate(sizes.values()):
        ax.axhline(b["bytes"], ls="--", lw=0.8, color=f"C{i + 2}", label=b["label"])
    ax.set_xscale("log")
    ax.set_xlabel("training compute C = 6·N·D (FLOP)")
    ax.set_ylabel("bytes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
