import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from mdlkit.codes.block_cache import CachedLearner
from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import decode_online, prequential_code
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.data import load_digits
from mdlkit.devices import torch_threads
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


def test_an_ensemble_learner_decodes_back_resumes_and_keeps_member_zero(tmp_path: Path) -> None:
    s = load_digits(seed=0)
    x, y = s.train.x[:80], s.train.y[:80]
    bounds = doubling_schedule(80, first=10)
    spec = ModelSpec("mlp", {"sizes": [64, 8, 10]})
    config = TrainConfig(max_epochs=2, stopping=None)
    single = TorchLearner(spec, config, mode="continue", calibrate=True)
    pair = replace(single, members=2)
    one = prequential_code(x, y, 10, single, bounds)
    cached = CachedLearner(pair, tmp_path)
    two = prequential_code(x, y, 10, cached, bounds, verify=True, receiver=pair)
    # member 0 is exactly the single network's run; member 1 differs (another seed)
    last_one, last_two = one.fitted[-1], two.fitted[-1]
    assert last_one is not None and last_two is not None
    members = last_two.model.members  # type: ignore[union-attr]
    for a, b in zip(last_one.model.parameters(), members[0].parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(members[0][0].weight, members[1][0].weight)
    assert np.array_equal(decode_online(two.encoded, x, 10, [pair], bounds), y.numpy())  # type: ignore[arg-type]
    # a second run loads every block (the ensemble's files) and writes the same stream
    again = CachedLearner(pair, tmp_path)
    words = prequential_code(x, y, 10, again, bounds).encoded.words  # type: ignore[union-attr]
    assert (again.loaded, again.trained) == (cached.trained, 0)
    assert np.array_equal(words, two.encoded.words)  # type: ignore[union-attr]
    # the single learner's keys are not the ensemble's
    assert CachedLearner(single, tmp_path)._key(x, y, None, 1) != again._key(x, y, None, 1)


def test_augmentation_fields_enter_the_cache_key_only_when_used() -> None:
    """Caches written before rotation and scaling existed were keyed without them: at 0 they
    stay out of the key (the same string as then), and any other value changes it."""
    from mdlkit.codes.block_cache import _settings

    spec = ModelSpec("small-cnn", {"image_size": 8})
    plain = TorchLearner(spec, TrainConfig(), shift=2)
    assert "rotate" not in _settings(plain) and "scale" not in _settings(plain)
    assert "shift=2" in _settings(plain)
    keys = {_settings(replace(plain, rotate=r, scale=s)) for r, s in ((0, 0), (10, 0), (0, 10))}
    assert len(keys) == 3


def test_a_model_stored_with_another_thread_count_is_trained_anew(tmp_path: Path) -> None:
    s = load_digits(seed=0)
    x, y = s.train.x[:40], s.train.y[:40]
    bounds = doubling_schedule(40, first=10)  # 3 blocks, 2 trained
    plain = TorchLearner(ModelSpec("mlp", {"sizes": [64, 10]}), TrainConfig(max_epochs=2))
    with torch_threads(1):
        prequential_code(x, y, 10, CachedLearner(plain, tmp_path), bounds)
    metas = sorted(tmp_path.glob("*.json"))
    assert [json.loads(m.read_text())["threads"] for m in metas] == [1, 1]
    with torch_threads(2):  # other float sums, other weights: not the stored models
        two = CachedLearner(plain, tmp_path)
        prequential_code(x, y, 10, two, bounds)
    assert (two.trained, two.loaded) == (2, 0)
    # A record from before the count was kept loads as it is; a damaged one is trained anew.
    legacy = json.loads(metas[0].read_text())
    del legacy["threads"]
    metas[0].write_text(json.dumps(legacy))
    metas[1].write_text("[1, 2]")
    again = CachedLearner(plain, tmp_path)
    prequential_code(x, y, 10, again, bounds)
    assert (again.trained, again.loaded) == (1, 1)
