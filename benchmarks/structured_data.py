"""Structured data: mdlkit's record and markup models against xz, zstd, bzip2 and PPMd, in one run.

Four inputs made here, deterministically (no download): a table of 32-byte order records (id,
day, price, name, quantity, status), a sensor log of 16-byte records (time stamp, three
accelerometer axes, temperature, status), 28×28 grey images stored row by row (synthetic blobs;
the first MNIST training images with ``--mnist PATH``), and a CSV text of the same orders (the
control: lines of similar length are text, and the record models must stay off). ``--file``
adds files of your own (e.g. an HTML page, for the markup model).

Per input: the bytes of xz -9e, zstd -19, bzip2 -9, PPMd (variant I, best of orders 4, 6, 8,
256 MiB) and mdlkit's online level 2 with the record and markup models (archive format 5, both
chosen per block) and without them (the same archive with record length 0 and no markup), each
mdlkit archive decoded back and compared. Speeds are wall time on a shared machine: compare
within a run.

Run: ``.venv/bin/python benchmarks/structured_data.py`` (needs the ``bench`` extra for zstd and
PPMd); writes ``benchmarks/results/structured_data.md``.
"""

from __future__ import annotations

import argparse
import io
import platform
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _publish import cpu_name, publish

import mdlkit.compression.structure as structure
from mdlkit.compression import compress, decompress
from mdlkit.compression.archive import MARKUP_FLAG, parse_coded, read_header, read_records
from mdlkit.compression.baselines import codec, ppmd_stream, unavailable

_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november"
NAMES = [w.encode() for w in _WORDS.split()]


def orders(n: int = 20_000) -> tuple[bytes, bytes]:
    """n order records of 32 bytes (little endian: id u32, day u32, price f32, name 16 bytes,
    quantity u16, status u8, pad), and the same orders as CSV text."""
    rng = np.random.default_rng(0)
    table, lines = bytearray(), [b"id,day,price,name,quantity,status"]
    price, day = 100.0, 19_000
    for i in range(n):
        price = max(1.0, price * (1 + rng.normal(0, 0.01)))
        day += int(rng.random() < 0.3)
        name = NAMES[rng.integers(len(NAMES))] if rng.random() < 0.5 else NAMES[i % 7]
        qty, status = int(rng.geometric(0.2)), int(rng.integers(0, 4))
        table += struct.pack("<IIf16sHBx", i + 1, day, price, name, qty, status)
        lines.append(b"%d,%d,%.2f,%s,%d,%d" % (i + 1, day, np.float32(price), name, qty, status))
    return bytes(table), b"\n".join(lines) + b"\n"


