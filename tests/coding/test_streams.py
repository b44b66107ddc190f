import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError
from mdlkit.coding import (
    BinRange,
    Categorical,
    Decoder,
    DiscretizedGaussian,
    Encoder,
    UniformBins,
    encode_categorical,
    gaussian_bin_bits,
)
from mdlkit.coding.streams import ByteStream, padded_words, stream_bytes, verified_bytes


def _blocks(n: int, sizes: list[int]) -> list[tuple[int, int]]:
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] == n
    return [(int(s), int(e)) for s, e in itertools.pairwise(bounds)]


def test_categorical_block_by_block_equals_all_at_once() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=300)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    whole = encode_categorical(labels, probs)
    encoder = Encoder()
    for s, e in _blocks(300, [1, 9, 40, 250]):
        encoder.encode(labels[s:e], Categorical(probs[s:e]))
    pieces = encoder.finish()
    # A range coder's queue does not care where the calls split: the same words, bit for bit.
    assert np.array_equal(pieces.words, whole.words)
    assert pieces.ideal_bits == pytest.approx(whole.ideal_bits, rel=1e-12)
    decoder = Decoder(pieces.words)
    out = np.concatenate(
        [decoder.decode(Categorical(probs[s:e])) for s, e in _blocks(300, [100, 100, 100])]
    )
    assert np.array_equal(out, labels)


@pytest.mark.parametrize("epsilon", [1e-3, 1e-6])
def test_gaussian_block_by_block_round_trips_and_costs_its_ideal_length(epsilon: float) -> None:
    rng = np.random.default_rng(1)
    mu = rng.uniform(-1, 1, 2000)
    y = mu + 0.05 * rng.standard_normal(2000)
    k = np.round(y / epsilon).astype(np.int64)
    support = BinRange(int(k.min()), int(k.max()))
    assert (support.shift > 0) == (epsilon == 1e-6)  # 2M bins need low bits; 2k do not
    dist = DiscretizedGaussian(mu, 0.05, epsilon, support)
    encoder = Encoder()
    for s, e in _blocks(2000, [10, 990, 1000]):
        encoder.encode(k[s:e], dist[s:e])
    stream = encoder.finish()
    decoder = Decoder(stream.words)
    out = np.concatenate([decoder.decode(dist[s:e]) for s, e in _blocks(2000, [10, 990, 1000])])
    assert np.array_equal(out, k)
    # Independent ideal length: the bin masses computed here from the closed form.
    assert stream.ideal_bits == pytest.approx(
        float(gaussian_bin_bits(k, mu, 0.05, epsilon).sum()), rel=1e-12
    )
    assert stream.ideal_bits - 64 <= stream.coded_bits <= stream.ideal_bits * 1.001 + 64


def test_uniform_bins_cost_exactly_log2_of_the_range() -> None:
    support = BinRange(-3, 4)  # 8 bins: 3 bits each
    k = np.array([-3, 4, 0, 1, 2, -1, -2, 3])
    encoder = Encoder()
    bits = encoder.encode(k, UniformBins(support, 8))
    assert bits.tolist() == [3.0] * 8
    stream = encoder.finish()
    assert stream.coded_bits == 32  # 24 bits fit one word
    assert np.array_equal(Decoder(stream.words).decode(UniformBins(support, 8)), k)
    with pytest.raises(MdlkitError, match="sent range"):
        Encoder().encode(np.array([5]), UniformBins(support, 1))


def test_one_stream_carries_different_kinds_in_order() -> None:
    support = BinRange(-100, 100)
    parts = [
        (np.array([2, 0]), Categorical(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]))),
        (np.array([-7, 12, 0]), UniformBins(support, 3)),
        (np.array([5, -5]), DiscretizedGaussian(np.array([0.5, -0.4]), 0.1, 0.1, support)),
    ]
    encoder = Encoder()
    for symbols, dist in parts:
        encoder.encode(symbols, dist)
    decoder = Decoder(encoder.finish().words)
    for symbols, dist in parts:
        assert np.array_equal(decoder.decode(dist), symbols)


