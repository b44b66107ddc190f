"""The online code's two hot kernels, compiled ahead of time once per cache folder.

Every call of ``mdlz`` or ``mdlkit compress --mode online`` runs
:func:`~mdlkit.compression.context_mixing.encode_steps` (and, to verify or decompress,
:func:`~mdlkit.compression.context_mixing.decode_steps`). Loaded from numba's on-disk cache
they cost each process about 0.5 s and 110 MB: numba itself, LLVM, and the kernels' machine
code linked again. Compiled ahead of time by ``numba.pycc`` into a small extension module
(about 0.8 MB), the same kernels load in milliseconds and never import numba.

:func:`kernels` gives the pair. The first call builds the extension into :func:`cache_dir`
(``$MDLKIT_CACHE_DIR``, else ``~/.cache/mdlkit``; 7–15 s here, with a C compiler's link; one
process builds while others wait on a lock). The file is named by a hash of the kernels'
sources and of the Python and numpy versions, so an upgrade builds anew; a file that does not
load is built again once. Where no build is possible (no C compiler, numba without ``pycc``,
a cache folder that cannot be written) the reason goes to ``NAME.failed`` beside it, one line
to standard error, and every call for a day uses numba's just-in-time kernels instead (then a
build is tried again; delete the file to try at once). ``MDLKIT_NATIVE=0`` asks for the
just-in-time kernels always. numba's ``pycc`` is pending deprecation since numba 0.57: a numba
without it means the just-in-time kernels, not an error. Both are compiled from the same
Python source by the same compiler, integer arithmetic throughout, so their archives are the
same bytes (the tests code with one and decode with the other).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mdlkit.files import exclusive_lock

__all__ = ["EXPORTS", "Steps", "build", "cache_dir", "kernels", "module_name"]

# The kernels' arguments (both take the same): dtype and dimensions, 0 for an integer. The one
# description serves twice: numba's signatures below, and the check before every native call —
# pycc's wrappers check an array's item size only and would read a strided or int32 array as if
# it were the contiguous int64 one it was compiled for.
_ARGS = (
    ("int64", 1), ("int64", 2), ("uint8", 1), ("int64", 0), ("int64", 0), ("int64", 0),
    ("int64", 1), ("uint8", 1), ("int64", 1),
)  # fmt: skip


def _numba_type(dtype: str, ndim: int) -> str:
    """numba's name of a C-contiguous array (``int64[:, ::1]``), or of the scalar."""
    return dtype if ndim == 0 else f"{dtype}[{', '.join([':'] * (ndim - 1) + ['::1'])}]"


_SIGNATURE = ", ".join(_numba_type(dtype, ndim) for dtype, ndim in _ARGS)
EXPORTS = {
    "encode_steps": f"Tuple((int64, float64))({_SIGNATURE})",
    "decode_steps": f"int64({_SIGNATURE})",
}
"""The kernels built ahead of time, with their numba signatures (C-contiguous arrays)."""
_SOURCES = ("context_mixing.py", "binary_coder.py", "jit.py", "native.py")
RETRY_SECONDS = 86_400  # a failed build is tried again after a day


@dataclass(frozen=True)
class Steps:
    """The online coder's kernels and where they come from (``"native"`` or ``"jit"``)."""

    encode_steps: Callable[..., Any]
    decode_steps: Callable[..., Any]
    origin: str


