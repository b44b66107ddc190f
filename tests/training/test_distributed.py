"""Data-parallel training under torchrun (2 CPU processes, gloo) against one process, a killed
torchrun fit resumed, and the device checks."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from mdlkit import devices
from mdlkit.cli import main
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.models import ModelSpec
from mdlkit.training import train_byte_model

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
import ddp_worker  # noqa: E402  (tests/ is not a package)


def _torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, torch.Tensor]]:
    out = tmp_path_factory.mktemp("ddp")
    cmd = [*_torchrun(), str(TESTS / "ddp_worker.py"), str(out)]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_two_ranks_hold_identical_weights_masks_and_pmmp_state(ranks):
    first, second = ranks
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_two_processes_half_batches_match_one_process_whole_batches(ranks):
    """2 ranks × half batches vs 1 process × whole batches, 3 epochs of 4 Adam steps (lr 1e-2)
    each for plain (with a learned σ), DRR, DRR → prune → fine-tune and PMMP: equal within 1e-6
    (float32 sums in another order; measured at most 1.2e-7); a byte transformer with DRR
    (3 epochs of batch 8 windows) within 1e-5 (measured 9.3e-7)."""
    torch.set_num_threads(1)
    reference = ddp_worker.run(None)
    rank0 = ranks[0]
    assert reference.keys() == rank0.keys()
    for key, value in reference.items():
        tolerance = 1e-5 if key.startswith("byte.") else 1e-6
        torch.testing.assert_close(rank0[key], value, rtol=0, atol=tolerance, msg=key)
    # The comparison is not vacuous: σ was learned, something was pruned, PMMP's γ moved.
    assert not math.isclose(float(reference["plain.head.log_sigma"]), math.log(0.5))
    masks = [v for k, v in reference.items() if k.startswith("mask.")]
    assert 0 < sum(int(m.sum()) for m in masks) < sum(m.numel() for m in masks)
    assert float(reference["pmmp.state.gamma.0.weight"].min()) < 1.0


# TAMADE's threshold (--prune-mode relative): the default search for the shortest two-part code
# codes the model some 750 times, seconds per run, for nothing this file checks.
FIT = [
    "fit", "--epochs", "20", "--window", "20", "--warmup-epochs", "5", "--finetune-epochs", "5",
    "--grid-epochs", "3", "--hidden", "16", "--prune-mode", "relative", "--no-progress",
]  # fmt: skip


def _fit(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [*_torchrun(), "-m", "mdlkit", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)


def _record(folder: Path) -> dict[str, Any]:
    """The fit's record in ``folder``'s results.json."""
    return json.loads((folder / "results.json").read_text())["runs"]["drr"]


def _kill_all(marker: str) -> None:
    """SIGKILL every process whose command line holds ``marker`` (torchrun starts its ranks in
    sessions of their own, so killing its process group would leave them running)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_text():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass  # gone already


