"""Shared fixtures. Data beside the project (../shared/data) is optional: tests needing it skip."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# The online kernels compiled ahead of time go into the checkout (a home folder may be read-only
# where the tests run); every test and every command a test starts shares the one build.
os.environ.setdefault("MDLKIT_CACHE_DIR", str(ROOT / ".cache" / "mdlkit"))


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


def _tree(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.lstat().st_size) for p in folder.rglob("*"))


@pytest.fixture
def refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., str]:
    """``refused(argv, message)``: run ``mdlkit ARGV`` in ``tmp_path`` (the working folder) and
    check that bad input is refused as every command must refuse it — exit code 2, ONE line on
    stderr containing ``message``, no traceback, and nothing written or changed in the folder.
    Returns that line."""
    from mdlkit.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MDLKIT_MNIST", raising=False)

    def run(argv: Sequence[str], message: str = "") -> str:
        capsys.readouterr()
        before = _tree(tmp_path)
        code = main(list(argv))
        err = capsys.readouterr().err
        assert code == 2, (list(argv), code, err)
        assert message in err, (message, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert _tree(tmp_path) == before, f"mdlkit {' '.join(argv)} wrote into the folder"
        return err

    return run


USER_MODULE = """
import torch
from torch import nn


class UserCNN(nn.Module):
    def __init__(self, channels: int = 4, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.fc = nn.Linear(channels * 16, n_classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(x.flatten(1))
"""


@pytest.fixture
def user_cnn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[torch.nn.Module]:
    """``usernets_fx:UserCNN`` (a CNN on 8×8 images, not an ``nn.Sequential``), imported from a
    file in ``tmp_path``: a user's own network class, outside the package."""
    from mdlkit.models.factory import import_factory

    (tmp_path / "usernets_fx.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "usernets_fx", raising=False)
    cls = import_factory("usernets_fx:UserCNN")
    assert isinstance(cls, type)
    return cls
