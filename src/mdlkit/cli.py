"""The ``mdlkit`` command.

Every mistake in the input ends in one line on stderr and exit code 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from mdlkit import __version__
from mdlkit.data import DATASETS, MNIST_ENV
from mdlkit.errors import MdlkitError
from mdlkit.recipes.demo import DEMO_CONFIG, run_demo
from mdlkit.recipes.fit import METHODS, MODELS, FitConfig, FitResult, run_fit
from mdlkit.runs import check_new_dir, default_run_dir

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one hidden layer size")
    return sizes


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="mdlkit",
        description="Learning is compression: train networks that minimise their description "
        "length, and measure every length in bits with real, decodable bitstreams.",
    )
    parser.add_argument("--version", action="version", version=f"mdlkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="the main job: plain vs DRR-trained MLP on digits, as a table of bits",
        description="Train an MLP on scikit-learn's digits plainly and with DRR (then prune and "
        "fine-tune it), encode both models and the training labels for real, decode "
        "them back, and print accuracy, sparsity and two-part code lengths. "
        "Needs no download; takes under 3 minutes on 2 cores.",
    )
    demo.add_argument("--out", type=Path, help="new run folder (default: runs/demo-<time>)")
    demo.add_argument("--seed", type=int, default=DEMO_CONFIG.seed, help="random seed (default 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")

    fit = sub.add_parser(
        "fit",
        help="train → (DRR: prune → fine-tune) → encode, with options",
        description="The demo's pipeline on one configuration. Lengths are in bits; alpha is per "
        "sample (it scales a penalty added to the mean batch loss).",
    )
    d = FitConfig()
    fit.add_argument(
        "--dataset",
        default=d.dataset,
        help=f"one of {', '.join(DATASETS[:2])} (default {d.dataset})",
    )
    fit.add_argument("--mnist-path", help=f"MNIST .npz file (or set {MNIST_ENV})")
    fit.add_argument("--model", default=d.model, help=f"one of {', '.join(MODELS)} (default mlp)")
    fit.add_argument(
        "--hidden",
        type=_hidden,
        default=d.hidden,
        help="MLP hidden sizes, comma-separated (default 32)",
    )
    fit.add_argument(
        "--method", default=d.method, help=f"one of {', '.join(METHODS)} (default drr)"
    )
    fit.add_argument(
        "--alpha", type=float, default=d.alpha, help=f"DRR strength α ≥ 0 (default {d.alpha})"
    )
    fit.add_argument(
        "--beta", type=float, default=d.beta, help=f"DRR sharpness β > 0 (default {d.beta})"
    )
    fit.add_argument(
        "--warmup-epochs",
        type=int,
        default=d.warmup_epochs,
        help=f"epochs over which α ramps up from 0 (default {d.warmup_epochs})",
    )
    fit.add_argument(
        "--tolerance",
        type=float,
        default=d.tolerance,
        help=f"TAMADE relative loss tolerance δ (default {d.tolerance})",
    )
    fit.add_argument(
        "--quant-tolerance",
        type=float,
        default=d.quant_tolerance,
        help=f"relative loss tolerance of weight quantization (default {d.quant_tolerance})",
    )
    fit.add_argument(
        "--epochs",
        type=int,
        default=d.epochs,
        help=f"max epochs of (regularized) training (default {d.epochs})",
    )
    fit.add_argument(
        "--finetune-epochs",
        type=int,
        default=d.finetune_epochs,
        help=f"max epochs of fine-tuning (default {d.finetune_epochs})",
    )
    fit.add_argument("--batch-size", type=int, default=d.batch_size, help=f"default {d.batch_size}")
    fit.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    fit.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    fit.add_argument("--out", type=Path, help="new run folder (default: runs/fit-<time>)")
    fit.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _report(runs: list[tuple[str, FitResult]], out: Path, title: str) -> None:
    from mdlkit.recipes.output import write_fit_runs
    from mdlkit.report.tables import fit_table

    written = write_fit_runs(out, runs, title)
    console = Console()
    console.print(fit_table([(n, r.summary()) for n, r in runs], title))
    for name, r in runs:
        console.print(f"{name}: {r.seconds:.1f} s, decoded model and labels verified")
    console.print(f"run folder: {written}")


def _run(args: argparse.Namespace) -> None:
    progress = not args.no_progress and sys.stderr.isatty()
    if args.command == "demo":
        out = check_new_dir(args.out) if args.out else default_run_dir("demo")
        runs = run_demo(replace(DEMO_CONFIG, seed=args.seed), progress=progress)
        _report(runs, out, "mdlkit demo: digits, MLP 64-32-10, plain vs DRR")
    elif args.command == "fit":
        config = FitConfig(
            dataset=args.dataset,
            mnist_path=args.mnist_path,
            model=args.model,
            hidden=args.hidden,
            method=args.method,
            alpha=args.alpha,
            beta=args.beta,
            warmup_epochs=args.warmup_epochs,
            tolerance=args.tolerance,
            quant_tolerance=args.quant_tolerance,
            epochs=args.epochs,
            finetune_epochs=args.finetune_epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
        )
        config.validate()
        out = check_new_dir(args.out) if args.out else default_run_dir("fit")
        result = run_fit(config, progress=progress)
        _report([(config.method, result)], out, f"mdlkit fit: {config.dataset}, {config.model}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdlkit`` console command; returns the exit code."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported in one line
        return int(exc.code or 0)
    try:
        _run(args)
    except MdlkitError as exc:
        sys.stderr.write(f"mdlkit: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("mdlkit: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
