"""The data-size half of ``lm_budget.py``: bits per byte of each code against the bytes coded D
(prefixes of the file), a power law per code, and a joint law in D and the training bytes T.

Fits are least squares in log space: log(bits/byte) = log a + b·log D for one code at one
budget; log(bits/byte) = A + β_D·log D + β_T·log T over the runs at the default width, where T
is the bytes the regularized phase actually trained on (epochs × training bytes, so a capped or
rounded budget counts as what it was). Two power laws a₁·D^b₁ and a₂·D^b₂ cross at
log D = (log a₂ − log a₁) / (b₁ − b₂), ahead of the data only where the first falls faster.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

D_MODEL = 96  # the default width of every run
CONTEXT = 64  # the default context of every run (bytes)
Curves = dict[str, list[tuple[int, float]]]


def series(r: dict) -> str:
    """A run's curve: its method, and its width and context where not the default."""
    context = r["plan"]["context"]
    return (r["method"] + (f" d{r['d_model']}" if r["d_model"] != D_MODEL else "")
            + (f" c{context}" if context != CONTEXT else ""))  # fmt: skip


def train_bytes(r: dict) -> int:
    """Bytes of the training split of a run's data (the rest is validation and test)."""
    plan = r["plan"]
    return round(r["length"] * (1 - plan["val_fraction"] - plan["test_fraction"]))


def trained(r: dict) -> int:
    """T: bytes the regularized phase trained on (its epochs × the training split)."""
    return r["epochs"] * train_bytes(r)


def curves_of(every: list[dict], baselines: dict[int, dict]) -> Curves:
    """Bits per byte against the bytes coded: per (method and width, budget) with a run on the
    whole file (prefix 0) and on at least two prefixes, then each baseline at those lengths."""
    curves: Curves = {}
    for name, tokens in sorted({(series(r), r["tokens"]) for r in every}):
        mine = sorted((r for r in every if (series(r), r["tokens"]) == (name, tokens)),
                      key=lambda r: r["length"])  # fmt: skip
        if len(mine) >= 3 and mine[-1]["prefix"] == 0:
            curves[f"two-part {name}, {tokens / 1e6:g}M bytes"] = [
                (r["length"], r["total_bits"] / r["length"]) for r in mine
            ]
    lengths = sorted({n for points in curves.values() for n, _ in points})
    by_length = {b["length"]: b for b in baselines.values()}
    for key, size in baselines[0]["sizes"].items():
        points = [(n, 8 * by_length[n]["sizes"][key]["bytes"] / n) for n in lengths
                  if n in by_length]  # fmt: skip
        if len(points) >= 3:
            curves[size["label"]] = points
    return curves


