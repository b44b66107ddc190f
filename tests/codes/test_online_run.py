import math
import subprocess
import sys
import time
from pathlib import Path

import torch

from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online_run import run_online_codes, train_receivers_ahead
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.devices import torch_threads
from mdlkit.files import exclusive_lock
from mdlkit.models import ModelSpec
from mdlkit.training import TrainConfig


def _setup(epochs: int) -> tuple[torch.Tensor, torch.Tensor, list[int], list[TorchLearner]]:
    """160 digits in 5 blocks (4 trained), a calibrated linear model and a continued MLP."""
    s = load_digits(seed=0)
    config = TrainConfig(max_epochs=epochs, batch_size=32, stopping=None)
    learners = [
        TorchLearner(ModelSpec("mlp", {"sizes": [64, 10]}), config, calibrate=True),
        TorchLearner(ModelSpec("mlp", {"sizes": [64, 8, 10]}), config, mode="continue"),
    ]
    return s.train.x[:160], s.train.y[:160], doubling_schedule(160, first=10), learners


def test_sender_and_receiver_each_resume_from_their_own_models(tmp_path: Path) -> None:
    x, y, bounds, learners = _setup(epochs=10)
    test = load_digits(seed=0).test
    rows = run_online_codes(x, y, 10, learners, bounds, cache=tmp_path, test=test)
    assert rows["switching"]["decoded"] and rows["prequential"]["decoded"]
    assert rows["prequential"]["bits"] == rows["learner 1"]["bits"]
    assert rows["prequential"]["bits"] < 160 * math.log2(10)  # it learns
    assert rows["switching"]["decode_models_trained"] == 8
    for j in range(2):
        sent = sorted(p.name for p in (tmp_path / f"learner-{j}").glob("*.safetensors"))
        got = sorted(p.name for p in (tmp_path / f"receiver-{j}").glob("*.safetensors"))
        assert len(sent) == 4 and got == sent  # the receiver trained the same models itself
        for name in sent:  # bit for bit: training repeats exactly
            a = (tmp_path / f"learner-{j}" / name).read_bytes()
            assert (tmp_path / f"receiver-{j}" / name).read_bytes() == a
    # Killed during the decode: the receiver's last models are gone; a rerun trains only them.
    for j in range(2):
        for path in (tmp_path / f"receiver-{j}").glob("*"):
            path.unlink()
    again = run_online_codes(x, y, 10, learners, bounds, cache=tmp_path, test=test)
    assert again["switching"]["bits"] == rows["switching"]["bits"]
    assert again["switching"]["decoded"]


def _files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("receiver-*/*")}


def test_receivers_trained_ahead_are_found_only_under_the_labels_decoded(tmp_path: Path) -> None:
    x, y, bounds, learners = _setup(epochs=2)  # what is cached where, not how well it learns
    assert train_receivers_ahead(x, y, learners, bounds, tmp_path) == {"trained": 8, "loaded": 0}
    ahead = _files(tmp_path)
    rows = run_online_codes(x, y, 10, learners, bounds, cache=tmp_path)
    assert rows["switching"]["decoded"] and rows["switching"]["decode_models_trained"] == 0
    assert _files(tmp_path) == ahead  # the decoding pass found every model and wrote none
    # Models trained ahead on other labels are never used: the decoder trains its own.
    other = tmp_path / "other"
    train_receivers_ahead(x, y.roll(1), learners, bounds, other)
    assert len(_files(other)) == 16  # 8 models, each weights + head
    rows = run_online_codes(x, y, 10, learners, bounds, cache=other)
    assert rows["switching"]["decoded"] and len(_files(other)) == 32
    # ... nor are models trained ahead with another torch thread count (they would differ)
    third = tmp_path / "third"
    with torch_threads(torch.get_num_threads() + 1):
        train_receivers_ahead(x, y, learners, bounds, third)
    rows = run_online_codes(x, y, 10, learners, bounds, cache=third)
    assert rows["switching"]["decoded"] and rows["switching"]["decode_models_trained"] == 8


def test_a_second_process_waits_for_the_lock(tmp_path: Path) -> None:
    lock, held, done = tmp_path / "a.lock", tmp_path / "held", tmp_path / "done"
    script = (
        "import sys, time; from pathlib import Path; from mdlkit.files import exclusive_lock\n"
        f"with exclusive_lock({str(lock)!r}):\n"
        f"    Path({str(held)!r}).touch(); time.sleep(0.5); Path({str(done)!r}).touch()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(600):  # the child holds the lock (at most a minute to start)
            if held.exists():
                break
            time.sleep(0.1)
        with exclusive_lock(lock):
            assert done.exists()  # taken only after the child let go
    finally:
        child.wait(timeout=60)
