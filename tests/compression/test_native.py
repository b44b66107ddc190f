"""The online kernels built ahead of time: named by their sources, and every way to fail falls
back to numba's just-in-time kernels (whose archives the ahead-of-time ones must equal: see
test_binary_coder and the mdlz import check)."""

from __future__ import annotations

import hashlib
import importlib.machinery
from pathlib import Path

import pytest

from mdlkit.compression import context_mixing, native


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache folder and no kernels chosen yet in this process."""
    monkeypatch.setenv("MDLKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MDLKIT_NATIVE", raising=False)
    monkeypatch.setattr(native, "_KERNELS", None)
    return tmp_path


def test_the_module_is_named_by_the_hash_of_the_kernels_sources() -> None:
    folder = Path(native.__file__).parent
    names = ["context_mixing.py", "binary_coder.py", "jit.py", "native.py"]
    digest = hashlib.sha256(b"".join((folder / n).read_bytes() for n in names)).hexdigest()
    assert native.module_name() == "mdlkit_online_" + digest[:16]


def test_a_failed_build_is_remembered_and_the_just_in_time_kernels_serve(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_compiler(directory: Path) -> Path:
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(native, "build", no_compiler)
    steps = native.kernels()
    assert steps.origin == "jit" and steps.encode_steps is context_mixing.encode_steps
    failed = fresh / (native.module_name() + ".failed")
    assert failed.read_text() == "RuntimeError: no C compiler\n"

    def must_not_build(directory: Path) -> Path:
        raise AssertionError("built again after a failure on record")

    monkeypatch.setattr(native, "build", must_not_build)
    monkeypatch.setattr(native, "_KERNELS", None)
    assert native.kernels().origin == "jit"


def test_a_damaged_extension_is_not_loaded(fresh: Path) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (fresh / (native.module_name() + suffix)).write_bytes(b"\x7fELF not really")
    assert native.kernels().origin == "jit"


def test_mdlkit_native_0_asks_for_the_just_in_time_kernels(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDLKIT_NATIVE", "0")
    monkeypatch.setattr(native, "build", lambda directory: pytest.fail("built"))
    assert native.kernels().origin == "jit"
    assert list(fresh.iterdir()) == []
