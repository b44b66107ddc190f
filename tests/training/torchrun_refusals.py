"""One rank of the refusals under torchrun: the commands that cannot run data-parallel.

``torchrun --nproc_per_node 2 tests/training/torchrun_refusals.py OUT ARGVS`` runs
``mdlkit ARGV`` (in this process, through :func:`mdlkit.cli.main`) for every command line of
``ARGVS`` (JSON: a name for each), one after the other, and writes ``OUT/rank<r>.json``: under
each name the exit code and what the command wrote to standard error. One torchrun start
serves them all (each start costs seconds of imports in three processes); the environment is
torchrun's own, as for ``torchrun ... -m mdlkit ARGV``. ``test_distributed.py`` reads the
files.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

from mdlkit.cli import main


def refusals(argvs: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
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
    result = refusals(argvs)
    (folder / f"rank{os.environ['RANK']}.json").write_text(json.dumps(result))
