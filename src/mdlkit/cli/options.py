"""The command line's parsers: the command names (argparse) and each command's options,
generated from its config dataclass (jsonargparse).

The first parser knows only the names and one-line help of the commands, so ``mdlkit --help``
and ``--version`` import no recipe; the chosen command's parser is built from its config when
it is known, importing that recipe (and jsonargparse) alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from mdlkit import __version__
from mdlkit.cli.commands import COMMANDS, Command

if TYPE_CHECKING:
    from jsonargparse import ArgumentParser, Namespace

__all__ = ["command_parser", "one_line", "parse"]

DESCRIPTION = (
    "Learning is compression: train networks that minimise their description length, and "
    "measure every length in bits with real, decodable bitstreams."
)


class _Names(argparse.ArgumentParser):
    """Raises every mistake as an :class:`argparse.ArgumentError` (the caller prints one line)
    instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


class _NamesHelp(argparse.HelpFormatter):
    def _format_action_invocation(self, action: argparse.Action) -> str:
        if isinstance(action, _Chosen):
            return "Available subcommands:"
        return super()._format_action_invocation(action)


class _Chosen(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The COMMAND argument: keeps the name and leaves the rest of the command line to the
    command's own parser."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        namespace.command, namespace.rest = values[0], list(values[1:])


def _names_parser() -> argparse.ArgumentParser:
    parser = _Names(
        prog="mdlkit",
        usage="%(prog)s COMMAND ...",
        description=DESCRIPTION,
        formatter_class=_NamesHelp,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="help", help="Show this help message and exit.")
    parser.add_argument("--version", action="version", version=f"mdlkit {__version__}")
    names = parser.add_subparsers(
        title="subcommands",
        description="For more details of each subcommand, add it as an argument followed by "
        "--help.",
        action=_Chosen,
        dest="command",
        metavar="COMMAND",
        help="(required)",
    )
    for name, command in COMMANDS.items():
        names.add_parser(name, help=command.help, add_help=False)
    return parser


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
    import docstring_parser

    config = command.config
    helps: dict[str, str] = {}
    for cls in reversed(config.__mro__):  # a subclass's fields keep their parents' help
        if dataclasses.is_dataclass(cls):
            docs = docstring_parser.parse_from_object(cls).params
            helps.update({p.arg_name: p.description or "" for p in docs})
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
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


def command_parser(name: str) -> ArgumentParser:
    """The parser of command ``name``: its config's fields, then ``--out``, ``--resume`` and
    ``--no-progress`` where the command takes them."""
    from jsonargparse import ArgumentParser

    command = COMMANDS[name]
    parser = ArgumentParser(
        prog=f"mdlkit [options] {name}", description=command.description, exit_on_error=False
    )
    _add_config_options(parser, command)
    run = parser.add_argument_group("run")
    if command.folder:
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
    return parser


def parse(argv: Sequence[str]) -> tuple[str, Namespace]:
    """The command's name and its options; :class:`argparse.ArgumentError` for a mistake,
    :class:`SystemExit` after ``--help`` or ``--version``."""
    chosen, unknown = _names_parser().parse_known_args(argv)
    unrecognized = argparse.ArgumentError(None, f"unrecognized arguments: {' '.join(unknown)}")
    if chosen.command is None:
        if unknown:
            raise unrecognized
        names = list(COMMANDS)
        listed = ",".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise argparse.ArgumentError(
            None, f'expected "command" to be one of {{{listed}}}, but it was not provided.'
        )
    options = command_parser(chosen.command).parse_args(chosen.rest)
    if unknown:  # after the command's own mistakes, which are found first
        raise unrecognized
    return chosen.command, options


def one_line(message: str, argv: Sequence[str]) -> str:
    """A parser's (possibly multi-line) error as one line naming the option and problem."""
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
    return f"{prog}: error: {' '.join(message.split())} (see '{prog} --help')"
