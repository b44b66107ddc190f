"""Regularization methods by name, as recipes and the command line choose them.

``none`` is plain training; ``drr``, ``l1`` and ``pmmp`` are :class:`DRR`, :class:`L1` and
:class:`PMMP`. A :class:`RegularizerSpec` holds a method's name and options (those of other
methods are ignored), checks them before anything runs, and builds the regularizer.

>>> type(RegularizerSpec("drr", alpha=1e-3, beta=5.0).build()).__name__
'DRR'
>>> RegularizerSpec("none").build() is None
True
>>> RegularizerSpec("drr", alpha=-1.0).validate()
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: alpha must be >= 0, got -1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mdlkit.errors import MdlkitError
from mdlkit.regularizers.base import Regularizer
from mdlkit.regularizers.drr import DRR
from mdlkit.regularizers.l1 import L1
from mdlkit.regularizers.pmmp import PMMP
from mdlkit.regularizers.schedules import Strength

__all__ = ["METHODS", "RegularizerSpec"]

METHODS = ("none", "drr", "l1", "pmmp")


@dataclass(frozen=True)
class RegularizerSpec:
    """A method (one of :data:`METHODS`) and its options.

    ``alpha`` is the strength per sample; ``beta`` is DRR's sharpness; ``proximal`` and
    ``step_size`` (the learning rate) choose R-L1 by proximal steps; ``gamma_init``, ``u_init``
    and ``fictitious_play`` configure PMMP.
    """

    method: str
    alpha: float = 3e-3
    beta: float = 5.0
    proximal: bool = False
    step_size: float = 1e-3
    gamma_init: float = 1.0
    u_init: float = 0.0
    fictitious_play: bool = False

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on an unknown method or an invalid option (each
        regularizer checks its own options when it is built)."""
        self.build()

    def build(self, alpha: Strength | None = None) -> Regularizer | None:
        """The regularizer, None for ``none``; ``alpha`` (e.g. a warm-up schedule) replaces
        the constant strength."""
        strength = self.alpha if alpha is None else alpha
        builders: dict[str, Callable[[], Regularizer | None]] = {
            "none": lambda: None,
            "drr": lambda: DRR(strength, beta=self.beta),
            "l1": lambda: L1(strength, proximal=self.proximal, step_size=self.step_size),
            "pmmp": lambda: PMMP(
                strength,
                gamma_init=self.gamma_init,
                u_init=self.u_init,
                fictitious_play=self.fictitious_play,
            ),
        }
        if self.method not in builders:
            raise MdlkitError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.alpha >= 0:
            raise MdlkitError(f"alpha must be >= 0, got {self.alpha}")
        return builders[self.method]()
