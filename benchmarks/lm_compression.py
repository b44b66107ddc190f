"""The lm-compression experiment's table with the machine it ran on: results/lm_compression.md.

Run: ``.venv/bin/python benchmarks/lm_compression.py`` (runs ``mdlkit experiment
lm-compression`` on ``../shared/data/text/tinyshakespeare.txt`` into a new run folder, about an
hour on 2 cores), or ``--folder runs/DIR`` to publish a run that has finished (``--minutes M``
states the wall time seen). Writes ``benchmarks/results/lm_compression.md`` and
``lm_compression.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

from _publish import RESULTS, cpu_name, publish

from mdlkit.compression.baselines import library_versions
from mdlkit.recipes.lm_compression import (
    LMCompressionExperiment,
    resolve_text_path,
    run_lm_compression,
)
from mdlkit.report.lm_compression import METHOD_NAMES
from mdlkit.runs import RunFolder, git_revision

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "tinyshakespeare.txt"


def _verdict(results: dict) -> str:
    """The issue's targets at the largest prefix, said plainly."""
    runs = results["runs"]
    full = max(r["length"] for r in runs.values())
    mine = {(r["method"], r["d_model"]): r for r in runs.values() if r["length"] == full}
    base = results["baselines"][str(full)]["sizes"]
    plain = [r["total_bits"] / 8 for (m, _), r in mine.items() if m == "none"]
    lines = [f"Targets at {full:,} bytes (totals in bytes):", ""]
    for method in ("drr", "l1", "pmmp"):
        found = [r for (m, _), r in mine.items() if m == method]
        if not found:
            continue
        total = found[0]["total_bits"] / 8
        below_plain = all(total < p for p in plain)
        parts = [
            f"below every unregularized transformer ({min(plain):,.0f} … {max(plain):,.0f}): "
            f"{'yes' if below_plain else 'NO'}"
        ]
        for key in ("xz", "ppmd", "online"):
            if key in base:
                b = base[key]
                parts.append(
                    f"below {b['label']} ({b['bytes']:,}): {'yes' if total < b['bytes'] else 'NO'}"
                )
        lines.append(f"- {METHOD_NAMES[method]} {total:,.0f}: " + "; ".join(parts))
    return "\n".join(lines)


# The paper's Tab. 3 (MB, its convention): data size → LZMA2 and ZSTD per 512-byte chunk, the
# three unregularized transformers (308M, 25M, 4M parameters), PMMP, DRR, R-L1.
PAPER_TAB3 = {
    300: (241, 195, (1270, 146, 70), 94, 61, 61),
    1232: (992, 802, (1410, 306, 254), 299, 239, 214),
    6160: (4958, 4010, (2060, 1080, 1130), 1220, 973, 971),
}


def _beside_the_paper(results: dict) -> str:
    """The paper's Tab. 3 and ours in its convention, each as a fraction of LZMA2 per 512 B
    (the data differ by three orders of magnitude; the ratios are what can be compared)."""
    from mdlkit.report.lm_compression import _paper_bytes

    lines = [
        "Beside the paper's Tab. 3 (its convention; each size divided by LZMA2 per 512 B of the "
        "same data, since the paper's data are 300–6,160 MB of Wikipedia and ours 0.1–1.1 MB "
        "of Shakespeare):",
        "",
        "| data | LZMA2 / 512 B | ZSTD / 512 B | best unregularized | PMMP | DRR | R-L1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mb, (lzma, zstd, plain, pmmp, drr, l1) in PAPER_TAB3.items():
        cells = [zstd, min(plain), pmmp, drr, l1]
        lines.append(f"| paper, {mb:,} MB | 1 ({lzma:,} MB) | "
                     + " | ".join(f"{c / lzma:.3f}" for c in cells) + " |")  # fmt: skip
    for n in sorted({r["length"] for r in results["runs"].values()}):
        chunked = results["baselines"].get(str(n), {}).get("chunked", {})
        if "lzma2_512" not in chunked or "zstd_512" not in chunked:
            continue
        lzma = chunked["lzma2_512"]["bytes"]
        mine = {r["method"]: r for r in results["runs"].values()
                if r["length"] == n and r["method"] != "none"}  # fmt: skip
        plain = min(_paper_bytes(r) for r in results["runs"].values()
                    if r["length"] == n and r["method"] == "none")  # fmt: skip
        cells = [chunked["zstd_512"]["bytes"], plain] + [
            _paper_bytes(mine[m]) if m in mine else float("nan") for m in ("pmmp", "drr", "l1")
        ]
        lines.append(f"| ours, {n:,} B | 1 ({lzma:,} B) | "
                     + " | ".join(f"{c / lzma:.3f}" for c in cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", help="a finished run folder to publish")
    parser.add_argument("--minutes", type=float, help="the wall time seen, to state")
    args = parser.parse_args()
    if args.folder:
        folder = Path(args.folder)
        minutes = args.minutes
    else:
        exp = LMCompressionExperiment(str(resolve_text_path(str(TEXT))))
        run = RunFolder.new(kind="lm-compression")
        started = time.perf_counter()
        run_lm_compression(exp, run)
        folder, minutes = run.path, (time.perf_counter() - started) / 60
    results = json.loads((folder / "results.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    table = (folder / "table.md").read_text()
    v = library_versions()
    git = config.get("environment", {}).get("git") or git_revision()  # the run's own revision
    if git is not None:
        v["mdlkit"] += f" ({git['commit'][:8]}{', uncommitted changes' if git['dirty'] else ''})"
    e = config["experiment"]
    wall = f"about {minutes:.0f} minutes" if minutes else "see the run folder"
    text = (
        "# Byte-level transformers as two-part codes (the seed paper's Tab. 3 at CPU scale)\n\n"
        f"Machine: {platform.machine()}, {cpu_name()}, 2 cores shared with other jobs, Python "
        f"{v['python']}, torch {v['torch']}, zstandard {v['zstandard']}, pyppmd {v['pyppmd']}, "
        f"mdlkit {v['mdlkit']}. Command: `mdlkit experiment lm-compression` (data "
        f"{Path(e['data']).name}; prefixes {e['prefixes']} bytes, 0 = all; unregularized "
        f"d_model {e['sizes']}, {e['n_layers']} blocks, context {e['context']}; "
        f"{', '.join(e['methods'])} at the largest; {e['tokens']:,} training bytes per run, "
        f"at most {e['max_epochs']} epochs; Adam {e['lr']:g}, batch {e['batch_size']} "
        f"(PMMP {e.get('pmmp_batch_size') or e['batch_size']}); one training thread). "
        f"Wall time of the whole run: {wall}.\n\n"
        "Model bytes are included in every mdlkit total (the weight file is the model part); "
        "the baselines' sizes are their whole outputs and ship no model.\n\n"
        f"{table}\n{_verdict(results)}\n\n"
        f"{_beside_the_paper(results)}\n\n"
        "The paper's setting is parts of Wikipedia of hundreds of MB and more, GPU-trained "
        "transformers; here the data is 0.1–1.1 MB and every model trains for minutes on one "
        "CPU thread, so the absolute bits per byte are far from the paper's and from what these "
        "models reach when trained to convergence.\n\n"
        "![U-curve and description lengths](lm_compression.png)\n"
    )
    publish("lm_compression.md", text)
    shutil.copyfile(folder / "lm_compression.png", RESULTS / "lm_compression.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
