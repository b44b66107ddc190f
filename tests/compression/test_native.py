"""The online kernels built ahead of time: the same archives as numba's just-in-time kernels
(each decodes the other's), named by their sources, checked arguments, and every way to fail
falls back to the just-in-time kernels."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from mdlkit.compression import context_mixing, native
from mdlkit.compression.online import OnlineCoder


def native_steps() -> native.Steps:
    """This machine's kernels built ahead of time. Skips where no build can work (no C
    compiler, or a numba without pycc); fails where one should have."""
    steps = native.kernels()
    if steps.origin == "native":
        return steps
    can_build = shutil.which("cc") is not None and importlib.util.find_spec("numba.pycc")
    failed = native.cache_dir() / (native.module_name() + ".failed")
    reason = failed.read_text() if failed.exists() else "no reason on record"
    if can_build:
        pytest.fail(f"a C compiler and numba.pycc are here, but no native kernels: {reason}")
    pytest.skip(f"no kernels built ahead of time on this machine: {reason}")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache folder and no kernels chosen yet in this process."""
    monkeypatch.setenv("MDLKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MDLKIT_NATIVE", raising=False)
    monkeypatch.setattr(native, "_KERNELS", None)
    return tmp_path


def _structured() -> bytes:
    """Records of 16 bytes, then markup: the record and markup models both have work."""
    rng = np.random.default_rng(7)
    records = b"".join(b"ID%05d|" % i + bytes(rng.integers(65, 70, 9, dtype=np.uint8))
                       for i in range(200))  # fmt: skip
    tags = b"".join(b'<p class="x%d">word %d</p>\n' % (i % 5, i) for i in range(150))
    return records + tags


@pytest.mark.parametrize(
    ("record", "markup", "predictor"),
    [
        (0, False, "cm1"),
        (16, True, "cm1"),
        (16, True, "cm2"),
        (16, True, "cm3"),
        (16, True, "cm4"),
        (16, True, "cm5"),
    ],
)
def test_native_and_just_in_time_kernels_make_the_same_archive_and_read_each_other(
    monkeypatch: pytest.MonkeyPatch, record: int, markup: bool, predictor: str
) -> None:
    data = _structured()
    built = native_steps()
    jit = native.Steps(context_mixing.encode_steps, context_mixing.decode_steps, "jit")
    coded = {}

    def coder() -> OnlineCoder:
        return OnlineCoder(3, table_bits=12, record=record, markup=markup, predictor=predictor)

    for steps in (built, jit):
        monkeypatch.setattr(native, "_KERNELS", steps)
        coded[steps.origin] = coder().encode(data)
    assert not coded["native"].stored
    assert (coded["native"].length, coded["native"].payload) == (
        coded["jit"].length,
        coded["jit"].payload,
    )
    for steps, origin in ((jit, "native"), (built, "jit")):
        monkeypatch.setattr(native, "_KERNELS", steps)
        back = coder().decode(coded[origin])
        assert back == data


def test_a_built_extension_is_loaded_not_built_again(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "_KERNELS", None)
    monkeypatch.delenv("MDLKIT_CACHE_DIR")
    built = native.cache_dir() / (native.module_name() + importlib.machinery.EXTENSION_SUFFIXES[0])
    native_steps()  # skips where nothing can be built
    monkeypatch.setenv("MDLKIT_CACHE_DIR", str(fresh))
    monkeypatch.setattr(native, "_KERNELS", None)
    shutil.copy(built, fresh / built.name)
    monkeypatch.setattr(native, "build", lambda directory: pytest.fail("built again"))
    assert native.kernels().origin == "native"


def test_the_native_kernels_refuse_arrays_they_were_not_compiled_for() -> None:
    """pycc's own wrappers would read a strided array as contiguous, an int32 one as int64."""
    called = native._checked(lambda *args: "ran")
    good = [np.zeros(4, np.int64), np.zeros((2, 3), np.int64), np.zeros(4, np.uint8), 1, 0, 1,
            np.zeros(4, np.int64), np.zeros(4, np.uint8), np.zeros(0, np.int64)]  # fmt: skip
    assert called(*good) == "ran"
    for i, bad in [(8, np.zeros(8, np.int64)[::2]), (8, np.zeros(0, np.int32)),
                   (1, np.zeros(6, np.int64)), (2, np.zeros(4, np.int8))]:  # fmt: skip
        args = list(good)
        args[i] = bad
        with pytest.raises(TypeError, match=f"argument {i} must be a C-contiguous"):
            called(*args)


def test_the_module_is_named_by_the_kernels_sources_python_and_numpy() -> None:
    folder = Path(native.__file__).parent
    names = ["context_mixing.py", "binary_coder.py", "jit.py", "native.py"]
    versions = f"{sys.version}|{np.__version__}".encode()
    digest = hashlib.sha256(b"".join((folder / n).read_bytes() for n in names) + versions)
    assert native.module_name() == "mdlkit_online_" + digest.hexdigest()[:16]


def test_a_failed_build_is_remembered_for_a_day_and_numba_s_kernels_serve(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_compiler(directory: Path) -> Path:
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(native, "build", no_compiler)
    steps = native.kernels()
    assert steps.origin == "jit" and steps.encode_steps is context_mixing.encode_steps
    failed = fresh / (native.module_name() + ".failed")
    assert failed.read_text() == "RuntimeError: no C compiler\n"
    assert "RuntimeError: no C compiler" in capsys.readouterr().err

    calls = []
    monkeypatch.setattr(native, "build", lambda directory: calls.append(directory))
    monkeypatch.setattr(native, "_KERNELS", None)
    assert native.kernels().origin == "jit" and calls == []  # not tried again today
    old = failed.stat().st_mtime - native.RETRY_SECONDS - 1
    os.utime(failed, (old, old))
    monkeypatch.setattr(native, "_KERNELS", None)
    assert native.kernels().origin == "jit" and calls == [fresh]  # tried again after a day


def test_a_damaged_extension_is_built_again(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (fresh / (native.module_name() + suffix)).write_bytes(b"\x7fELF not really")
    calls = []
    monkeypatch.setattr(native, "build", lambda directory: calls.append(directory))
    assert native.kernels().origin == "jit" and calls == [fresh]


def test_mdlkit_native_0_asks_for_the_just_in_time_kernels(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDLKIT_NATIVE", "0")
    monkeypatch.setattr(native, "build", lambda directory: pytest.fail("built"))
    assert native.kernels().origin == "jit"
    assert list(fresh.iterdir()) == []
