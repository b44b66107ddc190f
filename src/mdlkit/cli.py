"""The ``mdlkit`` command: a table from command names to recipe configs and recipe functions.

A command's options are generated from its config dataclass: the field ``n_train: int | None``
with the string under it as its documentation becomes ``--n-train``, typed, with that default
and that help. Booleans become flags (``--no-verify`` for one that defaults to true), tuples
take comma-separated values (``--hidden 64,32``), and a field without a default is a positional
argument (a field named in ``Command.positional``, an optional one). Every command also takes
``--out DIR``; ``--resume DIR`` and ``--no-progress`` where the recipe supports them.

Every mistake in the input ends in one line on stderr and exit code 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import docstring_parser
import torch.distributed
from jsonargparse import ArgumentError, ArgumentParser, Namespace
from rich.console import Console

from mdlkit import __version__
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.recipes import (
    BenchCompressConfig,
    CodelengthConfig,
    CompressConfig,
    DecompressConfig,
    DemoConfig,
    ExperimentConfig,
    FitConfig,
    LLCConfig,
    SelectConfig,
    run_bench_compress,
    run_codelength,
    run_compress,
    run_decompress,
    run_demo,
    run_experiment,
    run_fit,
    run_llc,
    run_select,
)
from mdlkit.report import Report
from mdlkit.runs import RunFolder
from mdlkit.training.distributed import (
    DataParallel,
    init_from_environment,
    is_main_process,
    launched_by_torchrun,
)

__all__ = ["COMMANDS", "Command", "main"]

EXIT_USAGE = 2
DATA_PARALLEL = frozenset({"fit", "compress"})
"""The commands that train data-parallel when started by torchrun."""


def _stored_fit(folder: RunFolder, given: Any) -> FitConfig:
    """The folder's own settings; an option given with --resume that would change them is
    refused rather than silently ignored."""
    stored, default = FitConfig.from_folder(folder), FitConfig()
    changed = [
        f.name
        for f in fields(FitConfig)
        if f.name != "device"  # a run may continue on another device
        and getattr(given, f.name) != getattr(default, f.name)
        and getattr(given, f.name) != getattr(stored, f.name)
    ]
    if changed:
        options = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise MdlkitError(
            f"--resume continues with the folder's own settings; drop {options} "
            "(or start a new run)"
        )
    return dataclasses.replace(stored, device=given.device)


def _given(folder: RunFolder, given: Any) -> Any:
    return given  # the recipe checks that the folder was started with the same settings


@dataclass(frozen=True)
class Command:
    """One subcommand: its config dataclass (whose fields become the options), the recipe
    function ``run(config, *, folder, [progress])`` and how its help reads.

    ``resume`` (if the command continues killed runs) gives the config to continue a folder
    with, from the folder and the config of the options. ``kind`` names the default run folder
    ``runs/<kind>-<time>``; ``aliases`` adds option names to fields.
    """

    config: type[Any]
    run: Callable[..., Any]
    help: str
    description: str
    resume: Callable[[RunFolder, Any], Any] | None = None
    progress: bool = True
    kind: Callable[[Any], str] | None = None
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    folder: bool = True  # False: no run folder; run() returns a line for stderr
    positional: tuple[str, ...] = ()  # fields with a default given as optional positionals


COMMANDS: dict[str, Command] = {
    "demo": Command(
        DemoConfig,
        run_demo,
        help="the main job: plain vs DRR-trained MLP on digits, as a table of bits",
        description="Train an MLP on scikit-learn's digits plainly and with DRR (then prune and "
        "fine-tune it), encode both models and the training labels for real, decode them back, "
        "and print accuracy, sparsity and two-part code lengths. Needs no download; takes under "
        "a minute on 2 cores.",
    ),
    "fit": Command(
        FitConfig,
        run_fit,
        help="train (none | drr | l1 | pmmp) → prune → fine-tune → encode, with options",
        description="The demo's pipeline on one configuration. Lengths are in bits; alpha is "
        "per sample (it scales a penalty added to the mean batch loss). Checkpoints after every "
        "epoch: a killed run continues with --resume DIR (with its own settings).",
        resume=_stored_fit,
        aliases={"dataset": ("--data",)},
    ),
    "select": Command(
        SelectConfig,
        run_select,
        help="choose α (and width, method) by the shortest two-part code, the choice charged",
        description="Run fit over a grid of strengths (default α·2^k, k = -2…2, α = auto: "
        "c·ln2/n), optionally widths and methods; the model with every weight pruned is "
        "always a candidate. Picks the shortest two-part code, adds log2(number of candidates) "
        "bits for the choice, and prints a table and plot beside the uniform and prequential "
        "codes. A killed run continues with --resume DIR; --workers N runs N candidates at once.",
        resume=_given,
        aliases={"dataset": ("--data",)},
    ),
    "codelength": Command(
        CodelengthConfig,
        run_codelength,
        help="the description length of a dataset's labels under every code",
        description="Code the training labels with the uniform, two-part, prequential, "
        "switching and variational codes; print lengths in kbit, ratios to uniform and test "
        "accuracy; decode the online codes back; plot cumulative lengths and bits per block.",
        progress=False,
        aliases={"dataset": ("--data",)},
    ),
    "experiment": Command(
        ExperimentConfig,
        run_experiment,
        help="reproduce the paper's experiments: teacher-student | mnist-pruning | lm-compression"
        " | llc-vs-compressibility",
        description="Sweeps that write a run folder with results.json, a table beside the "
        "paper's figures, and plots. A killed sweep continues with --resume DIR.",
        resume=_given,
        kind=lambda config: str(config.name),
    ),
    "llc": Command(
        LLCConfig,
        run_llc,
        help="the local learning coefficient λ̂ of a fit run's model (or a toy with known λ)",
        description="Estimate λ̂ by SGLD on a localized tempered posterior around the trained "
        "weights: the weight file of a finished fit (or demo, select) run, decoded, on the "
        "run's training split rebuilt from its settings, with the run's loss; or a toy with "
        "known λ (--toy). Prints λ̂ ± std over chains, every setting, d/2 (λ ≤ d/2 always), "
        "the diagnostics in words, and plots the loss traces. --calibrate sweeps the step "
        "instead and recommends one.",
        positional=("run_dir",),
    ),
    "compress": Command(
        CompressConfig,
        run_compress,
        help="compress a file losslessly into a .mdlz archive (online or two-part mode)",
        description="Online mode (default): a context-mixing predictor that learns as it codes; "
        "nothing is stored but the bits. Two-part mode: a byte transformer trained with DRR, "
        "pruned and quantized, stored in the archive and used to code the data. The archive is "
        "decoded back and compared before it is kept (--no-verify skips that); an existing "
        "output is never overwritten without --force. - is standard input or output.",
        aliases={"output": ("-o",)},
        folder=False,
    ),
    "decompress": Command(
        DecompressConfig,
        run_decompress,
        help="decode a .mdlz archive back to the original bytes",
        description="Every record's checksum and the original's checksum are checked; a "
        "damaged, truncated or foreign archive is refused and nothing is written.",
        aliases={"output": ("-o",)},
        folder=False,
    ),
    "bench-compress": Command(
        BenchCompressConfig,
        run_bench_compress,
        help="bits per byte, speed and memory of mdlkit's modes and classical compressors",
        description="One table, everything measured in the same run: gzip -9, bzip2 -9, "
        "xz -9e, zstd -19, brotli -11 and PPMd (best of several orders) beside mdlkit's modes, "
        "each in a fresh process; plus a plot of bits per byte vs speed. zstd, brotli and PPMd "
        "need pip install 'mdlkit[bench]'.",
        progress=False,
    ),
}


class _CommaSeparated:
    """Parses ``"64,32"`` into ``(64, 32)``; a parsed tuple passes through unchanged."""

    def __init__(self, item: type) -> None:
        self.item = item
        self.noun = {int: "integers", float: "numbers"}.get(item, "names")

    def __repr__(self) -> str:  # how --help names the type
        return f"comma-separated {self.noun}"

    def __call__(self, text: Any) -> tuple[Any, ...]:
        if isinstance(text, tuple | list):
            return tuple(text)
        try:
            return tuple(self.item(s.strip()) for s in str(text).split(",") if s.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {self.noun}, got {text!r}"
            ) from None


def _add_config_options(parser: ArgumentParser, command: Command) -> None:
    helps: dict[str, str] = {}
    for cls in reversed(command.config.__mro__):  # a subclass's fields keep their parents' help
        if dataclasses.is_dataclass(cls):
            docs = docstring_parser.parse_from_object(cls).params
            helps.update({p.arg_name: p.description or "" for p in docs})
    hints = typing.get_type_hints(command.config)
    for f in dataclasses.fields(command.config):
        hint, help_ = hints[f.name], helps.get(f.name, "")
        names = ["--" + f.name.replace("_", "-"), *command.aliases.get(f.name, ())]
        if f.name in command.positional:
            parser.add_argument(
                f.name, nargs="?", type=hint, default=f.default, metavar=f.name.upper(), help=help_
            )
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if typing.get_origin(hint) is tuple:  # one or more positional values
                parser.add_argument(f.name, nargs="+", type=typing.get_args(hint)[0], help=help_)
            else:
                parser.add_argument(f.name, type=hint, help=help_)
        elif hint is bool and f.default:
            parser.add_argument(
                f"--no-{names[0][2:]}", dest=f.name, action="store_false", help=help_
            )
        elif hint is bool:
            parser.add_argument(*names, dest=f.name, action="store_true", help=help_)
        elif typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            parser.add_argument(
                *names, dest=f.name, type=_CommaSeparated(item), default=f.default, help=help_
            )
        else:
            parser.add_argument(*names, dest=f.name, type=hint, default=f.default, help=help_)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="mdlkit",
        description="Learning is compression: train networks that minimise their description "
        "length, and measure every length in bits with real, decodable bitstreams.",
        exit_on_error=False,
    )
    parser.add_argument("--version", action="version", version=f"mdlkit {__version__}")
    subcommands = parser.add_subcommands(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = ArgumentParser(description=command.description, exit_on_error=False)
        _add_config_options(sub, command)
        run = sub.add_argument_group("run")
        if not command.folder:
            if command.progress:
                run.add_argument("--no-progress", action="store_true", help="no progress bars")
            subcommands.add_subcommand(name, sub, help=command.help)
            continue
        run.add_argument(
            "--out",
            type=str | None,
            default=None,
            metavar="DIR",
            help=f"new run folder (default: runs/{'<name>' if command.kind else name}-<time>)",
        )
        if command.resume is not None:
            run.add_argument(
                "--resume",
                type=str | None,
                default=None,
                metavar="DIR",
                help="continue the killed run in this folder",
            )
        if command.progress:
            run.add_argument("--no-progress", action="store_true", help="no progress bars")
        subcommands.add_subcommand(name, sub, help=command.help)
    return parser


def _one_line(message: str, argv: Sequence[str]) -> str:
    """jsonargparse's (possibly multi-line) error as one line naming the option and problem."""
    name = next((a for a in argv if a in COMMANDS), None)
    prog = f"mdlkit {name}" if name else "mdlkit"
    key = re.match(r'Parser key "([^"]+)"', message)
    value = re.findall(r"(?:Given|Got) value: (.*)", message)
    if name and key and value:
        dest = key.group(1)
        hint = typing.get_type_hints(COMMANDS[name].config).get(dest)
        option = "--" + dest.replace("_", "-")
        if typing.get_origin(hint) is Literal:
            choices = ", ".join(map(str, typing.get_args(hint)))
            message = f"argument {option}: invalid choice: {value[-1]!r} (choose from {choices})"
        else:
            kinds = [t for t in typing.get_args(hint) or (hint,) if t is not type(None)]
            kind = getattr(kinds[0], "__name__", "") if kinds else ""
            message = f"argument {option}: invalid {kind} value: {value[-1]!r}"
    message = re.sub(rf"\b{name}\.", "", message) if name else message  # "fit.lr" → "lr"
    return f"{prog}: error: {' '.join(message.split())} (see '{prog} --help')"