def sensor_log(n: int = 30_000) -> bytes:
    """n records of 16 bytes: time stamp in ms (u32, 10 ms apart with jitter), three axes
    (i16, random walks), temperature (f32, slow drift), status (u16, rarely changing)."""
    rng = np.random.default_rng(1)
    t = np.cumsum(10 + rng.integers(-1, 2, n)).astype("<u4")
    axes = np.clip(np.cumsum(rng.integers(-20, 21, (n, 3)), axis=0), -32768, 32767).astype("<i2")
    temp = (21.5 + np.cumsum(rng.normal(0, 0.002, n))).astype("<f4")
    status = np.repeat(rng.integers(0, 5, n // 500 + 1), 500)[:n].astype("<u2")
    rows = np.zeros(n, dtype=[("t", "<u4"), ("a", "<i2", 3), ("temp", "<f4"), ("s", "<u2")])
    rows["t"], rows["a"], rows["temp"], rows["s"] = t, axes, temp, status
    return rows.tobytes()


def blobs(n: int = 400) -> bytes:
    """n 28×28 grey images (u8), a soft stroke-like blob on black each, row by row."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:28, 0:28]
    images = []
    for _ in range(n):
        cy, cx = rng.uniform(9, 19, 2)
        ry, rx = rng.uniform(3, 8), rng.uniform(2, 6)
        d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        images.append(np.clip(255 * (1.3 - d), 0, 255).astype(np.uint8))
    return np.stack(images).tobytes()


def _mdlkit(data: bytes, models_on: bool) -> tuple[int, float, float, str]:
    """(archive bytes, compress s, decompress s, the first block's record length and markup)."""
    found = structure.structure
    if not models_on:  # record length 0 and no markup: the same format, those models off
        structure.structure = lambda block, cost=None: (0, False)  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        archive = compress(data, level=2, verify=False)
        seconds = time.perf_counter() - started
    finally:
        structure.structure = found  # type: ignore[assignment]
    started = time.perf_counter()
    if decompress(archive) != data:
        raise SystemExit("mdlkit's archive did not decode to its input")
    back = time.perf_counter() - started
    src = io.BytesIO(archive)
    header = read_header(src)
    first = next(iter(read_records(src, header.version)))
    coded = parse_coded(first.body, 1 << 27) if first.tag == 1 else None
    models = [] if coded is None else [f"record {coded.record}"] * (coded.record > 0)
    models += ["markup"] * bool(coded is not None and coded.flags & MARKUP_FLAG)
    return len(archive), seconds, back, ", ".join(models) or "none"


def _timed(compress_fn: Callable[[bytes], bytes], data: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    size = len(compress_fn(data))
    return size, time.perf_counter() - started


def measure(name: str, data: bytes) -> list[str]:
    """The table rows of one input."""
    sizes: dict[str, tuple[int, float]] = {}
    for key, label in (("xz", "xz -9e"), ("zstd", "zstd -19"), ("bzip2", "bzip2 -9")):
        if unavailable(key) is None:
            sizes[label] = _timed(codec(key)[0], data)
    if unavailable("ppmd") is None:
        sizes["PPMd"] = min(_timed(lambda d, o=o: ppmd_stream(d, o, 256, "I"), data)
                            for o in (4, 6, 8))  # fmt: skip
    on = _mdlkit(data, True)
    off = _mdlkit(data, False)
    xz = sizes["xz -9e"][0]
    rows = []
    for label, (size, seconds) in sizes.items():
        speed = len(data) / 1e3 / seconds
        rows.append(f"| {name} | {label} | {size:,} | {8 * size / len(data):.3f} | "
                    f"{100 * (size / xz - 1):+.1f} % | {speed:,.0f} | — |")  # fmt: skip
    for label, (size, seconds, back, models) in (("mdlkit online:2, record/markup off", off),
                                                 ("mdlkit online:2 (format 5)", on)):  # fmt: skip
        rows.append(f"| {name} | {label} | {size:,} | {8 * size / len(data):.3f} | "
                    f"{100 * (size / xz - 1):+.1f} % | {len(data) / 1e3 / seconds:,.0f} / "
                    f"{len(data) / 1e3 / back:,.0f} | {models} |")  # fmt: skip
    print("\n".join(rows), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", type=Path, help="an mnist.npz: its first 400 training images")
    parser.add_argument("--file", type=Path, action="append", default=[], help="a file of yours")
    args = parser.parse_args()
    table, csv = orders()
    inputs = {"orders table (20,000 × 32 B)": table, "sensor log (30,000 × 16 B)": sensor_log()}
    if args.mnist is not None:
        with np.load(args.mnist) as npz:
            inputs["MNIST, first 400 images (28×28 u8)"] = npz["x_train"][:400].tobytes()
    else:
        inputs["synthetic blobs (400 × 28×28 u8)"] = blobs()
    inputs["orders as CSV (text, control)"] = csv
    for path in args.file:
        inputs[path.name] = path.read_bytes()
    header = ["| input | compressor | bytes | bits/byte | vs xz -9e | KB/s (comp. / decomp.) | "
              "models |", "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    compress(bytes(range(256)) * 64, verify=False)  # load (or compile) the kernels first
    rows = [row for name, data in inputs.items() for row in measure(name, data)]
    command = (
        "`.venv/bin/python benchmarks/structured_data.py"
        + (f" --mnist {args.mnist}" if args.mnist else "")
        + "".join(f" --file {p}" for p in args.file)
        + "`"
    )
    text = (
        "# Structured data: record and markup models\n\n"
        f"Machine: {platform.machine()}, {cpu_name()}, 2 cores shared with other jobs (speeds "
        f"are wall time, comparable within this run only). Command: {command}.\n\n"
        + "\n".join(header + rows)
        + "\n\n'models': what mdlkit turned on for the input's first block (record length in "
        "bytes, markup). "
        "Every mdlkit archive here was decoded back and compared with its input. paq8px is not "
        "installed on this machine: it is not in the table.\n"
    )
    publish("structured_data.md", text)


if __name__ == "__main__":
    main()
