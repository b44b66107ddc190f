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

import torch
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


def _add_fit_options(fit: argparse.ArgumentParser) -> None:
    d = FitConfig()
    data = fit.add_argument_group("data")
    data.add_argument(
        "--dataset", default=d.dataset, help=f"{' | '.join(DATASETS)} (default digits)"
    )
    data.add_argument("--mnist-path", help=f"MNIST .npz file (or set {MNIST_ENV})")
    data.add_argument(
        "--n-train", type=int, help="teacher-student N (default 300) or an MNIST subset"
    )
    data.add_argument("--noise", type=float, default=d.noise, help="teacher-student noise σ (0.01)")
    data.add_argument(
        "--epsilon",
        type=float,
        default=d.epsilon,
        help=f"precision regression targets are coded at (default {d.epsilon})",
    )
    model = fit.add_argument_group("model")
    model.add_argument("--model", default=d.model, help=f"{' | '.join(MODELS)} (default mlp)")
    model.add_argument(
        "--hidden",
        type=_hidden,
        default=d.hidden,
        help="MLP hidden sizes, comma-separated (default 32)",
    )
    model.add_argument("--activation", default=d.activation, help="MLP activation (default relu)")
    method = fit.add_argument_group("method")
    method.add_argument("--method", default=d.method, help=f"{' | '.join(METHODS)} (default drr)")
    method.add_argument(
        "--alpha",
        type=float,
        default=d.alpha,
        help=f"strength α ≥ 0 per sample (default {d.alpha})",
    )
    method.add_argument("--beta", type=float, default=d.beta, help="DRR sharpness β > 0 (5)")
    method.add_argument("--proximal", action="store_true", help="R-L1 by proximal steps")
    method.add_argument("--fictitious-play", action="store_true", help="PMMP with FPP averaging")
    method.add_argument("--gamma-init", type=float, default=d.gamma_init, help="PMMP γ₀ (1)")
    method.add_argument("--u-init", type=float, default=d.u_init, help="PMMP u₀ (0)")
    method.add_argument(
        "--warmup-epochs",
        type=int,
        default=d.warmup_epochs,
        help=f"epochs over which α ramps up from 0 (default {d.warmup_epochs})",
    )
    prune = fit.add_argument_group("pruning and quantization")
    prune.add_argument("--prune-mode", default=d.prune_mode, help="TAMADE relative | absolute")
    prune.add_argument(
        "--tolerance",
        type=float,
        default=d.tolerance,
        help=f"TAMADE relative loss tolerance δ (default {d.tolerance})",
    )
    prune.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=d.max_accuracy_drop,
        help="TAMADE absolute mode: accuracy drop allowed (0.002 = 0.2 points)",
    )
    prune.add_argument(
        "--quant-tolerance",
        type=float,
        default=d.quant_tolerance,
        help=f"relative loss tolerance of quantization (default {d.quant_tolerance})",
    )
    opt = fit.add_argument_group("optimization")
    opt.add_argument("--epochs", type=int, default=d.epochs, help="max epochs of training (300)")
    opt.add_argument(
        "--finetune-epochs",
        type=int,
        default=d.finetune_epochs,
        help="max epochs of fine-tuning (200)",
    )
    opt.add_argument("--batch-size", type=int, default=d.batch_size, help="0 = full batch (64)")
    opt.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    opt.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    run = fit.add_argument_group("run")
    run.add_argument("--out", type=Path, help="new run folder (default: runs/fit-<time>)")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the killed run in DIR (its own settings are used)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")


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
        "Needs no download; takes under a minute on 2 cores.",
    )
    demo.add_argument("--out", type=Path, help="new run folder (default: runs/demo-<time>)")
    demo.add_argument("--seed", type=int, default=DEMO_CONFIG.seed, help="random seed (default 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")

    fit = sub.add_parser(
        "fit",
        help="train (none | drr | l1 | pmmp) → prune → fine-tune → encode, with options",
        description="The demo's pipeline on one configuration. Lengths are in bits; alpha is per "
        "sample (it scales a penalty added to the mean batch loss). Checkpoints after every "
        "epoch: a killed run continues with --resume DIR.",
    )
    _add_fit_options(fit)

    cl = sub.add_parser(
        "codelength",
        help="the description length of a dataset's labels under every code",
        description="Code the training labels with the uniform, two-part, prequential, "
        "switching and variational codes; print lengths in kbit, ratios to uniform and test "
        "accuracy; decode the online codes back; plot cumulative lengths and bits per block.",
    )
    cl.add_argument(
        "--data",
        "--dataset",
        dest="dataset",
        default="digits",
        help="digits | mnist (default digits)",
    )
    cl.add_argument("--mnist-path", help=f"MNIST .npz file (or set {MNIST_ENV})")
    cl.add_argument("--n-train", type=int, help="use a stratified subset of the training set")
    cl.add_argument("--model", default="mlp", help=f"{' | '.join(MODELS[:4])} (default mlp)")
    cl.add_argument("--hidden", type=_hidden, default=(64,), help="MLP hidden sizes (64)")
    cl.add_argument(
        "--codes",
        default="uniform,two-part,prequential,switching,variational",
        help="comma-separated codes (default: all)",
    )
    cl.add_argument("--schedule", default="doubling", help="doubling | fractions")
    cl.add_argument("--first-block", type=int, default=10, help="first block size (10)")
    cl.add_argument("--mode", default="scratch", help="per-block training: scratch | continue")
    cl.add_argument("--calibrate", action="store_true", help="temperature-calibrate each block")
    cl.add_argument("--epochs", type=int, default=100, help="per-block training epochs cap (100)")
    cl.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cl.add_argument("--no-verify", action="store_true", help="skip decoding the online codes")
    cl.add_argument("--out", type=Path, help="new run folder (default: runs/codelength-<time>)")

    exp = sub.add_parser(
        "experiment",
        help="reproduce the paper's experiments: teacher-student | mnist-pruning",
        description="Sweeps that write a run folder with results.json, a table beside the "
        "paper's figures, and plots. A killed sweep continues with --resume DIR.",
    )
    exp.add_argument("name", help="teacher-student | mnist-pruning")
    exp.add_argument("--mnist-path", help=f"MNIST .npz file (or set {MNIST_ENV})")
    exp.add_argument("--quick", action="store_true", help="a small version that runs in minutes")
    exp.add_argument("--slow", action="store_true", help="mnist-pruning: add LeNet-5-Caffe")
    exp.add_argument("--out", type=Path, help="new run folder (default: runs/<name>-<time>)")
    exp.add_argument("--resume", type=Path, metavar="DIR", help="continue the sweep in DIR")
    exp.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _run_codelength(args: argparse.Namespace) -> None:
    import json

    from rich.table import Table

    from mdlkit.recipes.codelength import CodelengthConfig, run_codelength
    from mdlkit.report.tables import render_text

    config = CodelengthConfig(
        dataset=args.dataset,
        mnist_path=args.mnist_path,
        n_train=args.n_train,
        model=args.model,
        hidden=args.hidden,
        codes=tuple(c.strip() for c in args.codes.split(",") if c.strip()),
        schedule=args.schedule,
        first_block=args.first_block,
        mode=args.mode,
        calibrate=args.calibrate,
        epochs=args.epochs,
        verify=not args.no_verify,
        seed=args.seed,
    )
    config.validate()
    out = check_new_dir(args.out) if args.out else default_run_dir("codelength")
    report = run_codelength(config, out)
    table = Table(
        title=f"description length of {report['n']:,} {config.dataset} labels "
        f"({report['classes']} classes)"
    )
    for column in ("code", "kbit", "ratio to uniform", "test accuracy %", "decoded back", "s"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for name, row in report["codes"].items():
        acc = row["test_accuracy"]
        table.add_row(
            name,
            f"{row['kbit']:.3f}",
            f"{row['ratio_to_uniform']:.4f}",
            "—" if acc != acc else f"{100 * acc:.2f}",
            {True: "yes", False: "no"}.get(row.get("verified"), "—"),
            f"{row['seconds']:.1f}",
        )
    Console().print(table)
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "table.txt").write_text(render_text(table))
    print(f"run folder: {out}")


