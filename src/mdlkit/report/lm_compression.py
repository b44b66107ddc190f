"""The lm-compression experiment's table, timings and plot (two-part codes of byte-level
transformers beside classical compressors).

A run record (``runs``, by key) has ``length``, ``method``, ``d_model``, ``n_params``,
``nonzero``, ``model_bits``, ``data_bits``, ``total_bits``, ``bits_per_byte``, ``paper_bits``,
``test_bits_per_byte`` and the seconds ``train_seconds``, ``encode_seconds``,
``decode_seconds``; a prefix's baselines (``baselines``, by its length as a string) have
``sizes`` (:func:`mdlkit.compression.benchmark.baseline_sizes`) and ``notes``.

>>> print(lm_compression_timings({}, {"100": {"sizes": {"xz": {"label": "xz -9e",
...     "seconds": 0.25}}}}), end="")
| job | train s | encode (compress) s | decode s |
|---|---:|---:|---:|
| 100-baselines: xz -9e | | 0.2 | |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

__all__ = [
    "METHOD_NAMES",
    "lm_compression_table",
    "lm_compression_timings",
    "paper_convention_table",
    "plot_lm_compression",
]

METHOD_NAMES = {"none": "unregularized", "drr": "DRR", "l1": "R-L1", "pmmp": "PMMP"}


def lm_compression_table(
    runs: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Any], test_fraction: float
) -> str:
    """The runs and each prefix's baselines as Markdown, sizes in bytes, with a note on what
    each column means and the baselines' notes under it. ``runs``: the records of
    ``lm-compression`` by key; ``baselines``: each prefix's sizes and notes by its length."""
    lines = [
        "Sizes in bytes of the whole prefix; 'total' = weight file (mdlkit's codec, "
        "'model') + the prefix range-coded with the decoded model ('data'), decoded back; "
        "'4 B/nz' = the paper's convention, 4 bytes per nonzero parameter (no index cost) + "
        "the same data. Test loss: bits per byte of the decoded model on the held-out last "
        f"{test_fraction:.0%} of the prefix (never trained on, coded like the rest). "
        "Baselines: the whole output of the compressor; no model to add.",
        "",
        "| prefix | run | d_model | params | nonzero | model | data | total | bits/byte | "
        "4 B/nz | test bits/byte |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    prefixes = sorted({r["length"] for r in runs.values()})
    for n in prefixes:
        for r in (r for r in runs.values() if r["length"] == n):
            lines.append(
                f"| {n:,} | {METHOD_NAMES.get(r['method'], r['method'])} | {r['d_model']} | "
                f"{r['n_params']:,} | {r['nonzero']:,} | {r['model_bits'] // 8:,} | "
                f"{r['data_bits'] // 8:,} | {r['total_bits'] // 8:,} | "
                f"{r['bits_per_byte']:.3f} | {r['paper_bits'] // 8:,} | "
                f"{r['test_bits_per_byte']:.3f} |"
            )
        for b in baselines.get(str(n), {}).get("sizes", {}).values():
            lines.append(
                f"| {n:,} | {b['label']} | | | | | | {b['bytes']:,} | {8 * b['bytes'] / n:.3f} "
                "| | |"
            )
    notes = sorted({note for b in baselines.values() for note in b.get("notes", [])})
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def _paper_bytes(r: Mapping[str, Any]) -> float:
    """The paper's description length: 4 bytes per nonzero + Σ loss / (8 ln 2) bytes."""
    return (32 * r["nonzero"] + r["data_ideal_bits"]) / 8


def paper_convention_table(
    runs: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Any]
) -> str:
    """Tab. 3 in its own convention: per prefix, the chunked baselines (each chunk compressed
    alone, :mod:`mdlkit.compression.chunked`) beside every run's description length as the
    paper counts it, and one line saying whether "DRR and R-L1 < LZMA2, ZSTD and every
    unregularized model" holds there."""
    lines = [
        "In the paper's convention: description length = 4 bytes per nonzero parameter + "
        "Σ loss / (8 ln 2) (ideal data bytes under the decoded model); LZMA2 and zstd compress "
        "every 512-byte chunk alone, each paying its container; LMIC's LZMA2 takes 2048-byte "
        "chunks and counts the container once.",
        "",
        "| prefix | run | d_model | description length (bytes) | bits/byte |",
        "|---|---|---:|---:|---:|",
    ]
    verdicts = []
    for n in sorted({r["length"] for r in runs.values()}):
        mine = [r for r in runs.values() if r["length"] == n]
        chunked = baselines.get(str(n), {}).get("chunked", {})
        for r in mine:
            name = METHOD_NAMES.get(r["method"], r["method"])
            size = _paper_bytes(r)
            lines.append(f"| {n:,} | {name} | {r['d_model']} | {size:,.0f} | {8 * size / n:.3f} |")
        for b in chunked.values():
            lines.append(f"| {n:,} | {b['label']} | | {b['bytes']:,} | {8 * b['bytes'] / n:.3f} |")
        regularized = [r for r in mine if r["method"] in ("drr", "l1")]
        rivals = {f"{b['label']}": float(b["bytes"]) for k, b in chunked.items()
                  if k in ("lzma2_512", "zstd_512")}  # fmt: skip
        rivals |= {
            f"unregularized d_model {r['d_model']}": _paper_bytes(r)
            for r in mine
            if r["method"] == "none"
        }
        if not regularized or not chunked:
            continue
        beaten = [
            f"{METHOD_NAMES[r['method']]} ≥ {rival}"
            for r in regularized
            for rival, size in rivals.items()
            if _paper_bytes(r) >= size
        ]
        verdict = "holds" if not beaten else "does NOT hold: " + "; ".join(beaten)
        verdicts.append(
            f"- {n:,} bytes: DRR and R-L1 < LZMA2, ZSTD and every unregularized model {verdict}"
        )
    return "\n".join(lines + (["", *verdicts] if verdicts else [])) + "\n"


