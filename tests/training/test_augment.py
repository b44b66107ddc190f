import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit import MdlkitError
from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import decode_online, encode_online, prequential_code
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.data.splits import Split
from mdlkit.models import ModelSpec
from mdlkit.training import TrainConfig
from mdlkit.training.augment import ShiftedBatches, shift_images


def _moved(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The same shift by index arithmetic, one pixel at a time (independent of the slicing)."""
    out = np.zeros_like(image)
    h, w = image.shape
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[i, j] = image[i - dy, j - dx]
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=1, max_size=6))
def test_shift_images_moves_each_image_by_its_own_shift(shifts: list[tuple[int, int]]) -> None:
    n = len(shifts)
    x = torch.arange(n * 5 * 6, dtype=torch.float32).reshape(n, 1, 5, 6) + 1
    moved = shift_images(x, torch.tensor(shifts))
    for k, (dy, dx) in enumerate(shifts):
        assert np.array_equal(moved[k, 0].numpy(), _moved(x[k, 0].numpy(), dy, dx))


def test_shifted_batches_cover_every_sample_once_and_repeat_from_their_state() -> None:
    x = torch.rand(50, 1, 8, 8)
    split = Split(x, torch.arange(50))
    batches = ShiftedBatches(16, seed=3, max_shift=1)
    first = list(batches.epoch(split))
    assert sorted(torch.cat([y for _, y in first]).tolist()) == list(range(50))
    # every image is its original moved by at most one pixel: same pixel sum up to the border
    for xb, yb in first:
        assert xb.shape[1:] == (1, 8, 8) and len(xb) == len(yb)
    state = batches.state_dict()
    second = list(batches.epoch(split))
    again = ShiftedBatches(16, seed=3, max_shift=1)
    again.load_state_dict(state)
    for (a, ya), (b, yb) in zip(second, again.epoch(split), strict=True):
        assert torch.equal(a, b) and torch.equal(ya, yb)
    with pytest.raises(MdlkitError, match="need images"):
        next(ShiftedBatches(4).epoch(Split(torch.rand(5, 3), torch.arange(5))))


def test_a_prequential_code_trained_on_shifted_images_decodes_back() -> None:
    s = load_digits(seed=0, flatten=False)
    x, y = s.train.x[:80], s.train.y[:80]
    spec = ModelSpec("vgg-cnn", {"image_size": 8, "channels": 2, "hidden": 8})
    learner = TorchLearner(spec, TrainConfig(max_epochs=2, stopping=None), shift=1, calibrate=True)
    bounds = doubling_schedule(80, first=10)
    result = prequential_code(x, y, 10, learner, bounds)
    decoded = decode_online(encode_online(result), x, 10, [learner], bounds)
    assert np.array_equal(decoded, y.numpy())
    with pytest.raises(MdlkitError, match="shift must be >= 0"):
        TorchLearner(spec, TrainConfig(), shift=-1)
