"""numba's ``njit``, made when a kernel is first called rather than when its module is imported.

Importing numba costs a small command about 0.3 s and 65 MB. With :func:`njit` from here, the
modules that hold kernels (:mod:`~mdlkit.compression.context_mixing`,
:mod:`~mdlkit.compression.binary_coder`) import without numba, so their plain-numpy helpers
(the state's layout, new tables, the coder's start) cost nothing extra, and a process that runs
the kernels compiled ahead of time (:mod:`~mdlkit.compression.native`) never imports numba.

A :class:`Kernel` is the Python function and its options. Its first call (or
:meth:`Kernel.dispatcher`) imports numba and swaps every kernel the function's module holds —
its own and those it imported from other modules — for its numba dispatcher, so that numba,
which reads a kernel's callees from its module's globals when it compiles, finds dispatchers.
The dispatchers are the ones ``numba.njit(**options)`` makes: the same compiled code and the
same on-disk cache as a decorator applied at import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Kernel", "load_numba", "njit"]

# One lock for every kernel: a thread must not compile a kernel while another is still swapping
# its module's kernels in (numba would meet a Kernel where it needs a dispatcher).
_SWAP = threading.RLock()


def load_numba() -> Any:
    """numba, its numpy functions registered with scipy.linalg hidden.

    When numba loads its first kernel it imports scipy.linalg to see whether BLAS is there for
    np.dot and friends: about 0.3 s and 15 MB of a small file's whole compression, for
    functions no kernel of mdlkit calls. With the module hidden numba records "no BLAS" (only
    np.dot and linear algebra inside kernels compiled in this process would be refused), and
    the module is unhidden at once, so a later ``import scipy.linalg`` works as usual.
    """
    if "numba.np.arraymath" not in sys.modules and "scipy.linalg" not in sys.modules:
        sys.modules["scipy.linalg.cython_blas"] = None  # type: ignore[assignment]
        try:
            import numba.np.arraymath
        finally:
            del sys.modules["scipy.linalg.cython_blas"]
    import numba

    return numba


class Kernel:
    """A function to be compiled by ``numba.njit(**options)`` on first use."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = function
        self.options = options
        self._dispatcher: Any = None
        self._ready = False  # the dispatcher made and the module's kernels swapped in
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__module__ = function.__module__

    def dispatcher(self) -> Any:
        """numba's dispatcher of this kernel (made once), the module's kernels swapped in."""
        if self._ready:
            return self._dispatcher
        with _SWAP:
            if self._dispatcher is None:
                self._dispatcher = load_numba().njit(**self.options)(self.py_func)
                namespace = self.py_func.__globals__
                for name, value in list(namespace.items()):
                    if isinstance(value, Kernel):
                        namespace[name] = value.dispatcher()
                self._ready = True
            return self._dispatcher

    def __call__(self, *args: Any) -> Any:
        return self.dispatcher()(*args)

    def __repr__(self) -> str:
        return f"<kernel {self.__module__}.{self.__name__}>"


def njit(**options: Any) -> Callable[[Callable[..., Any]], Kernel]:
    """``numba.njit(**options)``, applied when the kernel is first called."""
    return lambda function: Kernel(function, options)
