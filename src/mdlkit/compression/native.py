"""The online code's two hot kernels, compiled ahead of time once per installation.

Every call of ``mdlz`` or ``mdlkit compress --mode online`` runs
:func:`~mdlkit.compression.context_mixing.encode_steps` (and, to verify or decompress,
:func:`~mdlkit.compression.context_mixing.decode_steps`). Loaded from numba's on-disk cache
they cost each process about 0.5 s and 110 MB: numba itself, LLVM, and the kernels' machine
code linked again. Compiled ahead of time by ``numba.pycc`` into a small extension module
(about 0.8 MB), the same kernels load in milliseconds and never import numba.

:func:`kernels` gives the pair. The first call on an installation builds the extension into
:func:`cache_dir` (about 15 s, plus a C compiler's link; the file is named by a hash of the
kernels' sources, so an upgrade builds anew and never loads a stale one); later calls load it.
Where no build is possible (no C compiler, numba without ``pycc``) the reason is kept beside
it and every call uses numba's just-in-time kernels instead, compiled once into numba's own
cache (delete the ``.failed`` file to try the build again). ``MDLKIT_NATIVE=0`` asks for
those always. numba's ``pycc`` is pending deprecation since numba 0.57: a numba without it
means the just-in-time kernels, not an error. Both are compiled from the same Python
source by the same compiler, integer arithmetic throughout: their archives are identical (the
tests check one against the other).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EXPORTS", "Steps", "build", "cache_dir", "kernels", "module_name"]

_ARRAY, _LANES, _BYTES = "i8[::1]", "i8[:, ::1]", "u1[::1]"
_ARGS = f"{_ARRAY}, {_LANES}, {_BYTES}, i8, i8, i8, {_ARRAY}, {_BYTES}, {_ARRAY}"
EXPORTS = {
    "encode_steps": f"Tuple((i8, f8))({_ARGS})",
    "decode_steps": f"i8({_ARGS})",
}
"""The kernels built ahead of time, with their numba signatures (C-contiguous arrays)."""
_SOURCES = ("context_mixing.py", "binary_coder.py", "jit.py", "native.py")


@dataclass(frozen=True)
class Steps:
    """The online coder's kernels and where they come from (``"native"`` or ``"jit"``)."""

    encode_steps: Callable[..., Any]
    decode_steps: Callable[..., Any]
    origin: str


def module_name() -> str:
    """The extension's module name: ``mdlkit_online_`` + 16 hex digits of the SHA-256 of the
    kernels' sources (the files they are compiled from)."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return "mdlkit_online_" + digest.hexdigest()[:16]


def cache_dir() -> Path:
    """Where the extension lives: ``$MDLKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mdlkit``, else
    ``~/.cache/mdlkit``."""
    if os.environ.get("MDLKIT_CACHE_DIR"):
        return Path(os.environ["MDLKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mdlkit"


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    # The compiler and linker run as child processes; a word of theirs on standard output
    # would land inside an archive written there (mdlz -c).
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


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
    with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as tmp, _stdout_to_stderr():
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


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _native() -> Steps | None:
    directory = cache_dir()
    name = module_name()
    path = directory / (name + importlib.machinery.EXTENSION_SUFFIXES[0])
    failed = directory / (name + ".failed")
    if not path.exists():
        if failed.exists():
            return None
        try:
            path = build(directory)
        except Exception as error:  # any reason at all: the just-in-time kernels still work
            with suppress(OSError):
                failed.write_text(f"{type(error).__name__}: {error}\n")
            return None
    try:
        module = _load(path)
    except ImportError:
        return None
    return Steps(module.encode_steps, module.decode_steps, "native")


_KERNELS: Steps | None = None


def kernels() -> Steps:
    """encode_steps and decode_steps: built ahead of time where possible (see the module's
    notes), else numba's just-in-time kernels. Decided once per process."""
    global _KERNELS
    if _KERNELS is None:
        steps = _native() if os.environ.get("MDLKIT_NATIVE", "1") != "0" else None
        if steps is None:
            from mdlkit.compression.context_mixing import decode_steps, encode_steps

            steps = Steps(encode_steps, decode_steps, "jit")
        _KERNELS = steps
    return _KERNELS
