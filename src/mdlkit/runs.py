"""Run folders: every recipe writes into one :class:`RunFolder` and never overwrites a result.

A run folder holds ``config.json`` (the resolved configuration, the seed and the environment:
versions, threads, platform and the git revision of the code), ``checkpoints/`` while it runs,
``results.json`` once it has finished, and the files the recipe makes (tables, plots, models).
A sweep keeps one record per finished job under ``runs/``, so a killed sweep continues where it
stopped.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> folder = RunFolder.new(root / "demo", kind="demo")
>>> folder.start({"config": {"seed": 0}}).name
'config.json'
>>> folder.write_results({"bits": 12.0}).name
'results.json'
>>> RunFolder.resume(folder.path)
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: the run in ... has finished already (results.json exists)
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically

__all__ = ["RunFolder", "default_run_dir", "environment", "git_revision", "write_json"]

CONFIG = "config.json"
RESULTS = "results.json"


def default_run_dir(kind: str, root: str | Path = "runs") -> Path:
    """``runs/<kind>-<YYYYmmdd-HHMMSS>``, with a numeric suffix if that name is taken."""
    base = Path(root) / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, i = base, 1
    while candidate.exists():
        candidate, i = base.with_name(f"{base.name}-{i}"), i + 1
    return candidate


@functools.cache
def git_revision() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the mdlkit source if it is a git checkout, else None.

    Never raises and gives up after two seconds: a missing ``git`` or an installed package simply
    has no revision. ``dirty`` means tracked files differ from the commit.
    """
    source = Path(__file__).resolve().parent
    # GIT_OPTIONAL_LOCKS=0: reading the status must not take the index lock of a busy checkout.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(source), *args],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
            env=env,
        )
        return done.stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "__init__.py")  # mdlkit itself is tracked here
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _version() -> str:
    # From the installed metadata: importing the mdlkit package here would reach upper layers.
    import importlib.metadata  # here: it takes longer to import than a --help takes to print

    try:
        return importlib.metadata.version("mdlkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def environment() -> dict[str, Any]:
    """What produced a run: versions, thread count (float sums depend on it), platform and the
    git revision of the code (None outside a git checkout)."""
    import torch  # here, not at import: a command that writes no run folder never needs it

    return {
        "mdlkit": _version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "git": git_revision(),
    }


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON to a new file (``x`` mode: an existing file is an error, not overwritten)."""
    path = Path(path)
    with path.open("x") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")
    return path


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON object written by mdlkit; anything else (unreadable, not JSON, not an object) is
    one line of error."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit") from None
    if not isinstance(data, dict):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit")
    return data


def _plain(data: Any) -> Any:
    """``data`` as it reads back from JSON (tuples become lists), for comparing configs."""
    return json.loads(json.dumps(data, default=str))


class RunFolder:
    """The output folder of one run (or one sweep).

    Make one with :meth:`new` (a folder that must not exist yet; it is created by :meth:`start`
    once the recipe has checked its inputs) or :meth:`resume` (a started, unfinished folder).
    """

    def __init__(self, path: str | Path, *, resumed: bool = False) -> None:
        self.path = Path(path)
        self.resumed = resumed

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r}, resumed={self.resumed})"

    @classmethod
    def new(
        cls, path: str | Path | None = None, *, kind: str, root: str | Path = "runs"
    ) -> RunFolder:
        """A folder to create: ``path``, which must not exist, or ``<root>/<kind>-<time>``."""
        if path is None:
            return cls(default_run_dir(kind, root))
        path = Path(path)
        if path.exists():
            raise MdlkitError(
                f"output folder {path} exists already; choose a new --out (nothing is overwritten)"
            )
        return cls(path)

    @classmethod
    def resume(cls, path: str | Path) -> RunFolder:
        """A folder to continue: it holds ``config.json`` and no ``results.json`` yet."""
        path = Path(path)
        if not (path / CONFIG).is_file():
            raise MdlkitError(f"{path} is not an mdlkit run folder (no {CONFIG})")
        if (path / RESULTS).exists():
            raise MdlkitError(f"the run in {path} has finished already ({RESULTS} exists)")
        return cls(path, resumed=True)

    @property
    def finished(self) -> bool:
        return (self.path / RESULTS).exists()

    @property
    def checkpoints(self) -> Path:
        """The folder of checkpoints (created by whoever writes the first one)."""
        return self.path / "checkpoints"

    def start(self, config: Mapping[str, Any]) -> Path:
        """Create the folder and write ``config.json``: ``config`` plus the environment.

        On a resumed folder, check instead that ``config`` is what the folder was started with.
        """
        if self.resumed:
            saved = self.read_config()
            if any(_plain(value) != saved.get(key) for key, value in config.items()):
                raise MdlkitError(f"{self.path} holds a run with other settings; use a new --out")
            return self.path / CONFIG
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.path.mkdir()
        except FileExistsError:
            raise MdlkitError(
                f"output folder {self.path} exists already; choose a new --out"
            ) from None
        return write_json(self.path / CONFIG, {**config, "environment": environment()})

    def read_config(self) -> dict[str, Any]:
        """The contents of ``config.json`` (with ``"environment"``)."""
        return _read_object(self.path / CONFIG)

    def read_results(self) -> dict[str, Any]:
        """The contents of ``results.json`` of a finished run."""
        return _read_object(self.path / RESULTS)

    def restore_threads(self) -> None:
        """Use the thread count the run was started with: float sums depend on it."""
        threads = self.read_config().get("environment", {}).get("threads")
        if isinstance(threads, int) and threads >= 1:
            import torch

            torch.set_num_threads(threads)

    def write_results(self, results: Any) -> Path:
        """Write ``results.json``; it is written once and never overwritten."""
        try:
            return write_json(self.path / RESULTS, results)
        except FileExistsError:
            raise MdlkitError(
                f"the run in {self.path} has finished already ({RESULTS} exists)"
            ) from None

    def file(self, name: str) -> Path:
        """The path of an artifact (a table, a plot, a model file) in the folder."""
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        """Write a text artifact such as ``table.txt``."""
        path = self.file(name)
        path.write_text(text)
        return path

    def record(self, key: str) -> dict[str, Any] | None:
        """The record of a finished sweep job, or None if it has not finished."""
        path = self.path / "runs" / f"{key}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_record(self, key: str, data: Mapping[str, Any]) -> Path:
        """Record a finished sweep job; a kill while writing leaves no half record behind."""
        text = json.dumps(data, indent=1, default=str)
        return write_atomically(
            self.path / "runs" / f"{key}.json", lambda tmp: tmp.write_text(text)
        )
