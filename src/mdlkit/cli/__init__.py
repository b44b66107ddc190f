"""The ``mdlkit`` command: a table from command names to recipe configs and recipe functions.

A command's options are generated from its config dataclass: the field ``n_train: int | None``
with the string under it as its documentation becomes ``--n-train``, typed, with that default
and that help. Booleans become flags (``--no-verify`` for one that defaults to true), tuples
take comma-separated values (``--hidden 64,32``), and a field without a default is a positional
argument (a field named in ``Command.positional``, an optional one). Every command also takes
``--out DIR``; ``--resume DIR`` and ``--no-progress`` where the recipe supports them.

Every mistake in the input ends in one line on stderr and exit code 2; nothing is written then.

The command answers at once: :mod:`~mdlkit.cli.commands` names each command's recipe without
importing it, and only the chosen command's recipe is imported (``mdlkit --version`` imports
none, ``mdlkit compress`` in its online mode neither torch nor scikit-learn).
"""

from mdlkit.cli.commands import COMMANDS, Command
from mdlkit.cli.running import main

__all__ = ["COMMANDS", "Command", "main"]
