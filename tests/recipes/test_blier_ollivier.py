import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from mdlkit.errors import MdlkitError
from mdlkit.recipes.blier_ollivier import (
    BlierOllivierExperiment,
    run_blier_ollivier,
    trains_ahead,
)
from mdlkit.runs import RunFolder
from mdlkit.sweeps import default_workers


def _digits_npz(path: Path, shuffle: bool) -> Path:
    """scikit-learn's 8×8 digits in MNIST's layout (values 0…255), 300 to code, 200 to test."""
    digits = load_digits()
    x = np.clip(digits.images * 16, 0, 255).astype(np.uint8)
    y = digits.target.astype(np.uint8)
    if shuffle:
        y = np.random.default_rng(0).permutation(y)
    np.savez(path, x_train=x[:300], y_train=y[:300], x_test=x[300:500], y_test=y[300:500])
    return path


def _tiny(path: Path) -> BlierOllivierExperiment:
    quick = BlierOllivierExperiment.quick(str(path))
    return replace(
        quick,
        n=None,
        channels=4,
        hidden=8,
        shift=1,
        epochs=2,
        two_part_epochs=2,
        variational_epochs=2,
    )


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_code_of_the_table_is_real_and_random_labels_stay_at_uniform(
    tmp_path: Path, shuffle: bool
) -> None:
    exp = _tiny(_digits_npz(tmp_path / "digits.npz", shuffle))
    folder = RunFolder(tmp_path / "run")
    table = run_blier_ollivier(exp, folder, workers=1)
    rows = json.loads((tmp_path / "run" / "results.json").read_text())["rows"]
    uniform = 300 * math.log2(10)
    assert rows["uniform"]["bits"] == pytest.approx(uniform)
    codes = ("prequential", "switching", "two-part float32", "two-part (mdlkit codec)")
    for name in (*codes, "variational"):
        assert rows[name]["decoded"], name
    # Switching over two learners and their 19 blends pays at most log2 21 + log2 S over either.
    best = min(rows["learner 0"]["bits"], rows["learner 1"]["bits"])
    blocks = len(rows["prequential"]["block_bits"])
    assert rows["switching"]["bits"] <= best + math.log2(21) + math.log2(blocks) + 1e-6
    # block 0 is uniform: 10 labels at log2 10 each
    assert rows["prequential"]["block_bits"][0] == pytest.approx(10 * math.log2(10))
    assert (tmp_path / "run" / "bits_per_block.png").stat().st_size > 0
    assert "prequential" in table
    if shuffle:  # no honest code beats uniform by 16 bits but with probability 2^-16
        for name, row in rows.items():
            assert row["bits"] >= uniform - 16, name


def test_bad_settings_are_refused_in_one_line(tmp_path: Path) -> None:
    path = _digits_npz(tmp_path / "digits.npz", False)
    with pytest.raises(MdlkitError, match="give 1 ≤ n ≤ 300"):
        BlierOllivierExperiment(str(path), n=301).data()
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(MdlkitError, match="cannot read"):
        BlierOllivierExperiment(str(tmp_path / "bad.npz")).data()


def test_the_receiver_trains_ahead_only_beside_a_fresh_online_job_in_a_pool(
    tmp_path: Path,
) -> None:
    exp = _tiny(_digits_npz(tmp_path / "digits.npz", False))
    folder = RunFolder(tmp_path / "run")
    assert trains_ahead(exp, folder, {"workers": 2})
    assert not trains_ahead(exp, folder, {"workers": 1})
    assert not trains_ahead(exp, folder, {"workers": 2, "ray": "auto"})
    assert not trains_ahead(replace(exp, decode=False), folder, {"workers": 2})
    assert trains_ahead(exp, folder, {"workers": None}) == (default_workers() > 1)
    folder.start({})
    folder.write_record("online", {"rows": {}})  # a resumed folder: online has finished
    assert not trains_ahead(exp, folder, {"workers": 2})
