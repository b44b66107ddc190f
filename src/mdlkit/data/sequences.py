"""Next-token training data from a byte string (or any token sequence): windows and splits.

A window of ``context`` tokens starting at i has inputs ``x = s[i : i + context]`` and targets
``y = s[i + 1 : i + context + 1]``: the model's logits at position t predict token i + t + 1.
With the default stride (= context) the windows tile the sequence and every token but the first
is a target exactly once, so the summed loss over a split is the code length of that split's
tokens (each coded with the context its window gives it).

Train, validation and test are contiguous ranges of the sequence, in that order (the first
``1 − val − test`` of it, then the next ``val``, then the rest) and each is windowed on its own:
no window, and no target, crosses from one range into another.

>>> splits = sequence_splits(b"abcdefghij" * 10, context=4, val_fraction=0.2, test_fraction=0.2)
>>> len(splits.train), splits.input_shape, splits.n_classes, splits.vocab_size
(14, (4,), 256, 256)
>>> bytes(splits.train.x[0].tolist()), bytes(splits.train.y[0].tolist())
(b'abcd', b'bcde')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mdlkit.data.splits import Split, Splits
from mdlkit.errors import MdlkitError

__all__ = ["TokenData", "as_tokens", "sequence_splits", "sequence_windows"]

TokenData = bytes | bytearray | memoryview | Sequence[int] | np.ndarray | torch.Tensor
"""A byte string, or token ids as a list, a 1-D array or a 1-D tensor of integers."""


def as_tokens(data: TokenData, vocab_size: int = 256) -> torch.Tensor:
    """The sequence as a 1-D int64 tensor of ids in ``[0, vocab_size)`` (bytes as 0 … 255).

    >>> as_tokens(b"hi").tolist()
    [104, 105]
    """
    if isinstance(data, bytes | bytearray | memoryview):
        tokens = torch.from_numpy(np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int64))
    else:
        array = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
            raise MdlkitError(
                f"a token sequence must be bytes or a 1-D array of integers, got {array.dtype} "
                f"of shape {list(array.shape)}"
            )
        tokens = torch.from_numpy(array.astype(np.int64))
    if len(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise MdlkitError(f"token ids must lie in [0, {vocab_size - 1}]")
    return tokens


def sequence_windows(tokens: torch.Tensor, context: int, *, stride: int | None = None) -> Split:
    """Every window ``(s[i : i + context], s[i + 1 : i + context + 1])`` for i = 0, stride, …
    that fits in ``tokens`` (1-D int64); a tail shorter than a window is left out.

    >>> split = sequence_windows(torch.arange(10), context=3)
    >>> split.x.tolist(), split.y.tolist()
    ([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    """
    stride = context if stride is None else stride
    if context < 1 or stride < 1:
        raise MdlkitError(f"context and stride must be >= 1, got {context} and {stride}")
    if len(tokens) < context + 1:
        empty = torch.zeros(0, context, dtype=torch.int64)
        return Split(empty, empty.clone())
    windows = tokens.unfold(0, context + 1, stride)
    return Split(windows[:, :-1].contiguous(), windows[:, 1:].contiguous())


def sequence_splits(
    data: TokenData,
    context: int,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    stride: int | None = None,
    vocab_size: int = 256,
    name: str = "bytes",
) -> Splits:
    """Train, validation and test windows of contiguous ranges of ``data`` (see the module
    docstring): ``n_classes`` and ``vocab_size`` are both ``vocab_size`` (256 for bytes).

    Args:
        data: bytes, or token ids in ``[0, vocab_size)``.
        context: tokens per window (T); at most the model's context.
        val_fraction, test_fraction: shares of the sequence for validation and test, each in
            (0, 1), together below 1; rounded to whole tokens.
        stride: tokens between window starts (default ``context``: no overlap). A smaller stride
            gives more, overlapping training windows; the targets are then counted more than once.
        vocab_size: number of token values.
        name: the dataset's name in messages.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise MdlkitError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
    tokens = as_tokens(data, vocab_size)
    n = len(tokens)
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    n_train = n - n_val - n_test
    ranges = {
        "train": tokens[:n_train],
        "val": tokens[n_train : n_train + n_val],
        "test": tokens[n_train + n_val :],
    }
    parts = {part: sequence_windows(s, context, stride=stride) for part, s in ranges.items()}
    for part, split in parts.items():
        if len(split) == 0:
            raise MdlkitError(
                f"{name}: the {part} range has {len(ranges[part])} tokens, fewer than one window "
                f"of {context + 1}; use more data, a larger {part} fraction or a shorter context"
            )
    return Splits(name, parts["train"], parts["val"], parts["test"], vocab_size, vocab_size)
