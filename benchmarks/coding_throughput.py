"""Throughput and overhead of mdlkit's coders on this machine.

- Labels: 60,000 ten-way symbols (MNIST-sized) range-coded with random model probabilities:
  encode and decode time, coded vs ideal bits.
- Weights: LeNet-300-100 (266,610 parameters) at 8 % density, quantized on a grid of 0.01:
  file size vs float32 and 4-bytes-per-nonzero, encode and decode time, exact round trip.

Run: ``.venv/bin/python benchmarks/coding_throughput.py``; figures go to stdout and to
``benchmarks/results/coding_throughput.md``.
"""

from __future__ import annotations

import platform
import time

import numpy as np
import torch
from _publish import publish

from mdlkit.coding import (
    decode_categorical,
    decode_model,
    encode_categorical,
    encode_model,
)
from mdlkit.models import ModelSpec
from mdlkit.pruning import quantize_model


def labels_benchmark() -> list[str]:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.2), size=60000)
    labels = (probs.cumsum(axis=1) > rng.random((60000, 1))).argmax(axis=1)
    t0 = time.perf_counter()
    enc = encode_categorical(labels, probs)
    t1 = time.perf_counter()
    ok = np.array_equal(decode_categorical(enc.words, probs), labels)
    t2 = time.perf_counter()
    gap = 100 * (enc.coded_bits - enc.ideal_bits) / enc.ideal_bits
    return [
        f"| labels 60k × 10 | ideal {enc.ideal_bits:,.0f} bits | coded {enc.coded_bits:,} bits "
        f"({gap:+.4f} %) | encode {1e3 * (t1 - t0):.1f} ms | decode {1e3 * (t2 - t1):.1f} ms "
        f"| round trip {'exact' if ok else 'FAILED'} |"
    ]


def weights_benchmark() -> list[str]:
    spec = ModelSpec("lenet-300-100")
    torch.manual_seed(0)
    model = spec.build()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_((torch.rand(p.shape, generator=gen) < 0.08).float())
    t0 = time.perf_counter()
    enc = encode_model(model, spec, 0.01)
    t1 = time.perf_counter()
    decoded = decode_model(enc.data)
    t2 = time.perf_counter()
    quantize_model(model, enc.step)
    ok = all(
        torch.equal(a, b) for a, b in zip(model.parameters(), decoded.parameters(), strict=True)
    )
    return [
        f"| LeNet-300-100, {enc.nonzero:,} nonzero of {enc.total:,} | float32 dense "
        f"{32 * enc.total:,} bits | 4 B/nonzero {32 * enc.nonzero:,} bits | codec "
        f"{enc.length.total:,.0f} bits ({enc.length.total / enc.nonzero:.2f} bits/nonzero) | "
        f"encode {t1 - t0:.2f} s | decode {t2 - t1:.2f} s | "
        f"round trip {'exact' if ok else 'FAILED'} |"
    ]


def main() -> None:
    torch.set_num_threads(1)
    lines = [
        "# Coding throughput",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, torch "
        f"{torch.__version__}, 1 thread. "
        "Command: `.venv/bin/python benchmarks/coding_throughput.py`",
        "",
        *labels_benchmark(),
        *weights_benchmark(),
    ]
    text = "\n".join(lines) + "\n"
    publish("coding_throughput.md", text)


if __name__ == "__main__":
    main()
