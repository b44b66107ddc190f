"""``mdlkit compress`` / ``decompress`` never harm what is at the output path: a device or a FIFO
is written in place (never renamed over), a link is refused or its target written, a regular file
is replaced only with --force, nothing is left behind on an error or an interrupt (nor a worker
process running), compressed data never goes to a terminal, and the output keeps the input's
permission bits and mtime."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mdlkit.cli import main

TEXT = b"never harm a file that is not yours to replace. " * 400
# Child processes run this checkout's mdlkit (a relative PYTHONPATH would not survive their cwd).
ENV = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2] / "src"))


def _mdlkit(*args: str, cwd: Path) -> int:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return main(list(args))
    finally:
        os.chdir(old)


@pytest.fixture
def original(tmp_path: Path) -> Path:
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT)
    return path


def test_dev_null_is_written_without_force_and_stays_a_device(original: Path) -> None:
    assert _mdlkit("compress", "a.txt", "-o", "/dev/null", cwd=original.parent) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert _mdlkit("compress", "a.txt", cwd=original.parent) == 0
    assert _mdlkit("decompress", "a.txt.mdlz", "-o", "/dev/null", cwd=original.parent) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in original.parent.iterdir()) == ["a.txt", "a.txt.mdlz"]


def test_a_fifo_is_written_in_place(original: Path) -> None:
    fifo = original.parent / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert _mdlkit("compress", "a.txt", "-o", "pipe", cwd=original.parent) == 0
    reader.join(timeout=60)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    (original.parent / "copy.mdlz").write_bytes(received[0])
    assert _mdlkit("decompress", "copy.mdlz", cwd=original.parent) == 0
    assert (original.parent / "copy").read_bytes() == TEXT


def test_a_link_is_refused_or_its_target_written_never_replaced(
    original: Path, refused: Callable[..., str]
) -> None:
    target = original.parent / "target.mdlz"
    target.write_bytes(b"precious")
    link = original.parent / "link.mdlz"
    link.symlink_to(target.name)
    refused(["compress", "a.txt", "-o", "link.mdlz"], "--force")
    assert target.read_bytes() == b"precious" and link.is_symlink()
    assert _mdlkit("compress", "a.txt", "-o", "link.mdlz", "--force", cwd=original.parent) == 0
    assert link.is_symlink() and os.readlink(link) == target.name
    assert target.read_bytes()[:4] == b"MDLZ"
    dangling = original.parent / "nowhere.mdlz"
    dangling.symlink_to("missing")
    refused(["compress", "a.txt", "-o", "nowhere.mdlz", "--force"], "a link to nothing")


def test_force_replaces_a_regular_file_and_nothing_else(
    original: Path, refused: Callable[..., str]
) -> None:
    (original.parent / "a.txt.mdlz").write_bytes(b"old")
    refused(["compress", "a.txt"], "--force to overwrite")
    assert _mdlkit("compress", "a.txt", "--force", cwd=original.parent) == 0
    assert (original.parent / "a.txt.mdlz").read_bytes()[:4] == b"MDLZ"
    (original.parent / "sub").mkdir()
    refused(["compress", "a.txt", "-o", "sub", "--force"], "is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line_and_nothing_is_left(
    original: Path, refused: Callable[..., str]
) -> None:
    folder = original.parent / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        refused(["compress", "a.txt", "-o", "ro/a.mdlz"], "Permission denied")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_the_output_keeps_the_inputs_mode_and_mtime(original: Path) -> None:
    original.chmod(0o640)
    os.utime(original, ns=(1_600_000_000_000_000_000, 1_500_000_000_123_456_789))
    assert _mdlkit("compress", "a.txt", cwd=original.parent) == 0
    archive = original.parent / "a.txt.mdlz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o640
    assert archive.stat().st_mtime_ns == original.stat().st_mtime_ns
    assert _mdlkit("decompress", "a.txt.mdlz", "-o", "b.txt", cwd=original.parent) == 0
    restored = original.parent / "b.txt"
    assert stat.S_IMODE(restored.stat().st_mode) == 0o640
    assert restored.stat().st_mtime_ns == original.stat().st_mtime_ns


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches a terminal's foreground command; a shell's background job (``make test
    &``) and its children ignore SIGINT, which Python then keeps ignoring: undo that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _python_mdlkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "mdlkit", *args]


def test_compressed_data_is_never_written_to_a_terminal(original: Path) -> None:
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            _python_mdlkit("compress", "a.txt", "-o", "-"),
            cwd=original.parent,
            env=ENV,
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not written to a terminal" in proc.stderr


def test_an_interrupt_leaves_no_output_and_no_partial_file(tmp_path: Path) -> None:
    # Compile (and cache) the kernels first: in a fresh checkout the first call spends a minute
    # in numba's compiler, where a signal waits until compiling ends.
    warm = tmp_path / "warm"
    warm.mkdir()
    (warm / "w.bin").write_bytes(os.urandom(1 << 12))
    run = subprocess.run(
        _python_mdlkit("compress", "w.bin", "--level", "2"), cwd=warm, env=ENV, timeout=600
    )
    assert run.returncode == 0
    shutil.rmtree(warm)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 22))  # takes seconds: long enough to interrupt
    proc = subprocess.Popen(
        _python_mdlkit("compress", "big.bin", "--level", "2"),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        preexec_fn=_as_in_a_terminal,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.bin.mdlz.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        # CPython prints and drops a KeyboardInterrupt raised while it runs a weakref callback
        # (importlib's module locks use them: seen once, the signal landing in a late import);
        # a user presses Ctrl-C again, and so does this test.
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "mdlkit: interrupted (nothing was written)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_ends_the_worker_processes_and_leaves_nothing(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 21))  # 8 blocks of 256 KiB: seconds each
    proc = subprocess.Popen(
        _python_mdlkit("compress", "big.bin", "--threads", "2", "--block-size", "256K"),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
        env=ENV,
        preexec_fn=_as_in_a_terminal,
    )
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = _children(proc.pid)
    assert len(workers) >= 2, "the workers did not start"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "mdlkit: interrupted (nothing was written)"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]
    time.sleep(0.5)
    assert [pid for pid in workers if _running(pid)] == []


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
