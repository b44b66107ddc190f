"""Writing mdlkit's own files whole or not at all.

A checkpoint, a sweep job's record or a weight file that a kill interrupts halfway must not be
read back as if it were complete: :func:`write_atomically` fills a temporary file beside the
target and renames it over the target in one step, so a reader finds the old file, the new one
or none. It is for the files mdlkit creates in its run folders; a user's output path (which
may be a device, a FIFO or a symlink) is the compressor's business (``compress_file``).

>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "sub" / "a.txt"
>>> write_atomically(path, lambda tmp: tmp.write_text("whole")).read_text()
'whole'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on ``path`` + ``.tmp`` (its folder created if needed), then rename
    that file over ``path``; returns ``path``. A kill before the rename leaves ``path`` as it
    was (a rerun rewrites the same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path
