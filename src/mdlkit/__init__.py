"""mdlkit: learning is compression, taken literally.

Train networks that minimise their description length, measure and produce the bitstreams of
codes for data and models, all in bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdlkit.bits import CodeLength, bits_from_nats, nats_from_bits
from mdlkit.errors import MdlkitError

if TYPE_CHECKING:
    from mdlkit.heads import Evaluation, evaluate

__version__ = "0.1.0"

__all__ = [
    "CodeLength",
    "Evaluation",
    "MdlkitError",
    "__version__",
    "bits_from_nats",
    "evaluate",
    "nats_from_bits",
]


def __getattr__(name: str) -> Any:
    # The heads need torch: they are imported on first use (PEP 562), so that importing mdlkit
    # (as every command does) costs nothing a command does not need.
    if name in ("Evaluation", "evaluate"):
        from mdlkit import heads

        return getattr(heads, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
