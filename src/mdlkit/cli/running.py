"""Running a command: its config from the options, its run folder, torchrun, the exit code.

Every mistake in the input ends in one line on stderr and exit code 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mdlkit.cli.commands import COMMANDS, DATA_PARALLEL
from mdlkit.cli.options import one_line, parse
from mdlkit.errors import MdlkitError
from mdlkit.launch import is_main_process, launched_by_torchrun, process_group
from mdlkit.runs import RunFolder

if TYPE_CHECKING:
    from jsonargparse import Namespace

    from mdlkit.report import Report
    from mdlkit.training.distributed import DataParallel

__all__ = ["EXIT_USAGE", "main"]

EXIT_USAGE = 2


PIPED_WIDTH = 400
"""Columns a table may take when the output is not a terminal."""


def _show(report: Report, folder: RunFolder) -> None:
    from rich.console import Console

    # A terminal wraps at its own width; a pipe or a file gets every table row and note whole
    # (rich would otherwise assume 80 columns and fold them).
    console = Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH, soft_wrap=False)
    if isinstance(report.table, str):
        print(report.table)
    else:
        console.print(report.table)
    for note in report.notes:
        console.print(note)
    console.print(f"run folder: {folder.path}")


def _run(name: str, options: Namespace) -> None:
    command = COMMANDS[name]
    config_class, run = command.recipe()
    values = {f.name: options[f.name] for f in dataclasses.fields(config_class)}
    config = config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    if not command.folder:
        if launched_by_torchrun() and name not in DATA_PARALLEL:
            _join_torchrun(name, config, None)  # the one-line refusal
        progress = not options.no_progress and sys.stderr.isatty()
        line = run(config, progress=progress)
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
        result = run(config, folder=folder, progress=progress)
    else:
        result = run(config, folder=folder)
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
    from mdlkit.devices import resolve_device
    from mdlkit.training.distributed import init_from_environment

    return init_from_environment(resolve_device(config.device))


def _after_interrupt(name: str) -> str:
    """What an interrupt left behind, in the command's own terms."""
    command = COMMANDS[name]
    if not command.folder:
        return "nothing was written"
    if command.resume is not None:
        return "continue the run with --resume DIR"
    return "its run folder is incomplete"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdlkit`` console command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        name, options = parse(argv)
    except argparse.ArgumentError as exc:
        sys.stderr.write(one_line(str(exc), argv) + "\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    try:
        _run(name, options)
        if (group := process_group()) is not None:
            # No rank may leave while another still receives rank 0's last broadcast.
            group.barrier()
    except MdlkitError as exc:
        sys.stderr.write(f"mdlkit: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"mdlkit: interrupted ({_after_interrupt(name)})\n")
        return 130
    finally:
        if (group := process_group()) is not None:
            group.destroy_process_group()
    return 0
