"""General-purpose compressors and mdlkit's own on three text files, measured in one run.

gzip -9, bzip2 -9, xz -9e, zstd -19, brotli -11, PPMd (variants H and I, best order per file) and
mdlkit's modes on alice29.txt, asyoulik.txt (Canterbury corpus) and tinyshakespeare.txt from
``../shared/data/text`` (missing files are skipped with a message): bits per byte, speeds, peak
memory and a round-trip check, through the same code as ``mdlkit bench-compress``.

Run: ``.venv/bin/python benchmarks/compress_table.py`` (``--no-mdlkit`` for the baselines only);
writes ``benchmarks/results/compress_table.md`` and ``compress_table.png``. Needs
``pip install -e '.[bench]'`` for zstd, brotli and PPMd (otherwise those rows are skipped).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from _publish import RESULTS, cpu_name, publish

from mdlkit.compression.baselines import library_versions
from mdlkit.recipes import BenchCompressConfig, run_bench_compress
from mdlkit.runs import git_revision

TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"
FILES = ("alice29.txt", "asyoulik.txt", "tinyshakespeare.txt")
REPEATS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-mdlkit", action="store_true", help="baselines only")
    args = parser.parse_args()
    paths = [TEXT / name for name in FILES]
    for path in paths:
        if not path.is_file():
            print(f"skipping {path.name}: not found at {path}")
    paths = [p for p in paths if p.is_file()]
    if not paths:
        print(f"no text files under {TEXT}; nothing to measure")
        return 0
    config = BenchCompressConfig(
        files=tuple(str(p) for p in paths),
        ppmd_variants=("H", "I"),
        repeats=REPEATS,
        **({"mdlkit_modes": ()} if args.no_mdlkit else {}),
    )
    result = run_bench_compress(config, raise_on_failure=False)
    v = library_versions()
    git = git_revision()
    if git is not None:
        v["mdlkit"] += f" ({git['commit'][:8]}{', uncommitted changes' if git['dirty'] else ''})"
    command = "`.venv/bin/python benchmarks/compress_table.py" + (
        " --no-mdlkit`" if args.no_mdlkit else "`"
    )
    text = (
        "# Compressors on text: size, speed, memory\n\n"
        f"Machine: {platform.machine()}, {cpu_name()}, Python {v['python']}, zlib {v['zlib']}, "
        f"zstandard {v['zstandard']}, brotli {v['brotli']}, pyppmd {v['pyppmd']}, "
        f"torch {v['torch']}, mdlkit {v['mdlkit']}; timings are the best of {REPEATS} on a "
        f"machine shared with other jobs. Command: {command}\n\n"
        "Model bytes: every size is the whole output of the compress call, which a fresh "
        "process decompresses given nothing else; the programs (and anything shipped inside "
        "them) are not counted.\n\n"
        + (
            "**Baselines only: mdlkit's rows were left out (--no-mdlkit).**\n\n"
            if args.no_mdlkit
            else ""
        )
        + f"{result.markdown()}"
    )
    publish("compress_table.md", text)
    result.plot(RESULTS / "compress_table.png")
    if result.failed:
        print("round trip FAILED:", *result.failed, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
