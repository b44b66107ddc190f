"""The compressor benchmark's table (rich and Markdown), its footnotes and its plot.

Rows are :func:`mdlkit.compression.benchmark.bench_files`' rows: one per file and compressor.

>>> row = {"file": "a.txt", "bytes": 1000, "compressor": "gzip -9", "compressed_bytes": 400,
...        "bits_per_byte": 3.2, "compress_kb_per_s": 2500.0, "decompress_kb_per_s": None,
...        "compress_peak_mb": 10.94, "decompress_peak_mb": None, "round_trip": "ERROR"}
>>> print(compressor_markdown([row], ["a note"]))
| file | compressor | bytes | bits/byte | compress KB/s | decompress KB/s | compress MB | decompress MB | round trip |
|---|---|---:|---:|---:|---:|---:|---:|---|
| a.txt (1,000 B) | gzip -9 | 400 | 3.200 | 2,500 | — | 10.9 | — | **ERROR** |
<BLANKLINE>
- a note
<BLANKLINE>
"""  # noqa: E501

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from rich.markup import escape
from rich.table import Table

from mdlkit.compression.baselines import PPMD_VARIANTS
from mdlkit.report.plots import save_figure

__all__ = [
    "COMPRESSOR_COLUMNS",
    "compressor_markdown",
    "compressor_notes",
    "compressor_table",
    "plot_bits_vs_speed",
    "startup_markdown",
]

COMPRESSOR_COLUMNS: tuple[str, ...] = (
    "file",
    "compressor",
    "bytes",
    "bits/byte",
    "compress KB/s",
    "decompress KB/s",
    "compress MB",
    "decompress MB",
    "round trip",
)

Row = Mapping[str, Any]


def compressor_notes(
    rows: Sequence[Row],
    *,
    repeats: int,
    ppmd_orders: Sequence[int],
    ppmd_variants: Sequence[str],
    ppmd_memory_mb: int,
) -> list[str]:
    """What each figure means, and the PPMd and mdlkit settings where their rows are there."""
    notes = [
        "bits/byte = 8 · compressed bytes / original bytes, whole files as each library "
        "writes them (gzip -9 is zlib level 9 in the zlib container: 6 bytes of framing).",
        "KB/s = original bytes (1 KB = 1000 B) per second of the compress or decompress "
        "call alone, timed inside a fresh child process"
        + (f" (best of {repeats})" if repeats > 1 else "")
        + "; start-up and imports are not counted (a run's results.json keeps the process "
        "wall times). "
        "All baselines run on one thread.",
        "MB = peak resident memory (10^6 B; VmHWM, or ru_maxrss where /proc is missing) of "
        "the child process that compresses or decompresses: it includes the Python "
        "interpreter (about 10 MB), the input and output bytes, and for mdlkit torch's "
        "import.",
    ]
    keys = {r["key"] for r in rows}
    if "ppmd" in keys:
        variants = ", ".join(f"{v} ({PPMD_VARIANTS[v]})" for v in ppmd_variants)
        notes.append(
            f"PPMd: pyppmd variant {variants}, {ppmd_memory_mb} MiB of model memory; the "
            f"order is chosen per file by the smallest output among "
            f"{', '.join(map(str, ppmd_orders))} (the choice is not timed); speeds and "
            "memory are the winning order's (every order's size and compress speed are in "
            "results.json). Sizes include a header of 3–7 bytes: the order, the memory size "
            "and, for H (no end marker), the length."
        )
    if "mdlkit" in keys:
        notes.append(
            "mdlkit: compress is timed with verify=False; verifying is a decompress, so "
            "compress with verification takes about compress + decompress time. The online "
            "mode runs on one thread (numba kernels); the two-part mode codes on one torch "
            f"thread and trains on torch's default ({os.cpu_count()} cores here)."
        )
    return notes


def _cells(row: Row) -> list[str]:
    def fmt(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    name = row["compressor"]
    if row.get("ppmd") and row["ppmd"]["order"] is not None:
        name = f"{name} (order {row['ppmd']['order']})"
    return [
        f"{row['file']} ({row['bytes']:,} B)",
        name,
        fmt(row["compressed_bytes"], ","),
        fmt(row["bits_per_byte"], ".3f"),
        fmt(row["compress_kb_per_s"], ",.0f"),
        fmt(row["decompress_kb_per_s"], ",.0f"),
        fmt(row["compress_peak_mb"], ".1f"),
        fmt(row["decompress_peak_mb"], ".1f"),
    ]


def compressor_table(rows: Sequence[Row]) -> Table:
    """A rich table, one row per file and compressor; a failed round trip in bold red."""
    table = Table(title="compressors side by side (bits per byte: lower is better)")
    for i, column in enumerate(COMPRESSOR_COLUMNS):
        table.add_column(column, justify="left" if i < 2 else "right")
    previous = None
    for row in rows:
        if previous is not None and row["file"] != previous:
            table.add_section()
        previous = row["file"]
        check = "ok" if row["round_trip"] == "ok" else f"[bold red]{row['round_trip']}[/]"
        table.add_row(*map(escape, _cells(row)), check)
    return table


def compressor_markdown(rows: Sequence[Row], notes: Sequence[str]) -> str:
    """The table and its footnotes as Markdown."""
    columns = COMPRESSOR_COLUMNS
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * 2 + "---:|" * (len(columns) - 3) + "---|",
    ]
    for row in rows:
        check = "ok" if row["round_trip"] == "ok" else f"**{row['round_trip']}**"
        lines.append("| " + " | ".join([*_cells(row), check]) + " |")
    lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def plot_bits_vs_speed(rows: Sequence[Row], files: Sequence[Row], path: str | Path) -> Path:
    """Bits per byte against compress speed (log scale): one colour per file, one marker per
    compressor; rows that failed are left out."""
    names = list(dict.fromkeys(r["compressor"] for r in rows))
    markers = dict(zip(names, "osD^vP*Xhp<>", strict=False))
    colors = {f["file"]: f"C{i}" for i, f in enumerate(files)}
    fig, ax = plt.subplots(figsize=(9.5, 5))
    for row in rows:
        if row["round_trip"] != "ok":
            continue
        ax.scatter(
            row["compress_kb_per_s"],
            row["bits_per_byte"],
            color=colors[row["file"]],
            marker=markers.get(row["compressor"], "o"),
            s=45,
        )
    handles = [
        plt.Line2D([], [], color="0.3", marker=m, ls="", label=n) for n, m in markers.items()
    ]
    handles += [plt.Line2D([], [], color=c, lw=4, label=f) for f, c in colors.items()]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.set(
        xscale="log",
        xlabel="compress speed (KB/s of original bytes, 1 KB = 1000 B)",
        ylabel="bits per byte",
        title="size against speed (lower is smaller, right is faster)",
    )
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)


def startup_markdown(rows: Sequence[Row]) -> str:
    """The start-up table: each command as a whole process on the small sample (seconds are the
    fastest of the runs; peak memory is that run's resident high-water mark)."""
    if not rows:
        return ""
    n = rows[0]["input_bytes"]
    lines = [
        f"Start-up: each command as a fresh process on the first {n:,} bytes of the first file",
        "",
        "| command | wall s | peak MB | output bytes |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['name']} | **ERROR** {row['error']} | | |")
            continue
        peak = "—" if row["peak_mb"] is None else f"{row['peak_mb']:.1f}"
        lines.append(f"| {row['name']} | {row['seconds']:.3f} | {peak} | {row['output_bytes']:,} |")
    return "\n".join(lines) + "\n"
