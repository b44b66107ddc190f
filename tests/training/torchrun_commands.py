"""One rank of several ``mdlkit`` commands run under one torchrun start.

``torchrun --nproc_per_node 2 tests/training/torchrun_commands.py OUT ARGVS`` runs
``mdlkit ARGV`` (in this process, through :func:`mdlkit.cli.main`) for every command line of
``ARGVS`` (JSON: a name for each), one after the other, and writes ``OUT/rank<r>.json``: under
each name the exit code and what the command wrote to standard error. The environment is
torchrun's own, as for ``torchrun ... -m mdlkit ARGV``; one start serves them all (each start
costs seconds of imports in three processes). A command that trains data-parallel joins the
process group and leaves it when it ends, so it goes last: ``test_distributed.py`` puts the
refusals, which come before joining, first.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

from mdlkit.cli import main


def run_all(argvs: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Each command line's exit code and standard error, under its name."""
    out = {}
    for name, argv in argvs.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(argv)
        out[name] = (code, err.getvalue())
    return out


if __name__ == "__main__":
    folder, argvs = Path(sys.argv[1]), json.loads(sys.argv[2])
    result = run_all(argvs)
    (folder / f"rank{os.environ['RANK']}.json").write_text(json.dumps(result))
