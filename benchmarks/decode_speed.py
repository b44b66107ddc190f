"""Light and fast (issue 22): the online mode's speed both ways, its ratio, and ``mdlz`` on a
small file, for this checkout beside another (e.g. main), in one run with interleaved turns.

1. The three shared texts at the default level (online 2) and at level 1: compress and then
   decompress each in a fresh child process per checkout (its kernels loaded by a small
   warm-up first, so the figures are the coding alone: the tables, the model, the coder),
   turns interleaved baseline / this checkout. KB/s = original bytes (1 KB = 1000 B) per
   second of CPU time (user + sys of the child, best of ``--repeats``: the machine is shared,
   and CPU time varies less than wall time under load) and per second of wall time; bits per
   byte of the whole archive; the round trip checked.
2. ``mdlz -q -c`` (compress + verify) on 5,000 bytes of alice29.txt and ``mdlz --help`` in fresh
   processes, numba's cache warm (one untimed round first): wall, CPU (user + sys) and peak
   resident memory from GNU time, best (peak: largest) of ``--repeats``.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/decode_speed.py --baseline OTHER/src
[--text DIR] [--repeats 2] [--levels 2 1] [--quick]`` (``--quick``: alice29.txt only); writes
``benchmarks/results/decode_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from _publish import cpu_name, publish

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"
FILES = ("alice29.txt", "asyoulik.txt", "tinyshakespeare.txt")
OURS = Path(__file__).resolve().parents[1] / "src"

# The child: warm the kernels up, then time compress and decompress of one file (CPU and wall).
_CHILD = """
import json, sys, time
from mdlkit.compression import compress, decompress
path, level = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
decompress(compress(data[:2000], level=level))
def timed(f, x):
    c, w = time.process_time(), time.perf_counter()
    y = f(x)
    return y, time.process_time() - c, time.perf_counter() - w
archive, c_cpu, c_wall = timed(lambda d: compress(d, level=level, verify=False), data)
back, d_cpu, d_wall = timed(decompress, archive)
print(json.dumps({"bytes": len(data), "archive": len(archive), "ok": back == data,
                  "c_cpu": c_cpu, "c_wall": c_wall, "d_cpu": d_cpu, "d_wall": d_wall}))
"""


def _env(src: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src))
    if src != OURS:  # its kernels compile to a cache of ours, not into its tree
        env["NUMBA_CACHE_DIR"] = str(cache)
    return env


def speeds(paths: list[Path], levels: list[int], sides: dict[str, Path], repeats: int,
           cache: Path) -> list[str]:  # fmt: skip
    rows = [
        "| file | level | mdlz from | bits/byte | compress KB/s (CPU) | decompress KB/s (CPU) "
        "| compress KB/s (wall) | decompress KB/s (wall) | decompress / compress (CPU) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for path in paths:
        for level in levels:
            best: dict[str, dict[str, float]] = {}
            for _ in range(repeats):
                for label, src in sides.items():
                    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(level)],
                                          env=_env(src, cache), capture_output=True, text=True,
                                          check=True)  # fmt: skip
                    r = json.loads(done.stdout.splitlines()[-1])
                    if not r["ok"]:
                        raise RuntimeError(f"{label}: {path.name} did not round trip")
                    old = best.setdefault(label, r)
                    for key in ("c_cpu", "c_wall", "d_cpu", "d_wall"):
                        old[key] = min(old[key], r[key])
            for label, r in best.items():
                kb = r["bytes"] / 1e3
                rows.append(
                    f"| {path.name} | {level} | {label} | {8 * r['archive'] / r['bytes']:.4f} | "
                    f"{kb / r['c_cpu']:.0f} | {kb / r['d_cpu']:.0f} | {kb / r['c_wall']:.0f} | "
                    f"{kb / r['d_wall']:.0f} | {r['c_cpu'] / r['d_cpu']:.2f} |"
                )
                print(rows[-1], flush=True)
    return rows


def startup(sample: bytes, sides: dict[str, Path], repeats: int, cache: Path) -> list[str]:
    script = Path(sys.executable).parent / "mdlz"
    mdlz = [str(script)] if script.exists() else [sys.executable, "-m", "mdlkit.cli.mdlz"]
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample"
        path.write_bytes(sample)
        commands = {"mdlz -q -c (5,000 B, compress + verify)": [*mdlz, "-q", "-c", str(path)],
                    "mdlz --help": [*mdlz, "--help"]}  # fmt: skip
        for i in range(repeats + 1):  # the first round warms both numba caches
            for name, argv in commands.items():
                for label, src in sides.items():
                    done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *argv],
                                          env=_env(src, cache), capture_output=True,
                                          check=True)  # fmt: skip
                    wall, user, system, kb = map(float, done.stderr.decode().split()[-4:])
                    if i:
                        runs.setdefault((name, label), []).append(
                            (wall, user + system, kb * 1024 / 1e6)
                        )
    rows = [f"| command | mdlz from | wall s (best of {repeats}) | CPU s (best) | "
            "peak MB (largest) |", "|---|---|---:|---:|---:|"]  # fmt: skip
    for (name, label), r in runs.items():
        rows.append(f"| {name} | {label} | {min(x[0] for x in r):.2f} | "
                    f"{min(x[1] for x in r):.2f} | {max(x[2] for x in r):.0f} |")  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout's src")
    parser.add_argument("--text", type=Path, default=TEXT, help="folder of the shared texts")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--levels", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--quick", action="store_true", help="alice29.txt only")
    args = parser.parse_args()
    paths = [args.text / name for name in (FILES[:1] if args.quick else FILES)]
    sides = {f"{args.baseline} (baseline)": args.baseline, f"{OURS} (this branch)": OURS}
    revision = subprocess.run(["git", "-C", str(OURS.parent), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    command = (f"PYTHONPATH=src .venv/bin/python benchmarks/decode_speed.py --baseline "
               f"{args.baseline} --repeats {args.repeats} --levels "
               f"{' '.join(map(str, args.levels))}{' --quick' if args.quick else ''}"
               f"{f' --text {args.text}' if args.text != TEXT else ''}")  # fmt: skip
    sample = (args.text / FILES[0]).read_bytes()[:5000]
    with tempfile.TemporaryDirectory(prefix="mdlkit-numba-") as cache:
        parts = [
            "# Light and fast: the online mode both ways, and mdlz on a small file\n",
            f"Machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores (load "
            f"{os.getloadavg()[0]:.1f} at the start: shared with other jobs); this branch at "
            f"{revision}. Command: `{command}`\n",
            "## Speed and size on the shared texts (fresh child per run, kernels warmed up)\n",
            *speeds(paths, args.levels, sides, args.repeats, Path(cache)),
            "\nKB/s = original bytes (1 KB = 1000 B) per second of the compress or decompress "
            "call (CPU: user + sys of the child; wall: elapsed), best of the repeats; the "
            "kernels were loaded by a 2,000-byte round trip first (their load is in the "
            "start-up figures below). bits/byte: the whole archive.\n",
            "## `mdlz` in a fresh process (numba's cache warm)\n",
            *startup(sample, sides, max(3, args.repeats), Path(cache)),
            "\nWall and CPU: the whole process (interpreter, imports, loading the cached "
            "kernels, tables, compression, verification by decoding); peak: its resident "
            "memory (GNU time's %M, MB = 10^6 B).\n",
        ]
    publish("decode_speed.md", "\n".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
