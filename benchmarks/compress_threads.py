"""mdlz with independent blocks: wall time and size with -T 1 and -T 2, by block size, and xz.

For each block size (8M, the default; 1M; 256K) tinyshakespeare.txt is compressed and then
decompressed by ``mdlz`` in fresh processes with ``-T 1`` and ``-T 2`` (interleaved, so both
see the same load), and by ``xz -9e`` with ``-T1`` and ``-T2``, all in one run. Reported: the
archive's size and bits per byte, what a block size costs against one block, wall times and
their ratio -T 1 / -T 2. Archives made with -T 1 and -T 2 must be byte-identical and decode to
the input (checked). Compression runs with ``--no-verify`` so the times are one pass each.

A second table does not depend on the machine's other jobs: the same runs in this process,
each block's CPU seconds (``time.process_time`` inside the process that codes it) summed per
process. The busiest process's sum is the critical path: on free cores the wall time of -T 2
is about that plus start-up, and the estimated speed-up is -T 2's total CPU over its critical
path (both from the same run: CPU seconds of one block vary by up to ±20 % from run to run
here, so -T 1's total is shown but not divided by). On a machine whose cores are busy with
other sessions' jobs, Linux's autogroup scheduler gives a session the same share of CPU however
many processes it runs, so -T 2's measured wall time there shows little gain.

Run: ``.venv/bin/python benchmarks/compress_threads.py [--file PATH] [--level 2]``; writes
``benchmarks/results/compress_threads.md``. The machine's cores may be shared with other jobs:
compare times within one run only (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _publish import cpu_name, publish

import mdlkit.compression.blocks as blocks
from mdlkit.compression import compress_stream, decompress_stream

HERE = Path(__file__).resolve()
CANDIDATES = [p / "shared" / "data" / "text" for p in (HERE.parents[2], HERE.parents[3])]
BLOCKS = ("8M", "1M", "256K")
THREADS = (1, 2)


def _find(name: str) -> Path | None:
    for folder in CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    return None


def _timed(command: list[str], stdin: Path, stdout: Path) -> float:
    """Wall seconds of ``command`` reading ``stdin`` and writing ``stdout`` (fails loudly)."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1] / "src"))
    with stdin.open("rb") as src, stdout.open("wb") as dst:
        start = time.perf_counter()
        subprocess.run(command, stdin=src, stdout=dst, env=env, check=True)
        return time.perf_counter() - start


_CPU_LOG = Path(tempfile.gettempdir()) / f"compress_threads.{os.getpid()}.cpu"
_ENCODE, _DECODE = blocks.encode_block, blocks.decode_block


def _logged(function: object, *args: object) -> object:
    """Run one block's coder and log this process's id and the CPU seconds it took."""
    start = time.process_time()
    result = function(*args)  # type: ignore[operator]
    with _CPU_LOG.open("a") as log:
        log.write(f"{os.getpid()} {time.process_time() - start}\n")
    return result


def _encode(*args: object) -> object:
    return _logged(_ENCODE, *args)


def _decode(*args: object) -> object:
    return _logged(_DECODE, *args)


def _cpu_by_process() -> dict[str, float]:
    by_pid: dict[str, float] = {}
    for line in _CPU_LOG.read_text().splitlines():
        pid, seconds = line.split()
        by_pid[pid] = by_pid.get(pid, 0.0) + float(seconds)
    _CPU_LOG.unlink()
    return by_pid


