import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from mdlkit import MdlkitError
from mdlkit.cli import main
from mdlkit.data import Split, load_digits
from mdlkit.heads import CategoricalHead
from mdlkit.models import mlp
from mdlkit.regularizers import DRR, PMMP, Regularizer
from mdlkit.training import LossSaturation, TrainConfig, train
from mdlkit.training.checkpoint import load_checkpoint


class _Killed(Exception):
    pass


def _run(
    checkpoint: Path | None,
    regularizer_factory: type[Regularizer] | None,
    kill_after: int | None = None,
) -> nn.Module:
    splits = load_digits(seed=0)
    torch.manual_seed(0)
    model = mlp([64, 16, 10])
    reg = None
    if regularizer_factory is DRR:
        reg = DRR(1e-3)
    elif regularizer_factory is PMMP:
        reg = PMMP(1e-4, fictitious_play=True)

    def maybe_kill(log: object) -> None:
        if kill_after is not None and log.epoch + 1 == kill_after:  # type: ignore[attr-defined]
            raise _Killed

    config = TrainConfig(max_epochs=8, batch_size=128, stopping=LossSaturation(window=4))
    train(
        model,
        splits.train,
        splits.val,
        config,
        regularizer=reg,
        checkpoint=checkpoint,
        checkpoint_seconds=0.0,
        on_epoch=maybe_kill,
    )
    return model


@pytest.mark.parametrize("regularizer", [None, DRR, PMMP])
def test_resume_after_kill_gives_the_same_final_weights(
    tmp_path: Path, regularizer: type[Regularizer] | None
) -> None:
    reference = _run(None, regularizer)
    path = tmp_path / "ckpt.pt"
    with pytest.raises(_Killed):
        _run(path, regularizer, kill_after=3)
    assert len(load_checkpoint(path)["history"]) == 3
    resumed = _run(path, regularizer)
    for a, b in zip(reference.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
    # A finished checkpoint resumes to the same result without training again.
    again = _run(path, regularizer)
    assert all(
        torch.equal(a, b) for a, b in zip(resumed.parameters(), again.parameters(), strict=True)
    )


def test_checkpoint_from_another_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    _run(path, DRR)
    with pytest.raises(MdlkitError, match="different configuration"):
        _run(path, PMMP)


class _NanAfter(CategoricalHead):
    """Cross-entropy that turns into NaN from the given call on (a run that diverges)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls, self.limit = 0, calls

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = nn.functional.cross_entropy(output, target)
        return loss * float("nan") if self.calls > self.limit else loss


def test_nan_loss_mid_run_is_a_clear_error_and_keeps_the_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    splits = load_digits(seed=0)
    torch.manual_seed(0)
    model = mlp([64, 16, 10])
    path = tmp_path / "ckpt.pt"
    # 1077 samples / 128 per batch = 9 steps and 1 validation call per epoch: NaN in epoch 3.
    loss = _NanAfter(calls=25)
    config = TrainConfig(max_epochs=10, batch_size=128, stopping=None)
    with pytest.raises(MdlkitError, match=r"loss became nan at epoch 2.*last good checkpoint"):
        train(
            model,
            splits.train,
            splits.val,
            config,
            loss_fn=loss,
            checkpoint=path,
            checkpoint_seconds=0.0,
        )
    saved = load_checkpoint(path)
    assert len(saved["history"]) == 2
    assert all(torch.isfinite(t).all() for t in saved["model"].values())


def test_empty_dataset_is_a_clear_error(tmp_path: Path) -> None:
    empty = Split(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(MdlkitError, match="empty dataset"):
        train(mlp([4, 2]), empty, empty, TrainConfig(), checkpoint=tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()


# A model some of whose weights survive pruning (with the defaults on digits none does, and every
# weight file would be the same 16 bytes); TAMADE's threshold, not the search for the shortest
# two-part code, which codes the model some 750 times.
FIT = [
    "fit", "--epochs", "40", "--window", "20", "--warmup-epochs", "2", "--finetune-epochs", "5",
    "--grid-epochs", "3", "--hidden", "16", "--prune-mode", "relative", "--no-progress",
]  # fmt: skip


def _record(folder: Path) -> dict[str, Any]:
    """The fit's record in ``folder``'s results.json."""
    return json.loads((folder / "results.json").read_text())["runs"]["drr"]


def test_a_killed_cli_fit_resumes_to_the_same_model_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The uninterrupted run and the last call run here (the process is not what is tested);
    # the run that is killed and the one that resumes it are processes of their own.
    full = tmp_path / "full"
    assert main([*FIT, "--out", str(full)]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdlkit", *FIT, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (killed / "checkpoints" / "regularized.pt").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "results.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "mdlkit", "fit", "--resume", str(killed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "drr.mdlw").read_bytes() == (full / "drr.mdlw").read_bytes()
    # Finer than the quantized weights (some of which survived): every epoch's losses are equal.
    assert _record(killed)["phases"] == _record(full)["phases"] and _record(full)["nonzero"] > 0
    capsys.readouterr()
    assert main(["fit", "--resume", str(killed)]) == 2
    assert "finished already" in capsys.readouterr().err
