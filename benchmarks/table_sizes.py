"""The online predictor's tables sized to the input (issue 22): size and ratio against the table
size, and what ``mdlz`` costs on a small file.

1. For a 5,000-byte and a 20,000-byte prefix of alice29.txt and for alice29.txt and asyoulik.txt
   whole: the payload of online level 2 (one block's code) in bits per byte and the
   ideal Σ −log2 p, at table sizes from a few bits below the chosen one
   (:func:`~mdlkit.compression.online.table_bits_for`) up to the largest (22, the size of every
   archive before), with the model state's size in MB.
2. The three shared texts through ``mdlz -q -c`` (default level, verified by decoding) in a fresh
   process: the whole archive's bits per byte, the table size chosen, wall time and peak
   resident memory.
3. ``mdlz -q -c`` on the 5,000-byte prefix and on an empty file in fresh processes (numba's
   cache warm: one untimed call first): wall time (fastest of 5) and that run's peak resident
   memory (GNU time's %M), and the archives' sizes.

4. With ``--baseline OTHER/src``: ``mdlz`` on the 5,000-byte prefix with this checkout and with
   another (e.g. main before this change), interleaved: wall, CPU time and peak memory.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/table_sizes.py [--text DIR] [--quick]
[--baseline OTHER/src]`` (``--quick``: no whole texts); writes
``benchmarks/results/table_sizes.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
from _publish import cpu_name, publish

from mdlkit.compression.context_mixing import TABLE_BITS, state_layout
from mdlkit.compression.online import OnlineCoder, table_bits_for
from mdlkit.compression.startup import commands, measure_startup
from mdlkit.runs import git_revision

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"
FILES = ("alice29.txt", "asyoulik.txt", "tinyshakespeare.txt")
BELOW = 4  # table sizes swept below the chosen one


def _state_mb(bits: int) -> float:
    return 8 * (int(state_layout(bits)[-1]) + len(state_layout(bits))) / 1e6


def sweep(samples: dict[str, bytes]) -> list[str]:
    rows = ["| input | bytes | table bits | state MB | payload B | bits/byte | ideal bits/byte |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, data in samples.items():
        chosen = table_bits_for(len(data))
        for bits in range(max(12, chosen - BELOW), TABLE_BITS + 1):
            coded = OnlineCoder(1, None, bits).encode(data)
            mark = " (chosen)" if bits == chosen else ""
            rows.append(
                f"| {name} | {len(data):,} | {bits}{mark} | {_state_mb(bits):.1f} | "
                f"{len(coded.payload):,} | {8 * len(coded.payload) / len(data):.4f} | "
                f"{coded.ideal_bits / len(data):.4f} |"
            )
            print(rows[-1], flush=True)
    return rows


def _mdlz() -> dict[str, list[str]]:
    return {name: argv for name, argv in commands().items() if name.startswith("mdlz")}


def texts(paths: list[Path]) -> list[str]:
    rows = ["| file | bytes | table bits | archive B | bits/byte | wall s | peak MB |",
            "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for path in paths:
        data = path.read_bytes()
        (row,) = measure_startup(data, _mdlz(), repeats=1)
        if "error" in row:
            raise RuntimeError(row["error"])
        rows.append(
            f"| {path.name} | {len(data):,} | {table_bits_for(len(data))} | "
            f"{row['output_bytes']:,} | {8 * row['output_bytes'] / len(data):.4f} | "
            f"{row['seconds']:.1f} | {row['peak_mb']:.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def startup(sample: bytes) -> list[str]:
    mdlz = _mdlz()
    measure_startup(sample, mdlz, repeats=1)  # warm numba's cache
    rows = ["| input | wall s (best of 5) | peak MB | archive B |", "|---|---:|---:|---:|"]
    for label, data in (("5,000 B of alice29.txt", sample), ("empty", b"")):
        (row,) = measure_startup(data, mdlz, repeats=5)
        if "error" in row:
            raise RuntimeError(row["error"])
        rows.append(f"| {label} | {row['seconds']:.2f} | {row['peak_mb']:.0f} | "
                    f"{row['output_bytes']} |")  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def versus(sample: bytes, baseline: Path, repeats: int = 5) -> list[str]:
    """``mdlz -q -c`` on ``sample`` with this checkout's src and with ``baseline`` (another
    checkout's src), runs interleaved so that both see the same load: the fastest wall, the
    fastest CPU (user + sys) and the largest peak, from GNU time."""
    import subprocess
    import tempfile

    ours = Path(__file__).resolve().parents[1] / "src"
    argv = _mdlz()["mdlz (online:2, verified)"]  # ends in -q -c
    runs: dict[Path, list[tuple[float, float, float]]] = {ours: [], baseline: []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample"
        path.write_bytes(sample)
        for i in range(repeats + 1):  # the first round warms both numba caches
            for src in (baseline, ours):
                env = dict(os.environ, PYTHONPATH=str(src))
                if src == baseline:  # its kernels compile to a cache of ours, not into its tree
                    env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba-cache")
                done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *argv, str(path)],
                                      env=env, capture_output=True, check=True)  # fmt: skip
                wall, user, system, kb = map(float, done.stderr.decode().split()[-4:])
                if i:
                    runs[src].append((wall, user + system, kb * 1024 / 1e6))
    rows = [f"| mdlz from | wall s (best of {repeats}) | CPU s (best) | peak MB (largest) |",
            "|---|---:|---:|---:|"]  # fmt: skip
    for src, label in ((baseline, f"{baseline} (baseline)"), (ours, f"{ours} (this change)")):
        r = runs[src]
        rows.append(f"| {label} | {min(x[0] for x in r):.2f} | {min(x[1] for x in r):.2f} | "
                    f"{max(x[2] for x in r):.0f} |")  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", type=Path, default=TEXT, help="folder of the shared texts")
    parser.add_argument("--quick", action="store_true", help="skip the whole-text archives")
    parser.add_argument("--baseline", type=Path, help="another checkout's src to compare with")
    args = parser.parse_args()
    paths = [args.text / name for name in FILES]
    alice = paths[0].read_bytes()
    samples = {"alice29.txt[:5000]": alice[:5000], "alice29.txt[:20000]": alice[:20000],
               "alice29.txt": alice, "asyoulik.txt": paths[1].read_bytes()}  # fmt: skip
    git = git_revision()
    revision = (
        f"{git['commit'][:8]}{' (uncommitted changes)' if git['dirty'] else ''}" if git else "?"
    )
    load = os.getloadavg()[0]
    parts = [
        "# Tables sized to the input (online level 2)\n",
        f"Machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores (load {load:.1f} "
        f"at the start: shared with other jobs), numpy {np.__version__}; mdlkit {revision}. "
        "Command: `PYTHONPATH=src .venv/bin/python benchmarks/table_sizes.py"
        f"{' --quick' if args.quick else ''}"
        f"{f' --text {args.text}' if args.text != TEXT else ''}"
        f"{f' --baseline {args.baseline}' if args.baseline else ''}`\n",
        "## Payload against the table size\n",
        *sweep(samples),
        "\nThe chosen size is clamp(⌈log2 n⌉ + 5, 12, 22) for an input of n bytes (the largest "
        "when the input is more than one 8 MiB block); 22 is the size of every archive made "
        "before tables were sized.\n",
    ]
    if not args.quick:
        parts += ["## The shared texts: `mdlz -q -c` (default level, compress + verify)\n",
                  *texts(paths), ""]  # fmt: skip
    parts += [
        "## `mdlz -q -c` in a fresh process (compress + verify)\n",
        *startup(alice[:5000]),
        "\nWall: the whole process (start-up, imports, loading the cached kernels, tables, "
        "compression, verification by decoding); peak: its resident memory (MB = 10^6 B).\n",
    ]
    if args.baseline is not None:
        parts += [
            "## Against the baseline, same load (5,000 B of alice29.txt, interleaved runs)\n",
            *versus(alice[:5000], args.baseline),
            "\nCPU: user + sys of the whole process (less sensitive to the machine's load than "
            "the wall time).\n",
        ]
    publish("table_sizes.md", "\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