def _checked(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its array arguments checked against ``_ARGS`` first (a few calls per
    block: nothing against the kernels' own time)."""

    def call(*args: Any) -> Any:
        for i, (arg, (dtype, ndim)) in enumerate(zip(args, _ARGS, strict=True)):
            if ndim and not (isinstance(arg, np.ndarray) and arg.dtype == dtype
                             and arg.ndim == ndim and arg.flags.c_contiguous):  # fmt: skip
                raise TypeError(f"argument {i} must be a C-contiguous {ndim}-d {dtype} array")
        return function(*args)

    call.__name__ = call.__qualname__ = getattr(function, "__name__", "kernel")
    return call


def module_name() -> str:
    """The extension's module name: ``mdlkit_online_`` + 16 hex digits of the SHA-256 of the
    kernels' sources (the files they are compiled from), the Python version and numpy's."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((Path(__file__).parent / name).read_bytes())
    digest.update(f"{sys.version}|{np.__version__}".encode())
    return "mdlkit_online_" + digest.hexdigest()[:16]


def cache_dir() -> Path:
    """Where the extension lives: ``$MDLKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mdlkit``, else
    ``~/.cache/mdlkit``."""
    if os.environ.get("MDLKIT_CACHE_DIR"):
        return Path(os.environ["MDLKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mdlkit"


@contextmanager
def _quiet_build() -> Iterator[None]:
    """Standard output goes to standard error while building, and the logging levels are
    kept: the compiler and linker run as child processes, and a word of theirs on standard
    output would land inside an archive written there (mdlz -c); pycc lowers the root
    logger's level."""
    level = logging.getLogger().level
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # standard output or error closed: nothing to protect, or nowhere to go
        saved = -1
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)
        logging.getLogger().setLevel(level)


def build(directory: Path) -> Path:
    """Compile :data:`EXPORTS` into ``directory`` (made if missing); returns the file. The file
    appears whole or not at all (built in a temporary folder beside it, then renamed)."""
    with warnings.catch_warnings():
        # numba has said since 0.57 that pycc may go; if it does, this import fails and the
        # just-in-time kernels serve (see the module's notes).
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    from mdlkit.compression import context_mixing
    from mdlkit.compression.jit import Kernel

    directory.mkdir(parents=True, exist_ok=True)
    name = module_name()
    with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as tmp, _quiet_build():
        compiler = CC(name)
        compiler.output_dir = tmp
        for export, signature in EXPORTS.items():
            kernel = getattr(context_mixing, export)
            if isinstance(kernel, Kernel):  # its module's kernels become numba's, as pycc needs
                kernel.dispatcher()
            compiler.export(export, signature)(kernel.py_func)
        compiler.compile()
        (built,) = Path(tmp).glob(name + ".*")
        target = directory / built.name
        os.replace(built, target)
    return target


def _load(path: Path) -> Steps:
    spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Steps(_checked(module.encode_steps), _checked(module.decode_steps), "native")


def _native() -> Steps:
    """The built kernels, building them if needed; raises whatever stopped it."""
    directory = cache_dir()
    name = module_name()
    path = directory / (name + importlib.machinery.EXTENSION_SUFFIXES[0])
    failed = directory / (name + ".failed")

    def built_or_failed() -> Steps | None:
        if path.exists():
            with suppress(ImportError):  # damaged, or built against what changed: build again
                return _load(path)
        if failed.exists() and time.time() - failed.stat().st_mtime < RETRY_SECONDS:
            raise RuntimeError(failed.read_text().strip())
        return None

    steps = built_or_failed()
    if steps is not None:
        return steps
    directory.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(directory / (name + ".lock")):
        steps = built_or_failed()  # another process may have built it (or failed) meanwhile
        if steps is not None:
            return steps
        if sys.stderr is not None and sys.stderr.isatty():
            print("mdlkit: compiling the online coder's kernels (once)…", file=sys.stderr)
        try:
            build(directory)
            steps = _load(path)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            with suppress(OSError):
                failed.write_text(reason + "\n")
            print(f"mdlkit: could not compile the online kernels ahead of time ({reason}); "
                  f"numba's serve instead (slower to start; see {failed})",
                  file=sys.stderr)  # fmt: skip
            raise
        failed.unlink(missing_ok=True)
        return steps


_KERNELS: Steps | None = None


def kernels() -> Steps:
    """encode_steps and decode_steps: built ahead of time where possible (see the module's
    notes), else numba's just-in-time kernels. Decided once per process."""
    global _KERNELS
    if _KERNELS is None:
        steps = None
        if os.environ.get("MDLKIT_NATIVE", "1") != "0":
            try:
                steps = _native()
            except Exception:  # any reason at all: the just-in-time kernels still work
                steps = None
        if steps is None:
            from mdlkit.compression.context_mixing import decode_steps, encode_steps

            steps = Steps(encode_steps, decode_steps, "jit")
        _KERNELS = steps
    return _KERNELS
