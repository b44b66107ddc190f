"""mdlkit: learning is compression, taken literally.

Train networks that minimise their description length, measure and produce the bitstreams of
codes for data and models, all in bits.
"""

from mdlkit.bits import CodeLength, bits_from_nats, nats_from_bits
from mdlkit.errors import MdlkitError
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