def _critical_paths(data: bytes, level: int) -> list[str]:
    """Rows of the CPU table: per block size and -T, total CPU and the busiest process's."""
    import io

    warm = io.BytesIO()  # load the compiled kernels before timing
    compress_stream(io.BytesIO(data[:3000]), warm, level=level)
    decompress_stream(io.BytesIO(warm.getvalue()), io.BytesIO())
    blocks.encode_block, blocks.decode_block = _encode, _decode  # type: ignore[assignment]
    rows = []
    for block in BLOCKS[1:]:  # the default is one block for this file: nothing to share
        cpu: dict[tuple[str, int], tuple[float, float]] = {}
        for t in THREADS:
            out = io.BytesIO()
            compress_stream(io.BytesIO(data), out, level=level, threads=t,
                            block_bytes=_bytes(block))  # fmt: skip
            by = _cpu_by_process()
            cpu["compress", t] = (sum(by.values()), max(by.values()))
            decompress_stream(io.BytesIO(out.getvalue()), io.BytesIO(), threads=t)
            by = _cpu_by_process()
            cpu["decompress", t] = (sum(by.values()), max(by.values()))
        cells = []
        for what in ("compress", "decompress"):
            (one, _), (total, busiest) = cpu[what, 1], cpu[what, 2]
            cells.append(f"{one:.1f} s | {total:.1f} s | {busiest:.1f} s | {total / busiest:.2f}×")
        rows.append(f"| {block} | {' | '.join(cells)} |")
        print(rows[-1], flush=True)
    blocks.encode_block, blocks.decode_block = _ENCODE, _DECODE
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=_find("tinyshakespeare.txt"))
    parser.add_argument("--level", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()
    if args.file is None or not args.file.is_file():
        print(f"tinyshakespeare.txt not found under {CANDIDATES}; give --file")
        return 1
    data = args.file.read_bytes()
    n = len(data)
    mdlz = [sys.executable, "-m", "mdlkit.cli.mdlz", f"-{args.level}"]
    load_before = os.getloadavg()
    rows: list[tuple[str, int, dict[int, float], dict[int, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Warm the kernels' on-disk cache so no run pays numba's compile.
        small = work / "warm.txt"
        small.write_bytes(data[:2000])
        _timed([*mdlz, "-c", "--no-verify"], small, work / "warm.mdlz")
        if shutil.which("xz"):
            packed: dict[int, float] = {}
            unpacked: dict[int, float] = {}
            for t in THREADS:
                packed[t] = _timed(["xz", "-9e", f"-T{t}", "-c"], args.file, work / f"x{t}.xz")
                unpacked[t] = _timed(["xz", "-d", f"-T{t}", "-c"], work / f"x{t}.xz",
                                     work / f"x{t}.out")  # fmt: skip
                assert (work / f"x{t}.out").read_bytes() == data
            rows.append(("xz -9e", (work / "x1.xz").stat().st_size, packed, unpacked))
        for block in BLOCKS:
            packed, unpacked = {}, {}
            for t in THREADS:
                out = work / f"{block}-{t}.mdlz"
                packed[t] = _timed([*mdlz, "-c", "--no-verify", "-T", str(t), "--block-size",
                                    block], args.file, out)  # fmt: skip
                print(f"compressed {block} -T {t}: {packed[t]:.1f} s", flush=True)
            archives = [(work / f"{block}-{t}.mdlz").read_bytes() for t in THREADS]
            assert archives[0] == archives[1], f"-T 1 and -T 2 differ at block {block}"
            for t in THREADS:
                back = work / f"{block}-{t}.out"
                unpacked[t] = _timed([*mdlz, "-dc", "-T", str(t)], work / f"{block}-1.mdlz",
                                     back)  # fmt: skip
                assert back.read_bytes() == data, f"round trip failed at block {block}"
                print(f"decompressed {block} -T {t}: {unpacked[t]:.1f} s", flush=True)
            rows.append((f"mdlz -{args.level} --block-size {block}", len(archives[0]), packed,
                         unpacked))  # fmt: skip
    critical = _critical_paths(data, args.level)
    load_after = os.getloadavg()
    one_block = next(size for name, size, _, _ in rows if name.endswith(BLOCKS[0]))
    lines = [
        "| compressor | blocks | archive bytes | bits/byte | vs one block | compress -T1 | -T2 "
        "| ratio | decompress -T1 | -T2 | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, size, packed, unpacked in rows:
        block = name.split()[-1] if name.startswith("mdlz") else ""
        count = str(-(-n // _bytes(block))) if block else "1"
        cost = f"{100 * (size / one_block - 1):+.2f} %" if block else "—"
        lines.append(
            f"| {name} | {count} | {size:,} | {8 * size / n:.3f} | {cost} "
            f"| {packed[1]:.1f} s | {packed[2]:.1f} s | {packed[1] / packed[2]:.2f}× "
            f"| {unpacked[1]:.1f} s | {unpacked[2]:.1f} s | {unpacked[1] / unpacked[2]:.2f}× |"
        )
    text = (
        "# mdlz: independent blocks and worker processes (-T)\n\n"
        f"Input: {args.file.name}, {n:,} bytes. Machine: {platform.machine()}, {cpu_name()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {load_before[0]:.1f} "
        f"before, {load_after[0]:.1f} after), Python {platform.python_version()}. Wall times "
        "of one fresh process each (start-up included), all in one run; -T 1 and -T 2 were "
        "run back to back, so their ratio is the figure to read. Command: `.venv/bin/python "
        f"benchmarks/compress_threads.py --level {args.level}`.\n\n"
        + "\n".join(lines)
        + "\n\nThe archives of -T 1 and -T 2 were byte-identical at every block size, and every "
        "archive decoded to the input. 'vs one block': the archive's size against the default "
        "(8M, one block for this file: the model sees the whole file). A worker holds one "
        "block and its model's tables (464 MB at 22 table bits).\n\n"
        "CPU seconds of the block coders, the same runs in one process (see the script's "
        "docstring): -T 1's total, -T 2's total and its busiest process (the critical path), "
        "and the speed-up -T 2 would have on two free cores (its total over its critical path; "
        "8M is one block for this file: nothing to share).\n\n"
        "| block | compress CPU -T1 | -T2 total | -T2 busiest | est. speed-up | decompress CPU "
        "-T1 | -T2 total | -T2 busiest | est. speed-up |\n|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(critical)
        + "\n"
    )
    publish("compress_threads.md", text)
    return 0


def _bytes(size: str) -> int:
    return int(size[:-1]) << {"K": 10, "M": 20}[size[-1]]


if __name__ == "__main__":
    raise SystemExit(main())
