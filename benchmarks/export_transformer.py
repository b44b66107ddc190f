"""`mdlkit export ARCHIVE.mdlz` on the byte transformer of a two-part archive: the model without
its dead attention heads and feed-forward units beside the decoded dense one, in one run.

The archive is made first (``mdlkit compress FILE --mode two-part --level L``) from a prefix of
a text (default: the first 100,000 bytes of ../shared/data/text/tinyshakespeare.txt), then
exported with ``--onnx`` when onnx is installed (``pip install 'mdlkit[onnx]'``), which also
runs model.onnx with onnxruntime against the decoded model.

Run: ``.venv/bin/python benchmarks/export_transformer.py [--text FILE] [--bytes 100000]
[--level 1] [--calls 200] [--threads 1]``; writes ``results/export_transformer.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from _publish import cpu_name, publish

from mdlkit.recipes import CompressConfig, run_compress
from mdlkit.recipes.export import ExportConfig, run_export
from mdlkit.runs import RunFolder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "tinyshakespeare.txt"
# (from a git worktree elsewhere, give --text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text", type=Path, default=SHARED)
    parser.add_argument("--bytes", type=int, default=100_000)
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    onnx = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"{args.text.stem}-{args.bytes}.txt"
        source.write_bytes(args.text.read_bytes()[: args.bytes])
        archive = Path(tmp) / "text.mdlz"
        start = time.perf_counter()
        line = run_compress(CompressConfig(str(source), output=str(archive), mode="two-part",
                                           level=args.level))  # fmt: skip
        compress_seconds = time.perf_counter() - start
        config = ExportConfig(str(archive), calls=args.calls, threads=args.threads, onnx=onnx)
        result = run_export(config, folder=RunFolder(Path(tmp) / "export"))
        sizes = json.loads((Path(tmp) / "export" / "architecture.json").read_text())
    load = os.getloadavg()[0]
    command = (
        f"mdlkit compress {args.text.name}[:{args.bytes}] --mode two-part --level {args.level}; "
        f"mdlkit export ARCHIVE --calls {args.calls} --threads {args.threads}"
        + (" --onnx" if onnx else "")
    )
    text = "\n\n".join(
        [
            "# Export of a two-part archive's byte transformer: dead heads and units removed",
            f"Commands: `{command}` (run by `benchmarks/export_transformer.py`). "
            f"{platform.platform()}, {cpu_name()}, torch {torch.__version__}; load average at "
            f"the end {load:.1f} (the machine is shared: latencies are medians, both networks "
            "taking turns).",
            f"Compression: {line} ({compress_seconds:.0f} s with training).",
            "Blocks kept (heads, head width, feed-forward units): "
            f"{sizes['transformer']['blocks']}",
            "```\n" + result.report().text() + "\n```",
            "\n".join(f"- {note}" for note in result.report().notes),
            "The tolerance 1e-5 is that of the MLP and CNN exports; a transformer's float32 logits "
            "already differ from the same model in float64 by the rounding the notes give, so an "
            "ONNX runtime's other kernels differ from torch's by about as much.",
        ]
    )
    publish("export_transformer.md", text + "\n")


if __name__ == "__main__":
    main()
