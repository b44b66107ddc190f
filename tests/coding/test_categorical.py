import numpy as np
import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.coding import decode_categorical, encode_categorical, ideal_bits
from mdlkit.heads import CategoricalHead
from mdlkit.models import mlp


def _random_case(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.3), size=n)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return labels, probs


@pytest.mark.parametrize(("n", "k"), [(1, 2), (5000, 10), (20000, 10), (3000, 256)])
def test_range_coded_labels_decode_exactly_and_cost_close_to_ideal(n: int, k: int) -> None:
    labels, probs = _random_case(n, k, seed=n + k)
    enc = encode_categorical(labels, probs)
    assert np.array_equal(decode_categorical(enc.words, probs), labels)
    # Independent ideal length computed here, not by the library.
    ideal = float(-np.log2(probs[np.arange(n), labels]).sum())
    assert enc.ideal_bits == pytest.approx(ideal, rel=1e-12)
    # The coder's overhead: fixed-point probabilities (24 bit) and at most one 32-bit word of flush.
    assert abs(enc.coded_bits - ideal) <= 1e-4 * ideal + 64


def test_labels_coded_with_model_probabilities_round_trip() -> None:
    torch.manual_seed(0)
    model = mlp([5, 7, 3])
    x = torch.randn(3000, 5)
    labels = torch.randint(0, 3, (3000,)).numpy()
    probs = CategoricalHead().predict(model, x).probs
    assert probs.dtype == np.float64 and np.allclose(probs.sum(axis=1), 1.0)
    enc = encode_categorical(labels, probs)
    # The receiver recomputes the probabilities itself: they must be bit-identical.
    again = CategoricalHead().predict(model, x).probs
    assert np.array_equal(again, probs)
    assert np.array_equal(decode_categorical(enc.words, again), labels)
    assert abs(enc.coded_bits - ideal_bits(labels, probs)) <= 1e-4 * enc.ideal_bits + 64


def test_symbols_outside_the_alphabet_are_rejected() -> None:
    probs = np.full((3, 4), 0.25)
    with pytest.raises(MdlkitError, match="symbols must lie"):
        encode_categorical(np.array([0, 4, 1]), probs)
    with pytest.raises(MdlkitError, match="one probability row"):
        encode_categorical(np.array([0, 1]), probs)