def power_law(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(log a, b) of bits per byte ≈ a · D^b (least squares, log–log)."""
    slope, intercept = np.polyfit(np.log([n for n, _ in points]), np.log([v for _, v in points]), 1)
    return float(intercept), float(slope)


def _against(name: str, ours: list[tuple[int, float]], theirs: list[tuple[int, float]],
             law: tuple[float, float]) -> str:  # fmt: skip
    """Where a two-part curve (``law`` = its fit) meets a baseline's, in one line."""
    last, measured = ours[-1]
    if measured < dict(theirs)[last]:
        return f"- {name}: already below it at {last:,} B (measured)"
    i2, s2 = power_law(theirs)
    intercept, slope = law
    if slope >= s2:
        return f"- {name} (D^({s2:.4f})): never crossed on these fits (it falls as fast or faster)"
    log_d = (i2 - intercept) / (slope - s2)
    return (
        f"- {name} (≈ {math.exp(i2):.4g} · D^({s2:.4f})): crossed at D ≈ {math.exp(log_d):.3g} "
        f"bytes ({math.exp(log_d) / last:.3g}× the whole file), at "
        f"{math.exp(intercept + slope * log_d):.3f} bits/byte"
    )


def data_size_lines(every: list[dict], baselines: dict[int, dict]) -> list[str]:
    """The table of bits per byte against D, each two-part curve's law fitted on its prefixes
    and checked on the whole file, then fitted on all and set against each baseline."""
    curves = curves_of(every, baselines)
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
        lines.append(f"| {name} | " + " | ".join(f"{values[n]:.3f}" if n in values else ""
                                                 for n in lengths) + " |")  # fmt: skip
    lines.append("")
    for name, points in mine.items():
        head, last = points[:-1], points[-1]
        intercept, slope = power_law(head)
        predicted = math.exp(intercept + slope * math.log(last[0]))
        lines.append(
            f"Check ({name}): fitted on the {len(head)} prefixes, bits/byte ≈ "
            f"{math.exp(intercept):.4g} · D^({slope:.4f}); on the whole file ({last[0]:,} B) it "
            f"predicts {predicted:.3f}, measured {last[1]:.3f} ({predicted / last[1] - 1:+.1%})."
        )
        law = power_law(points)
        lines.append(f"Fit ({name}, all {len(points)}): bits/byte ≈ {math.exp(law[0]):.4g} · "
                     f"D^({law[1]:.4f}).")  # fmt: skip
        lines += [_against(other, points, theirs, law) for other, theirs in curves.items()
                  if not other.startswith("two-part")]  # fmt: skip
    return lines


def joint_lines(every: list[dict], baselines: dict[int, dict]) -> list[str]:
    """The joint law over the default width's runs, fitted on the whole-file runs and the
    prefixes' largest budget, checked on the prefixes' smaller budgets; then the data size at
    which it would pass each baseline if T grew with D (T/D kept at the whole-file run nearest
    10M training bytes). Needs two lengths and two values of T among the fitted runs."""
    lines: list[str] = []
    curves = curves_of(every, baselines)
    for method in sorted({r["method"] for r in every}):
        mine = [r for r in every if series(r) == method]
        whole = [r for r in mine if r["prefix"] == 0]
        prefix_tokens = {r["tokens"] for r in mine if r["prefix"]}
        if not whole or not prefix_tokens:
            continue
        held = [r for r in mine if r["prefix"] and r["tokens"] < max(prefix_tokens)]
        fitted = [r for r in mine if r not in held]
        x = np.array([[1.0, math.log(r["length"]), math.log(trained(r))] for r in fitted])
        y = np.log([r["total_bits"] / r["length"] for r in fitted])
        if np.linalg.matrix_rank(x) < 3:
            lines += ["", f"Joint fit ({method}): not made — the fitted runs need two lengths and "
                      "two training budgets."]  # fmt: skip
            continue
        (a, b_d, b_t), *_ = np.linalg.lstsq(x, y, rcond=None)
        law = f"{math.exp(a):.4g} · D^({b_d:.4f}) · T^({b_t:.4f})"
        lines += ["", f"Joint fit ({method}, {len(fitted)} runs; T = bytes the regularized phase "
                  f"trained on): bits/byte ≈ {law}."]  # fmt: skip
        for r in held:
            predicted = math.exp(a + b_d * math.log(r["length"]) + b_t * math.log(trained(r)))
            measured = r["total_bits"] / r["length"]
            lines.append(
                f"- check at D = {r['length']:,} B, T = {trained(r):,}: predicts "
                f"{predicted:.3f}, measured {measured:.3f} ({predicted / measured - 1:+.1%})"
            )
        ref = min(whole, key=lambda r: abs(math.log(r["tokens"] / 1e7)))
        k = trained(ref) / ref["length"]
        for name, points in curves.items():
            if name.startswith("two-part"):
                continue
            i2, s2 = power_law(points)
            if b_d + b_t >= s2:
                lines.append(f"- {name}: never passed with T ∝ D on this fit")
                continue
            log_d = (i2 - a - b_t * math.log(k)) / (b_d + b_t - s2)
            d_cross = math.exp(log_d)
            hours = ref["train_seconds"] / 3600 * k * d_cross / trained(ref)
            lines.append(
                f"- {name}: passed at D ≈ {d_cross:.3g} B with T = {k:.2f}·D ≈ {k * d_cross:.3g} "
                f"(about {hours:,.1f} hours at the measured speed of d_model {D_MODEL}), at "
                f"{math.exp(i2 + s2 * log_d):.3f} bits/byte"
            )
    return lines


def plot_data_size(every: list[dict], baselines: dict[int, dict], path: Path) -> None:
    """Bits per byte against D for every curve, each with its power law extrapolated 1000×."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = curves_of(every, baselines)
    if not any(k.startswith("two-part") for k in curves):
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, points) in enumerate(curves.items()):
        ax.plot([n for n, _ in points], [v for _, v in points], "o", color=f"C{i}", label=name)
        intercept, slope = power_law(points)
        d = np.geomspace(points[0][0], 1e3 * points[-1][0], 50)
        ax.plot(d, np.exp(intercept + slope * np.log(d)), ":", color=f"C{i}")
    x_label = "bytes coded D (prefixes of the file; dotted: power-law fits, extrapolated)"
    save_log_plot(fig, ax, x_label, "bits per byte", path)


def save_log_plot(fig: Any, ax: Any, x_label: str, y_label: str, path: Path) -> None:
    """Log x axis, labels and legend, then the file (both plots of the benchmark)."""
    ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
