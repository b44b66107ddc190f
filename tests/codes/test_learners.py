import multiprocessing
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mdlkit import MdlkitError
from mdlkit.codes.block_cache import CachedLearner, _settings
from mdlkit.codes.learners import TorchLearner, close_member_pools
from mdlkit.codes.online import prequential_code
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.models import ModelSpec
from mdlkit.training import TrainConfig


def _pair(**settings: int) -> TorchLearner:
    """Two continued MLP members on digits, one torch thread each."""
    return TorchLearner(
        ModelSpec("mlp", {"sizes": [64, 32, 10]}),
        TrainConfig(max_epochs=3, batch_size=16, stopping=None),
        mode="continue",
        calibrate=True,
        **{"members": 2, "threads": 1, **settings},  # type: ignore[arg-type]
    )


def test_members_trained_in_two_processes_equal_the_serial_ones_bit_for_bit(
    tmp_path: Path,
) -> None:
    serial, parallel = _pair(), _pair(workers=2)
    try:
        _compare(tmp_path, serial, parallel)
    finally:  # no worker or pool thread outlives the test (later tests fork their own workers)
        close_member_pools()
    assert multiprocessing.active_children() == [] and threading.active_count() == 1


def _compare(tmp_path: Path, serial: TorchLearner, parallel: TorchLearner) -> None:
    s = load_digits(seed=0)
    x, y = s.train.x[:160], s.train.y[:160]
    bounds = doubling_schedule(160, first=10)  # 5 blocks, 4 trained, each from the last
    # each cache keeps every block's weights under the same keys (workers is not in them)
    one, two = CachedLearner(serial, tmp_path / "one"), CachedLearner(parallel, tmp_path / "two")
    words = prequential_code(x, y, 10, one, bounds).encoded.words  # type: ignore[union-attr]
    parallel_words = prequential_code(x, y, 10, two, bounds).encoded.words  # type: ignore[union-attr]
    assert np.array_equal(words, parallel_words)
    files = sorted(p.name for p in (tmp_path / "one").glob("*.safetensors"))
    assert len(files) == 4 and files == sorted(
        p.name for p in (tmp_path / "two").glob("*.safetensors")
    )
    for name in files:
        a, b = load_file(tmp_path / "one" / name), load_file(tmp_path / "two" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the comparison can fail: members differ (own seeds), and 2 threads give other weights
    first = serial.fit(x[:10], y[:10], None, 1).model.members  # type: ignore[union-attr]
    threads = replace(serial, threads=2).fit(x[:10], y[:10], None, 1).model.members  # type: ignore[union-attr]
    assert not torch.equal(first[0][0].weight, first[1][0].weight)  # type: ignore[index]
    assert not torch.equal(first[0][0].weight, threads[0][0].weight)  # type: ignore[index]
    # a cache written by one process loads in full with two, and gives the same stream
    read = CachedLearner(parallel, tmp_path / "one")
    again = prequential_code(x, y, 10, read, bounds)
    assert (read.trained, read.loaded) == (0, 4)
    assert np.array_equal(again.encoded.words, words)  # type: ignore[union-attr]


def test_the_cache_key_leaves_out_workers_and_an_unset_thread_count() -> None:
    learner = _pair()
    assert _settings(learner) == _settings(replace(learner, workers=3))
    assert _settings(learner) != _settings(replace(learner, threads=2))
    unset = replace(learner, threads=None)
    assert "threads" not in _settings(unset) and "workers" not in _settings(unset)
    # the rest is the dataclass repr, as keys were before these fields existed
    assert _settings(unset) == repr(unset).replace(", threads=None, workers=1", "").replace(
        ", rotate=0, scale=0", ""
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"threads": 0}, "threads >= 1"), ({"workers": 0}, "workers >= 1")],
)
def test_bad_thread_and_worker_counts_are_refused(settings: dict[str, int], message: str) -> None:
    with pytest.raises(MdlkitError, match=message):
        _pair(**settings)