def _run_experiment(args: argparse.Namespace, progress: bool) -> None:
    from mdlkit.data import resolve_mnist_path
    from mdlkit.recipes.mnist_pruning import MnistPruningExperiment, run_mnist_pruning
    from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student

    if args.name not in ("teacher-student", "mnist-pruning"):
        raise MdlkitError(
            f"unknown experiment {args.name!r}; choose teacher-student or mnist-pruning"
        )
    if args.resume is not None:
        if not (args.resume / "config.json").is_file():
            raise MdlkitError(f"{args.resume} is not an mdlkit experiment folder")
        out = args.resume
    else:
        out = check_new_dir(args.out) if args.out else default_run_dir(args.name)
    if args.name == "teacher-student":
        ts = TeacherStudentExperiment.quick() if args.quick else TeacherStudentExperiment()
        table = run_teacher_student(ts, out, progress=progress)
    else:
        path = str(resolve_mnist_path(args.mnist_path))
        mp = (
            MnistPruningExperiment.quick(path)
            if args.quick
            else MnistPruningExperiment(mnist_path=path)
        )
        if args.slow:
            mp = replace(mp, models=(*mp.models, "lenet5-caffe"))
        table = run_mnist_pruning(mp, out, progress=progress)
    print(table)
    print(f"run folder: {out}")


