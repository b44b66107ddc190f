"""MNIST labels (60,000): the variational code, ideal and as a real bits-back stream.

Trains q (Bayes by Backprop, local reparameterisation, learned per-tensor prior scale) on
the 60,000 training images, reports the ideal length KL + E[NLL] + prior choice, then codes
the labels by bits-back with constriction's ANS stack (:mod:`mdlkit.codes.bits_back`) and
decodes them back. Blier & Ollivier (2018, Table 1) report 22.2 kbit for the variational code
on MNIST. Needs the MNIST file (``MDLKIT_MNIST`` or ../shared/data/mnist.npz).

``--verify retrain`` decodes as a receiver would, re-running the training on the decoded
labels to get q (twice the time); ``--verify posterior`` hands the decoder the encoder's q.

Run: ``.venv/bin/python benchmarks/mnist_variational.py [--epochs 100] [--hidden 64]``;
writes ``results/mnist_variational.md`` (``--out`` another name).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _publish import cpu_name, publish
from torch.func import functional_call

from mdlkit.codes.bits_back import decode_bits_back, encode_bits_back
from mdlkit.codes.variational import train_posterior, variational_code
from mdlkit.models import ModelSpec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
PAPER_KBIT = 22.2


def load(path: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    with np.load(path) as f:
        xs = [torch.from_numpy(f[k].astype(np.float32) / 255.0) for k in ("x_train", "x_test")]
        ys = [torch.from_numpy(f[k].astype(np.int64)) for k in ("y_train", "y_test")]
    return xs[0].reshape(-1, 784), ys[0], xs[1].reshape(-1, 784), ys[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hidden", type=int, nargs="*", default=[64])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--init-sigma", type=float, default=1e-3)
    parser.add_argument("--fixed-prior", action="store_true", help="do not learn σ0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=60000, help="code the first N labels")
    parser.add_argument("--out", default="mnist_variational.md", help="file under results/")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--verify", default="posterior", choices=["posterior", "retrain"])
    parser.add_argument(
        "--draws", type=int, default=40, help="bits-back streams from this many seeds (≥ 1)"
    )
    parser.add_argument("--mc-samples", type=int, default=40, help="draws for E[NLL]")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, x_test, y_test = load(Path(os.environ.get("MDLKIT_MNIST", SHARED)))
    x, y = x[: args.n], y[: args.n]
    n = len(x)
    spec = ModelSpec("mlp", {"sizes": [784, *args.hidden, 10]})
    train_kwargs = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "init_sigma": args.init_sigma,
        "learn_prior": not args.fixed_prior,
        "seed": args.seed,
    }
    t = time.perf_counter()
    var = variational_code(x, y, 10, spec, mc_samples=args.mc_samples, **train_kwargs)  # type: ignore[arg-type]
    t_train = time.perf_counter() - t
    post = var.posterior
    assert post is not None
    with torch.no_grad():
        test_acc = float(
            (functional_call(spec.build(), post.mu, (x_test,)).argmax(1) == y_test).float().mean()
        )
    t = time.perf_counter()
    code = encode_bits_back(post, x, y, 10, seed=args.seed)
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    if args.verify == "retrain":
        decoded = decode_bits_back(
            code.stream,
            x,
            10,
            spec,
            lambda labels: train_posterior(x, torch.from_numpy(labels), spec, **train_kwargs),  # type: ignore[arg-type]
        )
    else:
        decoded = decode_bits_back(code.stream, x, 10, spec, post)
    t_dec = time.perf_counter() - t
    ok = bool(np.array_equal(decoded, y.numpy()))
    # More draws (other borrowed words): the coded length of one draw varies with its NLL.
    draws = [code]
    for extra in range(1, args.draws):
        other = encode_bits_back(post, x, y, 10, seed=args.seed + extra)
        back = decode_bits_back(other.stream, x, 10, spec, post)
        ok = ok and bool(np.array_equal(back, y.numpy()))
        draws.append(other)
    mean_coded = float(np.mean([d.coded_bits for d in draws]))
    spread = (
        f"standard deviation of one draw {np.std([d.coded_bits for d in draws], ddof=1) / 1000:.2f}"
        " kbit (the NLL of the drawn network varies); "
        if len(draws) > 1
        else ""
    )
    parts = var.length.parts
    decoder_q = (
        "q by re-training on the decoded labels" if args.verify == "retrain" else "the encoder’s q"
    )
    ideal_expected = code.kl_bits + parts["data"] + code.side_bits
    lines = [
        f"# MNIST labels ({n:,}): the variational code as a bits-back stream",
        "",
        f"Model {spec.to_dict()} ({post.n_params:,} parameters); Bayes by Backprop with the local "
        f"reparameterisation trick, {args.epochs} epochs, Adam {args.lr:g} (σ at 10×), batch "
        f"{args.batch_size}, σ initialised at {args.init_sigma:g}, prior scale per tensor "
        f"{'fixed at the initial spread' if args.fixed_prior else 'learned jointly'}, then "
        f"snapped to the 25-value grid (charged). Machine: {cpu_name()} ({platform.machine()}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, shared with other jobs. "
        f"Command: `.venv/bin/python benchmarks/mnist_variational.py --epochs {args.epochs} "
        f"--hidden {' '.join(map(str, args.hidden))} --batch-size {args.batch_size} "
        f"--lr {args.lr:g} "
        f"--init-sigma {args.init_sigma:g}{' --fixed-prior' if args.fixed_prior else ''} "
        f"--verify {args.verify} --draws {args.draws} --mc-samples {args.mc_samples} --n {n} "
        f"--threads {torch.get_num_threads()}`",
        "",
        f"Uniform: {n * math.log2(10) / 1000:.1f} kbit. Blier & Ollivier (2018), variational "
        f"code: {PAPER_KBIT} kbit.",
        "",
        "| | kbit |",
        "|---|---|",
        f"| ideal: KL + E[NLL] + prior choice (NLL: {args.mc_samples} draws, "
        f"± {var.data_bits_stderr / 1000:.2f}) "
        f"| **{var.length.total / 1000:.2f}** |",
        f"| — KL(q ‖ prior) | {parts['kl'] / 1000:.2f} |",
        f"| — E[NLL] | {parts['data'] / 1000:.2f} |",
        f"| — prior choice | {parts['prior choice'] / 1000:.3f} |",
        f"| bits-back stream (first draw), net: final − borrowed words "
        f"| **{code.coded_bits / 1000:.2f}** |",
        f"| — this draw's ideal: Σ log2 q/p + NLL + side info | {code.ideal_bits / 1000:.2f} |",
        f"| — — Σ log2 q(k)/p(k) at the drawn weights | {code.sample_kl_bits / 1000:.2f} |",
        f"| — — NLL of the labels under the drawn weights | {code.data_bits / 1000:.2f} |",
        f"| — — side info (σ0 index, δ, range per tensor) | {code.side_bits / 1000:.3f} |",
        f"| borrowed bits (initial stack) | {code.borrowed_bits / 1000:.1f} |",
        f"| — of them used to draw the weights | {code.consumed_bits / 1000:.1f} |",
        "",
        f"- {len(draws)} draw(s) (borrowed words: seeds {args.seed}…{args.seed + len(draws) - 1})"
        ": net coded kbit "
        + ", ".join(f"{d.coded_bits / 1000:.2f}" for d in draws)
        + f"; mean {mean_coded / 1000:.2f} kbit, "
        f"{100 * (mean_coded / ideal_expected - 1):+.2f} % from KL + E[NLL] + side info "
        f"({ideal_expected / 1000:.2f} kbit); {spread}coded − each draw's ideal: "
        + ", ".join(f"{d.coded_bits - d.ideal_bits:+.0f}" for d in draws)
        + " bits",
        f"- decoded back: {'exact, and the borrowed words returned' if ok else 'FAILED'} "
        f"(the first draw's decoder given {decoder_q}"
        + (", the others the encoder's q)" if len(draws) > 1 else ")"),
        f"- train accuracy: {100 * var.train_accuracy:.2f} % (mean over {args.mc_samples} draws), "
        f"{100 * code.accuracy:.2f} % (the coded draw); test accuracy of the mean network: "
        f"{100 * test_acc:.2f} %",
        "- grid δ per tensor: "
        + ", ".join(
            f"{k} 2^{g.exponent} ({g.k_max - g.k_min + 1} bins)" for k, g in code.grids.items()
        ),
        "- prior σ0 per tensor: " + ", ".join(f"{k} {s:.4g}" for k, s in post.prior_sigma.items()),
        f"- seconds: training + ideal {t_train:.0f}, encode {t_enc:.1f}, decode {t_dec:.1f} "
        "(first draw)",
    ]
    publish(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
