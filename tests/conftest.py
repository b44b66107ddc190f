"""Shared fixtures. Data beside the project (../shared/data) is optional: tests needing it skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _fixed_threads() -> None:
    # Bit-for-bit comparisons need the same thread count in every test.
    torch.set_num_threads(1)


@pytest.fixture
def mnist_path() -> Path:
    path = Path(os.environ.get("MDLKIT_MNIST", SHARED_DATA / "mnist.npz"))
    if not path.is_file():
        pytest.skip(f"MNIST file not available at {path} (set MDLKIT_MNIST)")
    return path