def _show(report: Report, folder: RunFolder) -> None:
    console = Console()
    if isinstance(report.table, str):
        print(report.table)
    else:
        console.print(report.table)
    for note in report.notes:
        console.print(note)
    console.print(f"run folder: {folder.path}")


def _run(name: str, options: Namespace) -> None:
    command = COMMANDS[name]
    values = {f.name: options[f.name] for f in dataclasses.fields(command.config)}
    config = command.config(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    )
    if not command.folder:
        if launched_by_torchrun() and name not in DATA_PARALLEL:
            _join_torchrun(name, config, None)  # the one-line refusal
        progress = not options.no_progress and sys.stderr.isatty()
        line = command.run(config, progress=progress)
        if is_main_process():
            sys.stderr.write(line + "\n")
        return
    resume = options.get("resume") if command.resume is not None else None
    parallel = _join_torchrun(name, config, resume or options.out)
    if command.resume is not None and resume is not None:
        folder = RunFolder.resume(resume)
        config = command.resume(folder, config)
        folder.restore_threads()
    else:
        config.validate()
        kind = command.kind(config) if command.kind else name
        if parallel is None:
            folder = RunFolder.new(options.out, kind=kind)
        else:  # rank 0 checks that the folder is new (before any rank creates it)
            folder = RunFolder(parallel.on_main(lambda: RunFolder.new(options.out, kind=kind).path))
    if command.progress:
        progress = not options.no_progress and sys.stderr.isatty()
        result = command.run(config, folder=folder, progress=progress)
    else:
        result = command.run(config, folder=folder)
    if is_main_process():
        _show(result.report(), folder)


def _join_torchrun(name: str, config: Any, out: str | None) -> DataParallel | None:
    """Under torchrun: this rank's :class:`DataParallel` for the commands that train
    data-parallel (``None`` outside torchrun); every rank must be given the same folder."""
    if not launched_by_torchrun():
        return None
    if name not in DATA_PARALLEL:
        raise MdlkitError(
            f"mdlkit {name} runs in one process; under torchrun use "
            f"{' or '.join(sorted(DATA_PARALLEL))} (sweeps take --workers or --ray instead)"
        )
    if out is None and COMMANDS[name].folder:
        raise MdlkitError("under torchrun give --out DIR or --resume DIR: one folder for all ranks")
    return init_from_environment(resolve_device(config.device))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdlkit`` console command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except ArgumentError as exc:
        sys.stderr.write(_one_line(str(exc), argv) + "\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    try:
        _run(args.command, args[args.command])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # No rank may leave while another still receives rank 0's last broadcast.
            torch.distributed.barrier()
    except MdlkitError as exc:
        sys.stderr.write(f"mdlkit: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("mdlkit: interrupted (a killed run continues with --resume DIR)\n")
        return 130
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