def test_a_killed_torchrun_fit_resumes_to_the_same_weight_file(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = _fit(*FIT, "--out", str(whole))
    assert done.returncode == 0, done.stderr[:3000]

    cmd = [*_torchrun(), "-m", "mdlkit", *FIT, "--out", str(killed)]
    run = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "checkpoints" / "regularized.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    _kill_all(str(killed))  # torchrun and both ranks, mid-way through training
    run.wait()
    assert checkpoint.exists() and not (killed / "results.json").exists()

    done = _fit("fit", "--resume", str(killed), "--no-progress")
    assert done.returncode == 0, done.stderr[:2000]
    assert (killed / "drr.mdlw").read_bytes() == (whole / "drr.mdlw").read_bytes()
    assert done.stdout.count("run folder:") == 1  # rank 0 alone prints
    # Finer than the quantized weights (some of which survived): every epoch's losses are equal.
    resumed, uninterrupted = (_record(f) for f in (killed, whole))
    assert resumed["phases"] == uninterrupted["phases"] and uninterrupted["nonzero"] > 0


# Commands a torchrun start must refuse on every rank, with one line and exit code 2, before
# joining the process group: those that run in one process, and a fit without its one folder.
REFUSALS = {
    "compress": (
        ["compress", str(TESTS.parents[1] / "README.md"), "-o", "{work}/x.mdlz"],
        "the online mode runs in one process",
    ),
    "codelength": (["codelength", "--out", "{work}/run"], "mdlkit codelength runs in one process"),
    "fit": (FIT, "under torchrun give --out DIR"),
}
Ranks = list[dict[str, list]]  # per rank: each command's [exit code, standard error]


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Ranks]:
    """The refusals of :data:`REFUSALS`, then a two-part compression of 3,000 bytes (data-parallel,
    so last), on both ranks of one torchrun start (each start costs seconds of imports in three
    processes) in an empty working folder: that folder, the compression's folder and each rank's
    exit codes and standard errors."""
    work, files = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("compress")
    out = tmp_path_factory.mktemp("ranks")
    original = files / "text.txt"
    original.write_bytes((TESTS.parents[1] / "README.md").read_bytes()[:3000])
    argvs = {
        name: [arg.replace("{work}", str(work)) for arg in argv]
        for name, (argv, _) in REFUSALS.items()
    }
    archive = files / "text.mdlz"
    argvs["two-part"] = ["compress", str(original), "--mode", "two-part", "-o", str(archive)]
    cmd = [*_torchrun(), str(TESTS / "torchrun_commands.py"), str(out), json.dumps(argvs)]
    done = subprocess.run(cmd, env=_env(), cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return work, files, [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_torchrun_compress_trains_on_two_ranks_and_rank_0_writes_one_archive(
    commands: tuple[Path, Path, Ranks], tmp_path: Path
) -> None:
    _, files, ranks = commands
    assert [rank["two-part"][0] for rank in ranks] == [0, 0], ranks[0]["two-part"][1][-3000:]
    # rank 0 alone reports
    assert [rank["two-part"][1].count("verified by decoding") for rank in ranks] == [1, 0]
    assert sorted(p.name for p in files.iterdir()) == ["text.mdlz", "text.txt"]
    restored = tmp_path / "restored"
    assert main(["decompress", str(files / "text.mdlz"), "-o", str(restored)]) == 0
    assert restored.read_bytes() == (files / "text.txt").read_bytes()


def _check_refused(commands: tuple[Path, Path, Ranks], name: str) -> None:
    work, _, ranks = commands
    for rank in ranks:
        code, err = rank[name]
        assert code == 2 and REFUSALS[name][1] in err, (name, code, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
    assert not list(work.iterdir())  # nothing written


def test_torchrun_refuses_commands_that_run_in_one_process(commands):
    _check_refused(commands, "compress")
    _check_refused(commands, "codelength")


def test_torchrun_needs_an_out_folder(commands):
    _check_refused(commands, "fit")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize(
    "args",
    [
        ["fit"],
        ["select"],
        ["codelength"],
        ["llc", "--toy", "linear"],
        ["experiment", "teacher-student", "--quick"],
        ["compress", "README.md", "--mode", "two-part", "-o", "{out}.mdlz"],
    ],
)
def test_device_cuda_without_cuda_is_one_line_and_exit_2(args, capsys, tmp_path):
    out = str(tmp_path / "run")
    args = [a.replace("{out}", out) for a in args]
    folder = [] if args[0] == "compress" else ["--out", out]
    assert main([*args, "--device", "cuda", *folder]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA device" in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_bf16_autocast_trains_a_byte_model_with_float32_weights():
    spec = ModelSpec("byte_transformer", {"context": 16, "d_model": 16, "n_heads": 2})
    text = b"abracadabra " * 40
    plain = train_byte_model(text, spec, method="none", epochs=2, stopping=None)
    bf16 = train_byte_model(
        text, spec, method="none", epochs=2, stopping=None, precision="bf16", device="cpu"
    )
    before, after = plain.model.state_dict(), bf16.model.state_dict()
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in after.values())
    # bfloat16 products change the trajectory, but not by much after 2 epochs
    assert not all(torch.equal(before[k], after[k]) for k in before)
    assert abs(plain.bits_per_token("val") - bf16.bits_per_token("val")) < 0.5
    with pytest.raises(MdlkitError, match="unknown precision"):
        train_byte_model(text, spec, epochs=1, precision="fp16")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:0", ""])
def test_unknown_device_names_are_refused(name):
    with pytest.raises(MdlkitError, match="unknown device"):
        resolve_device(name)


def test_auto_prefers_cuda_then_mps_then_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
