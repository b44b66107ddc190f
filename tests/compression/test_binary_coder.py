"""The binary arithmetic coder: exact round trips, and a length within a hair of the ideal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit.compression.binary_coder import decode_bits, encode_bits
from mdlkit.compression.context_mixing import (
    decode_steps,
    encode_steps,
    new_lanes,
    new_state,
    run_known,
)

_BITS_AND_PROBS = st.integers(0, 2**32 - 1).flatmap(
    lambda seed: st.integers(0, 3000).map(lambda n: _sample(n, seed))
)


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n bits and 12-bit probabilities: some uniform, some extreme, bits drawn from them or
    against them (the coder must be exact for any bits, likely or not)."""
    rng = np.random.default_rng(seed)
    p = rng.integers(1, 4096, n)
    extreme = rng.random(n) < 0.3
    p[extreme] = rng.choice([1, 2, 4094, 4095], int(extreme.sum()))
    bits = (rng.random(n) < p / 4096).astype(np.int64)
    flip = rng.random(n) < 0.05
    bits[flip] ^= 1
    return bits, p


def _ideal_bits(bits: np.ndarray, p: np.ndarray) -> float:
    """Σ −log2 P(bit), computed apart from the coder (numpy, float64)."""
    q = p.astype(np.float64) / 4096.0
    return float(-np.log2(np.where(bits == 1, q, 1.0 - q)).sum())


@settings(max_examples=200, deadline=None)
@given(_BITS_AND_PROBS)
def test_random_bits_round_trip_within_a_constant_and_a_tenth_of_a_percent(
    sample: tuple[np.ndarray, np.ndarray],
) -> None:
    bits, p = sample
    code = encode_bits(bits, p)
    assert np.array_equal(decode_bits(code, p), bits)
    ideal = _ideal_bits(bits, p)
    # 32 bits: the final byte and the interval's rounding at the start and end of a short code.
    assert abs(8 * len(code) - ideal) <= 32 + 0.001 * ideal


def test_long_runs_cost_their_ideal_length() -> None:
    """Bits under probabilities 1/4096 and 4095/4096 for a long time (the carry-less coder's
    hardest case: a thin interval) still cost −log2 p each, to 0.1 %."""
    n = 200_000
    for p_value, bit in ((4095, 1), (4095, 0), (1, 1), (2048, 1)):
        p, bits = np.full(n, p_value), np.full(n, bit)
        code = encode_bits(bits, p)
        assert np.array_equal(decode_bits(code, p), bits)
        ideal = _ideal_bits(bits, p)
        assert abs(8 * len(code) - ideal) <= 32 + 0.001 * ideal


def test_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.4095"):
        encode_bits(np.array([1, 0]), np.array([0, 4096]))


def test_any_bytes_decode_to_some_bits_without_error() -> None:
    rng = np.random.default_rng(1)
    p = rng.integers(1, 4096, 5000)
    for n in (0, 1, 3, 100):
        bits = decode_bits(rng.integers(0, 256, n, dtype=np.uint8).tobytes(), p)
        assert bits.shape == (5000,) and set(np.unique(bits)) <= {0, 1}


@pytest.mark.parametrize("segments", [1, 7])
def test_the_model_loops_code_what_the_coder_codes_under_the_model_s_probabilities(
    segments: int,
) -> None:
    """encode_steps / decode_steps (model and coder in one compiled loop) against run_known's
    probabilities coded by the coder's own kernels: the same bytes, the same ideal length (a
    stale numba cache of either module would show here)."""
    data = np.frombuffer(b"abracadabra, said the cat to the hat. " * 40, dtype=np.uint8).copy()
    n = len(data)
    seg_len = -(-n // segments)
    lanes = new_lanes(n, seg_len)
    shape = (seg_len, len(lanes), 8)
    probs = np.zeros(shape, dtype=np.int64)
    run_known(new_state(12), lanes, data.copy(), seg_len, 0, seg_len, np.zeros(shape, np.int64),
              probs)  # fmt: skip
    positions = np.arange(len(lanes))[None, :] * seg_len + np.arange(seg_len)[:, None]
    valid = np.broadcast_to((positions < n)[:, None, :], (seg_len, 8, len(lanes)))
    order = probs.transpose(0, 2, 1)[valid]  # step, bit, segment
    byte = data[np.minimum(positions, n - 1)]
    bits = ((byte[:, None, :] >> (7 - np.arange(8))[None, :, None]) & 1)[valid]
    expected = encode_bits(bits, order)

    from mdlkit.compression.binary_coder import finish, new_decoder, new_encoder

    coder, out, record = new_encoder(), np.zeros(2 * n, dtype=np.uint8), np.zeros(8 * n, np.int64)
    count, ideal = encode_steps(new_state(12), new_lanes(n, seg_len), data.copy(), seg_len, 0,
                                seg_len, coder, out, record)  # fmt: skip
    code = out[: finish(coder, out)].tobytes()
    assert code == expected and count == 8 * n
    assert np.array_equal(record, order)
    assert ideal == pytest.approx(_ideal_bits(bits, order), rel=1e-12)
    src = np.frombuffer(code, dtype=np.uint8)
    back = np.zeros(n, dtype=np.uint8)
    decode_steps(new_state(12), new_lanes(n, seg_len), back, seg_len, 0, seg_len,
                 new_decoder(src), src, np.zeros(0, np.int64))  # fmt: skip
    assert np.array_equal(back, data)