def _report(runs: list[tuple[str, FitResult]], out: Path, title: str) -> None:
    from mdlkit.recipes.output import finish_fit_runs
    from mdlkit.report.tables import fit_table

    finish_fit_runs(out, runs, title)
    console = Console()
    console.print(fit_table([(n, r.summary()) for n, r in runs], title))
    for name, r in runs:
        console.print(f"{name}: {r.seconds:.1f} s, decoded model and data verified")
    console.print(f"run folder: {out}")


def _fit_config(args: argparse.Namespace) -> FitConfig:
    return FitConfig(
        dataset=args.dataset,
        mnist_path=args.mnist_path,
        n_train=args.n_train,
        noise=args.noise,
        epsilon=args.epsilon,
        model=args.model,
        hidden=args.hidden,
        activation=args.activation,
        method=args.method,
        alpha=args.alpha,
        beta=args.beta,
        proximal=args.proximal,
        fictitious_play=args.fictitious_play,
        gamma_init=args.gamma_init,
        u_init=args.u_init,
        warmup_epochs=args.warmup_epochs,
        prune_mode=args.prune_mode,
        tolerance=args.tolerance,
        max_accuracy_drop=args.max_accuracy_drop,
        quant_tolerance=args.quant_tolerance,
        epochs=args.epochs,
        finetune_epochs=args.finetune_epochs,
        batch_size=args.batch_size or None,
        lr=args.lr,
        seed=args.seed,
    )


def _run(args: argparse.Namespace) -> None:
    from mdlkit.recipes.output import read_fit_configs, start_fit_runs

    if args.command == "codelength":
        _run_codelength(args)
        return
    progress = not args.no_progress and sys.stderr.isatty()
    if args.command == "experiment":
        _run_experiment(args, progress)
        return
    if args.command == "demo":
        config = replace(DEMO_CONFIG, seed=args.seed)
        out = check_new_dir(args.out) if args.out else default_run_dir("demo")
        start_fit_runs(out, {"plain": replace(config, method="none"), "drr": config})
        runs = run_demo(config, progress=progress)
        _report(runs, out, "mdlkit demo: digits, MLP 64-32-10, plain vs DRR")
        return
    if args.resume is not None:
        configs, env = read_fit_configs(args.resume)
        if len(configs) != 1:
            raise MdlkitError(
                f"{args.resume} holds {len(configs)} runs; --resume continues a single fit run"
            )
        ((name, config),) = configs.items()
        # The same thread count as the interrupted run: float sums depend on it.
        torch.set_num_threads(int(env.get("threads", torch.get_num_threads())))
        config.validate()
        out = args.resume
    else:
        config = _fit_config(args)
        config.validate()
        out = check_new_dir(args.out) if args.out else default_run_dir("fit")
        name = config.method
        start_fit_runs(out, {name: config})
    result = run_fit(config, progress=progress, checkpoint_dir=out / "checkpoints")
    _report([(name, result)], out, f"mdlkit fit: {config.dataset}, {config.model}, {name}")


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
        sys.stderr.write("mdlkit: interrupted (a fit continues with --resume DIR)\n")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
