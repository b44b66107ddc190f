"""Writing files without harm: mdlkit's own whole or not at all, and a user's output without
ever replacing what is not a regular file.

A checkpoint, a sweep job's record or a weight file that a kill interrupts halfway must not be
read back as if it were complete: :func:`write_atomically` fills a temporary file beside the
target and renames it over the target in one step, so a reader finds the old file, the new one
or none. It is for the files mdlkit creates in its run folders; :func:`exclusive_lock` lets one
process of several do a piece of work while the others wait for it. A user's output path may be a
device, a FIFO or a link: :func:`check_output` says how it may be written (before any work),
:func:`deliver` writes it once the data is complete.

>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "sub" / "a.txt"
>>> write_atomically(path, lambda tmp: tmp.write_text("whole")).read_text()
'whole'
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from mdlkit.errors import MdlkitError

__all__ = ["Output", "check_output", "deliver", "exclusive_lock", "write_atomically"]


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing; its folder must exist): a second
    process asking for it waits until the first leaves, or dies (the system then frees the
    lock). Where ``fcntl`` is missing (Windows) there is no lock: each process goes on."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with Path(path).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


# A user's output ------------------------------------------------------------------------------

OutputKind = Literal["stdout", "new", "replace", "direct"]


@dataclass(frozen=True)
class Output:
    """Where a command's output goes, checked before any work is done, and how it is written.

    ``kind``: ``stdout``; ``new`` (no file there: a temporary file beside it, renamed into place
    when complete); ``replace`` (a regular file, only with ``force``: the same rename over it);
    ``direct`` (a character device such as /dev/null, a FIFO, or — with ``force`` — a block
    device or the target of a symbolic link: opened and written in place, never renamed over,
    so the device, FIFO or link stays what it is).
    """

    name: str
    path: Path | None
    kind: OutputKind
    binary: bool

    @property
    def staging_folder(self) -> Path | None:
        """Where the temporary file goes: beside a file that is renamed into place (the same
        filesystem), the temporary folder otherwise."""
        return self.path.parent if self.kind in ("new", "replace") and self.path else None


def check_output(
    name: str, *, source: Path | None = None, force: bool = False, binary: bool = True
) -> Output:
    """The output ``name`` (``-``: standard output) as :class:`Output`, or an
    :class:`MdlkitError` naming the problem: a folder, the input itself, an existing regular
    file or link without ``force``, a socket, a missing folder, ``binary`` data for a
    terminal, or standard output closed."""
    if name == "-":
        if sys.stdout is None:  # started with standard output closed (>&-)
            raise MdlkitError("standard output is closed; write to a file instead")
        if binary and sys.stdout.isatty():
            raise MdlkitError(
                "compressed data is not written to a terminal; redirect it (> FILE) or give -o"
            )
        return Output(name, None, "stdout", binary)
    path = Path(name)
    if path.is_symlink():
        if not path.exists():
            raise MdlkitError(f"{name} is a link to nothing; remove it or give another -o")
        if not force:
            raise MdlkitError(
                f"{name} exists (a link); give another -o, or --force to write its target"
            )
    if path.is_dir():
        raise MdlkitError(f"the output {name} is a directory; give a file name with -o")
    if not path.exists():
        if not path.parent.is_dir():
            raise MdlkitError(f"cannot write {name}: the folder {path.parent} does not exist")
        return Output(name, path, "new", binary)
    if source is not None and source.exists() and os.path.samefile(path, source):
        raise MdlkitError(f"the output {name} is the input itself; give another -o")
    mode = path.stat().st_mode
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return Output(name, path, "direct", binary)
    if path.is_symlink() or stat.S_ISBLK(mode):
        if not force:
            raise MdlkitError(f"{name} is a block device; give --force to write to it")
        return Output(name, path, "direct", binary)
    if not stat.S_ISREG(mode):
        raise MdlkitError(f"{name} is neither a file nor a device; give another -o")
    if not force:
        raise MdlkitError(f"{name} exists; give another -o, or --force to overwrite it")
    return Output(name, path, "replace", binary)


def deliver(output: Output, finished: Path, *, like: Path | None = None) -> None:
    """Put the complete file ``finished`` where ``output`` says: renamed into place (taking
    ``like``'s permission bits and modification time, as gzip and xz do; a file made from
    standard input gets the umask's default), or copied into standard output, a device, a
    FIFO or a link's target."""
    if output.kind in ("new", "replace"):
        assert output.path is not None
        if like is not None:
            shutil.copystat(like, finished)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(finished, 0o666 & ~umask)
        os.replace(finished, output.path)
        return
    if output.kind == "stdout":
        _copy(finished, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    assert output.path is not None
    with open(output.path, "wb") as target:  # follows a link; truncates only what it writes
        if output.binary and target.isatty():
            raise MdlkitError(f"compressed data is not written to a terminal ({output.name})")
        _copy(finished, target)


def _copy(source: Path, target: BinaryIO) -> None:
    with source.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            target.write(chunk)
