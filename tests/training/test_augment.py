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
    with pytest.raises(MdlkitError, match="augmentation out of range"):
        TorchLearner(spec, TrainConfig(), shift=-1)


def test_a_quarter_turn_is_rot90_and_a_zoom_of_two_samples_the_centre() -> None:
    """Closed forms of the affine resampling on a square image: rotating by 90° moves every
    pixel centre onto another (torch.rot90, counter-clockwise as the image is displayed), and
    zooming in by 2 samples the centre half at half-pixel steps (the mean of 2×2 blocks)."""
    from mdlkit.training.augment import rotate_scale_images

    x = torch.arange(36, dtype=torch.float32).reshape(1, 1, 6, 6)
    turned = rotate_scale_images(x, torch.tensor([90.0]), torch.ones(1))
    assert torch.allclose(turned, torch.rot90(x, 1, dims=(2, 3)), atol=1e-4) or torch.allclose(
        turned, torch.rot90(x, -1, dims=(2, 3)), atol=1e-4
    )
    ramp = torch.arange(8, dtype=torch.float32).repeat(8, 1).reshape(1, 1, 8, 8)  # x[i, j] = j
    zoomed = rotate_scale_images(ramp, torch.zeros(1), torch.tensor([2.0]))
    # output column j samples input column 2 + (j + 0.5) / 2 − 0.5: a ramp of slope ½ from 1.75
    expected = 1.75 + 0.5 * torch.arange(8, dtype=torch.float32)
    assert torch.allclose(zoomed[0, 0, 3], expected, atol=1e-5)


def test_rotated_and_scaled_batches_repeat_and_differ_from_shifts_alone() -> None:
    x = torch.rand(40, 1, 10, 10)
    split = Split(x, torch.arange(40))
    plain = [b for b, _ in ShiftedBatches(16, seed=5, max_shift=1).epoch(split)]
    off = [b for b, _ in ShiftedBatches(16, seed=5, max_shift=1, max_rotate=0).epoch(split)]
    warped = [b for b, _ in ShiftedBatches(16, 5, 1, max_rotate=15, max_scale=10).epoch(split)]
    again = [b for b, _ in ShiftedBatches(16, 5, 1, max_rotate=15, max_scale=10).epoch(split)]
    assert all(torch.equal(a, b) for a, b in zip(plain, off, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(warped, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(plain, warped, strict=True))
    with pytest.raises(MdlkitError, match="augmentation out of range"):
        ShiftedBatches(16, max_scale=100)
    with pytest.raises(MdlkitError, match="augmentation out of range"):
        TorchLearner(ModelSpec("small-cnn", {"image_size": 8}), TrainConfig(), rotate=-1)
