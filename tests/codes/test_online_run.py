import math
from pathlib import Path

from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online_run import run_online_codes
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.models import ModelSpec
from mdlkit.training import TrainConfig


def test_sender_and_receiver_each_resume_from_their_own_models(tmp_path: Path) -> None:
    s = load_digits(seed=0)
    x, y = s.train.x[:160], s.train.y[:160]
    bounds = doubling_schedule(160, first=10)  # 5 blocks, 4 trained
    config = TrainConfig(max_epochs=10, batch_size=32, stopping=None)
    learners = [
        TorchLearner(ModelSpec("mlp", {"sizes": [64, 10]}), config, calibrate=True),
        TorchLearner(ModelSpec("mlp", {"sizes": [64, 8, 10]}), config, mode="continue"),
    ]
    rows = run_online_codes(x, y, 10, learners, bounds, cache=tmp_path, test=s.test)
    assert rows["switching"]["decoded"] and rows["prequential"]["decoded"]
    assert rows["prequential"]["bits"] == rows["learner 1"]["bits"]
    assert rows["prequential"]["bits"] < 160 * math.log2(10)  # it learns
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
    again = run_online_codes(x, y, 10, learners, bounds, cache=tmp_path, test=s.test)
    assert again["switching"]["bits"] == rows["switching"]["bits"]
    assert again["switching"]["decoded"]
