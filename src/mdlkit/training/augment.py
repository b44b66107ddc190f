"""Augmented batches: random translations (and rotations, scalings) of images, drawn from a
seeded generator.

A prequential learner may train on anything the receiver can recompute: shifted copies of the
already-decoded images are such a thing, and on small data sets they are worth more than any
change of architecture (Bornschein et al. 2020 code MNIST with augmentation). Each sample of a
batch is moved by (dy, dx), both uniform in [−s, s] pixels, with zeros shifted in:

    x'[c, i, j] = x[c, i − dy, j − dx]   (0 where i − dy or j − dx falls outside the image)

Optionally each sample is first rotated by θ uniform in [−r, r] degrees and scaled by a factor
z uniform in [1 − a, 1 + a] about the image's centre (bilinear resampling, zeros outside):

    x'(p) = x(R(θ)ᵀ p / z)   for p measured from the centre

The shifts, angles and factors come from the same generator as the batch order, so a run (and
the decoder that repeats it) sees the same batches; a checkpoint stores the generator's state.
With r = a = 0 nothing more is drawn: the batches are those of shifts alone.

>>> split = Split(torch.arange(9.0).reshape(1, 1, 3, 3), torch.tensor([0]))
>>> torch.equal(shift_images(split.x, torch.tensor([[0, 0]])), split.x)
True
>>> shift_images(split.x, torch.tensor([[1, 0]]))[0, 0].tolist()
[[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.nn import functional as F

from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.training.batches import Batch

__all__ = ["ShiftedBatches", "check_augmentation", "rotate_scale_images", "shift_images"]


def shift_images(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) moved by ``shifts`` (N, 2) = (dy, dx) pixels, zeros shifted in."""
    s = int(shifts.abs().max()) if len(shifts) else 0
    if s == 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (s, s, s, s))
    out = torch.empty_like(x)
    # One slice per distinct shift: at most (2s + 1)² small copies per batch.
    keys = (shifts[:, 0] + s) * (2 * s + 1) + (shifts[:, 1] + s)
    for key in torch.unique(keys).tolist():
        idx = (keys == key).nonzero().squeeze(1)
        dy, dx = divmod(int(key), 2 * s + 1)
        top, left = s - (dy - s), s - (dx - s)
        out[idx] = padded[idx, :, top : top + h, left : left + w]
    return out


def rotate_scale_images(x: torch.Tensor, degrees: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) rotated by ``degrees`` (N,) and scaled by ``zoom`` (N,) about their
    centres, bilinear, zeros outside.

    >>> x = torch.rand(2, 1, 5, 5)
    >>> torch.allclose(rotate_scale_images(x, torch.zeros(2), torch.ones(2)), x, atol=1e-6)
    True
    """
    theta = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(theta) / zoom.to(x.dtype), torch.sin(theta) / zoom.to(x.dtype)
    zero = torch.zeros_like(cos)
    # affine_grid maps each output position (in [−1, 1]²) to the input position it samples.
    matrix = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(matrix, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def check_augmentation(shift: int, rotate: int, scale: int) -> None:
    """A one-line error unless shift (pixels) and rotate (degrees) are >= 0 and scale (percent)
    lies in 0–99."""
    if shift < 0 or rotate < 0 or not 0 <= scale < 100:
        raise MdlkitError(
            f"augmentation out of range (shift {shift} px, rotation {rotate}°, scale {scale} %); "
            "give shift, rotation >= 0 and a scale of 0–99 %"
        )


class ShiftedBatches:
    """Shuffled minibatches (as :class:`~mdlkit.training.batches.ShuffledBatches`) of images
    moved by random shifts of up to ``max_shift`` pixels each way, and (``max_rotate`` degrees,
    ``max_scale`` percent, 0: off) rotated and scaled first."""

    def __init__(
        self,
        batch_size: int | None,
        seed: int = 0,
        max_shift: int = 2,
        max_rotate: int = 0,
        max_scale: int = 0,
    ) -> None:
        check_augmentation(max_shift, max_rotate, max_scale)
        self.batch_size = batch_size
        self.seed = seed
        self.max_shift = max_shift
        self.max_rotate = max_rotate
        self.max_scale = max_scale
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, split: Split) -> Iterator[Batch]:
        if split.x.dim() != 4:
            raise MdlkitError("shifted batches need images (N, C, H, W); use plain batches")
        n = len(split)
        size = self.batch_size or n
        order = torch.randperm(n, generator=self.generator)
        s = self.max_shift
        shifts = torch.randint(-s, s + 1, (n, 2), generator=self.generator)
        warp = self.max_rotate > 0 or self.max_scale > 0
        if warp:  # drawn only when asked for: shifts alone stay the batches they always were
            degrees = (2 * torch.rand(n, generator=self.generator) - 1) * self.max_rotate
            zoom = 1 + (2 * torch.rand(n, generator=self.generator) - 1) * self.max_scale / 100
        for start in range(0, n, size):
            idx = order[start : start + size]
            x = split.x[idx]
            if warp:
                x = rotate_scale_images(
                    x, degrees[start : start + size], zoom[start : start + size]
                )
            yield shift_images(x, shifts[start : start + size]), split.y[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (
            f"ShiftedBatches(batch_size={self.batch_size}, seed={self.seed}, "
            f"max_shift={self.max_shift}, max_rotate={self.max_rotate}, "
            f"max_scale={self.max_scale})"
        )
