"""Selection by the code on small data sets: is the chosen two-part code below uniform, how far
below, at what accuracy, and never above its bound?

For each set: ``mdlkit select`` with its defaults (a linear model at lr 0.01 and the MLP with 32
hidden units, α·2^k for k = −4…2 around α = c·ln2/n, the all-pruned model, the prequential code
beside them; 2 workers) and, for the accuracy comparison, the plain network as trained (method
none, quantized within 0.5 % of its validation loss). Targets (issue 21): the default select's
code below uniform on iris, wine, breast_cancer and digits; digits ≤ 0.35× uniform with test
accuracy within 2 points of the plain model; every set never above uniform + log2 G + the
all-pruned model's architecture and header bits (+ < 1 bit rounding).

Run: ``.venv/bin/python benchmarks/select_small_sets.py``; writes ``results/select_small_sets.md``
and ``results/select_small_sets.png`` (digits' selection plot).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

import torch
from _publish import RESULTS, cpu_name, publish

from mdlkit.recipes import FitConfig, SelectConfig, run_fit, run_select
from mdlkit.runs import RunFolder

# The same benchmark with the earlier default grid (the MLP alone, α·2^k for k = −2…2, G = 6).
BEFORE = (
    "Before (the MLP alone, α·2^k for k = −2…2, G = 6): iris 201.6 bits, 1.413× uniform "
    "(all-pruned); wine 202.6, 1.206×; breast_cancer 202.6, 0.594× (87.72 %); digits 1,274.6, "
    "0.356× (90.56 % against the plain network's 95.83 %); diabetes 3,410.6 (all-pruned)."
)
SETS = ("sklearn:iris", "sklearn:wine", "sklearn:breast_cancer", "digits", "sklearn:diabetes")


def main() -> None:
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SETS:
            t = time.perf_counter()
            folder = RunFolder.new(Path(tmp) / name.replace(":", "-"), kind="select")
            sel = run_select(SelectConfig(dataset=name, workers=2), folder=folder)
            plain = run_fit(
                FitConfig(dataset=name, method="none", quant_mode="tolerance", grid_epochs=0)
            )
            if name == "digits":
                shutil.copy(folder.file("selection.png"), RESULTS / "select_small_sets.png")
            rows.append((name, sel, plain, time.perf_counter() - t))
    lines = [
        "# Selection by the code on small data sets",
        "",
        f"Machine: {cpu_name()}, torch {torch.__version__}, 2 cores shared with other jobs. "
        "Command: `.venv/bin/python benchmarks/select_small_sets.py` (`mdlkit select "
        "--data NAME --workers 2`, defaults otherwise: DRR on a linear model (lr 0.01) and "
        "an MLP with 32 hidden units (lr 1e-3), α·2^k for k = −4…2 around α = c·ln2/n, the "
        "all-pruned model; G = 15 candidates). "
        f"Whole run: {time.perf_counter() - start:.0f} s.",
        "",
        "Lengths in bits. *bound* = all-pruned model + log2 G = uniform (rounded up) + log2 G + "
        "the all-pruned model's architecture and header bits. Plain = the same network trained "
        "without a penalty, quantized within 0.5 % of its validation loss.",
        "",
        "| data | n | uniform | selected (+ log2 G) | selected / uniform | chosen | nonzero | "
        "test acc % (MSE) | plain acc % (MSE) | prequential | bound | ≤ bound | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, sel, plain, seconds in rows:
        row = sel.chosen_row
        regression = sel.uniform_bits is None
        n = plain.two_part.encoded_data.n_symbols
        quality = f"({row['test_mse']:.3f})" if regression else f"{100 * row['test_accuracy']:.2f}"
        plain_quality = (
            f"({2 * plain.test.loss:.3f})" if regression else f"{100 * plain.test.accuracy:.2f}"
        )
        ratio = "—" if regression else f"{sel.selected_bits / sel.uniform_bits:.3f}"
        uniform = "—" if regression else f"{sel.uniform_bits:,.1f}"
        preq = "—" if sel.prequential_bits is None else f"{sel.prequential_bits:,.1f}"
        lines.append(
            f"| {name} | {n:,} | {uniform} | {sel.selected_bits:,.1f} | {ratio} | "
            f"{row['key']} | {row['nonzero']} | {quality} | {plain_quality} | {preq} | "
            f"{sel.bound_bits:,.1f} | {'yes' if sel.selected_bits <= sel.bound_bits else 'NO'} | "
            f"{seconds:.0f} |"
        )
    lines += ["", "Targets (issue 21):", ""]
    for name, sel, plain, _ in rows:
        if sel.uniform_bits is None:
            continue
        ratio = sel.selected_bits / sel.uniform_bits
        verdict = "reached" if ratio < 1 else "NOT reached"
        line = f"- {name}: selected < uniform: {verdict} ({ratio:.3f}×)"
        if name == "digits":
            drop = 100 * (plain.test.accuracy - sel.chosen_row["test_accuracy"])
            ok = ratio <= 0.35 and drop <= 2
            line += (
                f"; ≤ 0.35× uniform within 2 points of the plain network: "
                f"{'reached' if ok else 'NOT reached'} ({ratio:.3f}×, {drop:+.2f} points)"
            )
        lines.append(line)
    lines += ["", BEFORE, "", "Every candidate (two-part bits, test accuracy %):", ""]
    for name, sel, _, _ in rows:
        cells = ", ".join(
            f"{r['key']}: {r['two_part_bits']:,.0f}"
            + ("" if r["test_accuracy"] is None else f" ({100 * r['test_accuracy']:.1f})")
            for r in sel.rows
        )
        lines.append(f"- {name} (log2 G = {math.log2(len(sel.rows)):.2f}): {cells}")
    publish("select_small_sets.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