def test_a_gaussian_stream_needs_its_range() -> None:
    with pytest.raises(MdlkitError, match="bin range"):
        Encoder().encode(np.array([1]), DiscretizedGaussian(np.zeros(1), 1.0, 0.1))


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 40),
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_categorical_blocks_round_trip(n_classes: int, sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    probs = rng.dirichlet(np.full(n_classes, 0.2), size=n)
    labels = np.array([rng.choice(n_classes, p=p) for p in probs])
    blocks = _blocks(n, sizes)
    encoder = Encoder()
    for s, e in blocks:
        encoder.encode(labels[s:e], Categorical(probs[s:e]))
    stream = encoder.finish()
    decoder = Decoder(stream.words)
    assert np.array_equal(
        np.concatenate([decoder.decode(Categorical(probs[s:e])) for s, e in blocks]), labels
    )
    ideal = float(-np.log2(probs[np.arange(n), labels]).sum())
    assert stream.ideal_bits == pytest.approx(ideal, rel=1e-12)
    assert stream.coded_bits <= ideal * (1 + 1e-4) + 64 + math.ceil(n * 1e-6)


# --- byte-exact termination ---------------------------------------------------------------------


def _exhaustive_shortest(whole: bytes, decodes: Callable[[bytes], bool]) -> int:
    """The fewest bytes t whose zero padding decodes, by trying, for t = len − 1, len − 2, …,
    the first t bytes as they are and rounded up by one (a t-byte point at or above the
    stream's, and the one below it, are the only candidates), until neither decodes."""
    x, m, best = int.from_bytes(whole, "big"), len(whole), len(whole)
    for t in range(m - 1, -1, -1):
        floor = x >> (8 * (m - t))
        if not any(c < 1 << (8 * t) and decodes(c.to_bytes(t, "big")) for c in (floor, floor + 1)):
            break
        best = t
    return best


@given(
    st.integers(0, 60),
    st.integers(2, 7),
    st.sampled_from([0.05, 0.3, 1.0, 5.0]),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=300, deadline=None)
def test_a_stream_cut_to_whole_bytes_decodes_into_the_same_symbols(
    n: int, k: int, concentration: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, concentration), size=n) + 1e-6
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=p) for p in probs], dtype=np.int64)
    encoder = Encoder()
    encoder.encode(labels, Categorical(probs))

    def decodes(words: np.ndarray) -> bool:
        try:
            return bool(np.array_equal(Decoder(words).decode(Categorical(probs)), labels))
        except AssertionError:  # constriction: data invalid for the model
            return False

    whole = encoder.finish()
    stream = encoder.finish_bytes(decodes)
    assert isinstance(stream, ByteStream) and stream.coded_bits == 8 * len(stream.data)
    assert np.array_equal(Decoder(stream.words).decode(Categorical(probs)), labels)
    assert stream.n_symbols == n and stream.ideal_bits == whole.ideal_bits
    # Never longer than the whole words; as short as an exhaustive search finds.
    assert stream.coded_bits <= whole.coded_bits
    whole_bytes = np.asarray(whole.words, dtype=">u4").tobytes()
    assert len(stream.data) == _exhaustive_shortest(
        whole_bytes, lambda data: decodes(padded_words(data))
    )
    assert stream_bytes(encoder._coder) == (stream.data, whole_bytes)


def test_a_stream_of_the_likeliest_symbols_can_take_no_bytes_at_all() -> None:
    # Each symbol the first of its distribution: the interval keeps its lower end 0, and the
    # decoder's zero padding is the point 0.
    probs = np.tile([0.9, 0.1], (5, 1))
    encoder = Encoder()
    encoder.encode(np.zeros(5, dtype=np.int64), Categorical(probs))
    stream = encoder.finish_bytes(
        lambda words: bool(np.all(Decoder(words).decode(Categorical(probs)) == 0))
    )
    assert stream.data == b"" and len(encoder.finish().words) == 1
    assert Encoder().finish_bytes(lambda words: True).data == b""


def test_the_cut_is_checked_by_decoding_and_the_whole_words_kept_if_it_fails() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    labels = np.array([rng.choice(4, p=p) for p in probs])
    encoder = Encoder()
    encoder.encode(labels, Categorical(probs))
    words = encoder.finish().words
    shortest, whole = stream_bytes(encoder._coder)
    assert len(shortest) < len(whole) == 4 * len(words)
    # A check that refuses the short form (as if it decoded other symbols): the whole words.
    kept = verified_bytes(encoder._coder, lambda w: bool(np.array_equal(w, words)))
    assert kept == whole
    with pytest.raises(RuntimeError, match="does not decode into what was coded"):
        verified_bytes(encoder._coder, lambda w: False)


def test_padded_words_are_big_endian_with_zero_bytes_at_the_end() -> None:
    assert padded_words(b"").tolist() == []
    assert padded_words(bytes([1, 2, 3, 4, 5])).tolist() == [0x01020304, 0x05000000]
    words = np.array([0xDEADBEEF, 7], dtype=np.uint32)
    assert np.array_equal(padded_words(words.astype(">u4").tobytes()), words)
