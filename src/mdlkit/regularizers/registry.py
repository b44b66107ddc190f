"""Regularization methods by name, as recipes and the command line choose them.

``none`` is plain training; ``drr``, ``l1`` and ``pmmp`` are :class:`DRR`, :class:`L1` and
:class:`PMMP` with the options that apply to each (the others are ignored).

>>> type(make_regularizer("drr", 1e-3, beta=5.0)).__name__
'DRR'
>>> make_regularizer("none", 1e-3) is None
True
>>> check_method("drr", alpha=-1.0)
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: alpha must be >= 0, got -1.0
"""

from __future__ import annotations

from collections.abc import Callable

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import Regularizer
from mdlkit.regularizers.drr import DRR
from mdlkit.regularizers.l1 import L1
from mdlkit.regularizers.pmmp import PMMP
from mdlkit.regularizers.schedules import Strength

__all__ = ["METHODS", "check_method", "make_regularizer"]

METHODS = ("none", "drr", "l1", "pmmp")


def make_regularizer(
    method: str,
    alpha: Strength,
    *,
    beta: float = 5.0,
    proximal: bool = False,
    step_size: float = 1e-3,
    gamma_init: float = 1.0,
    u_init: float = 0.0,
    fictitious_play: bool = False,
) -> Regularizer | None:
    """The regularizer of ``method`` (one of :data:`METHODS`) at strength ``alpha`` per sample
    (a constant or a schedule); None for ``none``.

    ``beta`` is DRR's sharpness; ``proximal`` and ``step_size`` (the learning rate) choose R-L1
    by proximal steps; ``gamma_init``, ``u_init`` and ``fictitious_play`` configure PMMP.
    """
    builders: dict[str, Callable[[], Regularizer | None]] = {
        "none": lambda: None,
        "drr": lambda: DRR(alpha, beta=beta),
        "l1": lambda: L1(alpha, proximal=proximal, step_size=step_size),
        "pmmp": lambda: PMMP(
            alpha, gamma_init=gamma_init, u_init=u_init, fictitious_play=fictitious_play
        ),
    }
    if method not in builders:
        raise MdlkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return builders[method]()


def check_method(
    method: str,
    *,
    alpha: float,
    beta: float = 5.0,
    proximal: bool = False,
    step_size: float = 1e-3,
    gamma_init: float = 1.0,
    u_init: float = 0.0,
    fictitious_play: bool = False,
) -> None:
    """Raise :class:`MdlkitError` if ``method`` is unknown or its options are invalid (each
    regularizer checks its own options when it is built)."""
    if method not in METHODS:
        raise MdlkitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not alpha >= 0:
        raise MdlkitError(f"alpha must be >= 0, got {alpha}")
    make_regularizer(
        method,
        alpha,
        beta=beta,
        proximal=proximal,
        step_size=step_size,
        gamma_init=gamma_init,
        u_init=u_init,
        fictitious_play=fictitious_play,
    )
