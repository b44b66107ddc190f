"""Codes for description lengths, each a head + a stream deciding which model predicts what.

Every code returns a :class:`CodeResult` (length with parts, ideal bits, coded bits, whether
it was decoded back); :func:`uniform_codelength` is the closed-form baseline. The variational
code's posterior (:class:`GaussianPosterior`) becomes a bits-back stream with
:func:`encode_bits_back` / :func:`decode_bits_back`. Choosing by the
code (α from the description length, the charged choice among candidates): :mod:`.selection`.
"""

from mdlkit.codes.bits_back import (
    BitsBackCode,
    BitsBackStream,
    decode_bits_back,
    encode_bits_back,
)
from mdlkit.codes.block_cache import CachedLearner
from mdlkit.codes.learners import (
    TEMPERATURE_GRID,
    Fitted,
    Learner,
    TorchLearner,
    fit_temperature,
    temperature_posterior,
)
from mdlkit.codes.online import (
    OnlineCode,
    decode_online,
    encode_online,
    prequential_code,
    switching_code,
)
from mdlkit.codes.online_run import float32_two_part, run_online_codes, train_receivers_ahead
from mdlkit.codes.posterior import GaussianPosterior
from mdlkit.codes.result import CodeResult
from mdlkit.codes.schedules import doubling_schedule, fraction_schedule
from mdlkit.codes.selection import (
    Selection,
    codec_bits_per_nonzero,
    description_length_alpha,
    select_shortest,
    two_part_bits,
)
from mdlkit.codes.two_part import TwoPartCode, two_part_code
from mdlkit.codes.uniform import (
    UniformStream,
    decode_uniform,
    encode_uniform,
    uniform_bits,
    uniform_codelength,
)
from mdlkit.codes.variational import VariationalCode, train_posterior, variational_code

__all__ = [
    "TEMPERATURE_GRID",
    "BitsBackCode",
    "BitsBackStream",
    "CachedLearner",
    "CodeResult",
    "Fitted",
    "GaussianPosterior",
    "Learner",
    "OnlineCode",
    "Selection",
    "TorchLearner",
    "TwoPartCode",
    "UniformStream",
    "VariationalCode",
    "codec_bits_per_nonzero",
    "decode_bits_back",
    "decode_online",
    "decode_uniform",
    "description_length_alpha",
    "doubling_schedule",
    "encode_bits_back",
    "encode_online",
    "encode_uniform",
    "fit_temperature",
    "float32_two_part",
    "fraction_schedule",
    "prequential_code",
    "run_online_codes",
    "select_shortest",
    "switching_code",
    "temperature_posterior",
    "train_posterior",
    "train_receivers_ahead",
    "two_part_bits",
    "two_part_code",
    "uniform_bits",
    "uniform_codelength",
    "variational_code",
]
