"""Convolutional networks: LeNet-5-Caffe and a small CNN. Inputs are (N, 1, H, W) images."""

from __future__ import annotations

from torch import nn

from mdlkit.errors import MdlkitError

__all__ = ["lenet5_caffe", "small_cnn", "vgg_cnn"]


def lenet5_caffe(n_classes: int = 10) -> nn.Sequential:
    """LeNet-5 as in Caffe's MNIST example: conv5×5×20 → maxpool2 → conv5×5×50 → maxpool2 →
    fc 800→500 → ReLU → fc 500→10 (431,080 parameters). As in Caffe, the convolutions have no
    nonlinearity of their own; the input is 1×28×28.

    >>> sum(p.numel() for p in lenet5_caffe().parameters())
    431080
    """
    return nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 500),
        nn.ReLU(),
        nn.Linear(500, n_classes),
    )


def small_cnn(image_size: int = 28, n_classes: int = 10, channels: int = 8) -> nn.Sequential:
    """conv3×3×c → ReLU → maxpool2 → conv3×3×2c → ReLU → maxpool2 → fc (padding 1 keeps sizes).

    Works for any square input of side ≥ 4 (e.g. 8 for scikit-learn digits, 28 for MNIST).

    >>> sum(p.numel() for p in small_cnn(8).parameters())
    1898
    """
    if image_size < 4 or channels < 1:
        raise MdlkitError(f"small_cnn needs image_size >= 4 and channels >= 1, got {image_size}")
    side = image_size // 2 // 2
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * side * side, n_classes),
    )


def vgg_cnn(
    image_size: int = 28, n_classes: int = 10, channels: int = 32, hidden: int = 128
) -> nn.Sequential:
    """A VGG-like network (the kind Blier & Ollivier code MNIST with): two stages of two 3×3
    convolutions (c, then 2c channels, padding 1, ReLU) each followed by maxpool2, then
    fc → ``hidden`` → ReLU → fc. No batch normalisation, so the weights are all there is.

    >>> sum(p.numel() for p in vgg_cnn(8, channels=4, hidden=16).parameters())
    1766
    """
    if image_size < 4 or channels < 1 or hidden < 1:
        raise MdlkitError(
            f"vgg_cnn needs image_size >= 4, channels >= 1, hidden >= 1, got {image_size}"
        )
    side = image_size // 2 // 2
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(2 * c, 2 * c, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * c * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_classes),
    )
