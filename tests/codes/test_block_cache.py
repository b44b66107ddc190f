from pathlib import Path

import numpy as np

from mdlkit.codes.block_cache import CachedLearner
from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import decode_online, prequential_code
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.models import ModelSpec
from mdlkit.training import TrainConfig


def test_a_restarted_code_loads_finished_blocks_and_writes_the_same_stream(
    tmp_path: Path,
) -> None:
    s = load_digits(seed=0)
    x, y = s.train.x[:120], s.train.y[:120]
    bounds = doubling_schedule(120, first=10)  # 5 blocks, 4 trained
    plain = TorchLearner(
        ModelSpec("mlp", {"sizes": [64, 8, 10]}),
        TrainConfig(max_epochs=2, stopping=None),
        mode="continue",
        calibrate=True,
    )
    first = CachedLearner(plain, tmp_path)
    words = prequential_code(x, y, 10, first, bounds).encoded.words  # type: ignore[union-attr]
    assert (first.trained, first.loaded) == (4, 0)
    assert len(list(tmp_path.glob("*.safetensors"))) == 4
    # "Killed" before the last block: its files are gone; one damaged file is trained anew.
    stored = sorted(tmp_path.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    stored[-1].unlink()
    stored[0].with_suffix(".safetensors").write_bytes(b"damaged")
    again = CachedLearner(plain, tmp_path)
    result = prequential_code(x, y, 10, again, bounds, verify=True, receiver=plain)
    assert (again.trained, again.loaded) == (2, 2)
    assert np.array_equal(result.encoded.words, words)  # type: ignore[union-attr]
    assert np.array_equal(decode_online(result.encoded, x, 10, [plain], bounds), y.numpy())  # type: ignore[arg-type]
    # Different data: different keys, trained anew.
    other = CachedLearner(plain, tmp_path)
    prequential_code(x, y.flip(0), 10, other, bounds)
    assert other.loaded == 0