def lm_compression_timings(
    runs: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Any]
) -> str:
    """Seconds of every run and compressor, by job: kept out of the table, which must not
    depend on the machine, its load or the executor."""
    lines = [
        "| job | train s | encode (compress) s | decode s |",
        "|---|---:|---:|---:|",
    ]
    for key, r in runs.items():
        lines.append(
            f"| {key} | {r['train_seconds']:,.0f} | {r['encode_seconds']:,.1f} | "
            f"{r['decode_seconds']:,.1f} |"
        )
    for n, b in baselines.items():
        for size in b.get("sizes", {}).values():
            lines.append(f"| {n}-baselines: {size['label']} | | {size['seconds']:,.1f} | |")
    return "\n".join(lines) + "\n"


def plot_lm_compression(
    runs: Mapping[str, Mapping[str, Any]], baselines: Mapping[str, Any], out: Path
) -> Path:
    """``lm_compression.png`` in ``out``: per prefix, the U-curve of test loss against nonzero
    parameters and the model bits against the data bits, with lines of equal total."""
    prefixes = sorted({r["length"] for r in runs.values()})
    width = max(5.0 * len(prefixes), 9.0)
    fig, axes = plt.subplots(2, len(prefixes), squeeze=False, figsize=(width, 8.5))
    colors = {"none": "k", "drr": "C0", "l1": "C1", "pmmp": "C2"}
    for column, n in enumerate(prefixes):
        ax_u, ax_dl = axes[0, column], axes[1, column]
        mine = [r for r in runs.values() if r["length"] == n]
        for r in mine:
            style = {
                "color": colors.get(r["method"], "C3"),
                "marker": "*" if r["method"] == "none" else "o",
                "s": 80 if r["method"] == "none" else 40,
                "zorder": 3,
            }
            ax_u.scatter(r["nonzero"], r["test_bits_per_byte"], **style)
            ax_u.annotate(f"d{r['d_model']}", (r["nonzero"], r["test_bits_per_byte"]), fontsize=7)
            ax_dl.scatter(r["model_bits"] / 8e3, r["data_bits"] / 8e3, **style)
        # U-curve isolines: total ≈ 32 bits · nonzero + n · test bits per byte (the paper's
        # convention with the test loss standing for the data), in kB.
        nz = [r["nonzero"] for r in mine]
        losses = [r["test_bits_per_byte"] for r in mine]
        lo, hi = max(1.0, min(nz) / 3), max(nz) * 3
        ylo, yhi = min(losses) - 0.3, max(losses) + 0.3
        xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        totals = sorted(32 * x + n * y for x, y in zip(nz, losses, strict=True))
        for total in totals:
            ax_u.plot(xs, [(total - 32 * x) / n for x in xs], color="0.85", lw=0.8, zorder=1)
        ax_u.set(
            xscale="log",
            xlim=(lo, hi),
            ylim=(ylo, yhi),
            xlabel="nonzero parameters",
            ylabel="test loss (bits / byte)",
            title=f"{n:,} bytes",
        )
        # Model vs data bits: lines of equal total through each baseline's size.
        x_hi = max(r["model_bits"] for r in mine) / 8e3 * 1.1
        data_kb = [r["data_bits"] / 8e3 for r in mine]
        sizes = [b["bytes"] / 1e3 for b in baselines.get(str(n), {}).get("sizes", {}).values()]
        y_lo = max(0.0, min(data_kb + [t - x_hi for t in sizes]) * 0.97)
        y_hi = max(data_kb + sizes) * 1.03
        for b in baselines.get(str(n), {}).get("sizes", {}).values():
            total = b["bytes"] / 1e3
            ax_dl.plot([0, total], [total, 0], lw=0.9, ls="--", label=b["label"])
        ax_dl.set(
            xlim=(0, x_hi),
            ylim=(y_lo, y_hi),
            xlabel="model kB (weight file)",
            ylabel="data kB (range-coded)",
            title=f"{n:,} bytes: model vs data",
        )
        ax_dl.legend(fontsize=7)
    handles = [
        plt.Line2D([], [], color=c, marker="*" if m == "none" else "o", ls="", label=name)
        for m, c in colors.items()
        for name in [METHOD_NAMES[m]]
        if any(r["method"] == m for r in runs.values())
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=8)
    fig.suptitle(
        "Transformers as two-part codes. Top: test loss vs nonzero parameters (grey: equal\n"
        "32 bits · nonzero + n · test loss). Bottom: weight file vs coded data (dashed: equal "
        "total to a compressor)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 0.88, 0.94))
    path = out / "lm_compression.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
