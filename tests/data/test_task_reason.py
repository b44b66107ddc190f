"""A user's table says which task it became and why, in one line (``Splits.task_reason``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mdlkit.data import load_dataset


def _csv(tmp_path: Path, y: list[object]) -> str:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=len(y)), "b": rng.normal(size=len(y)), "y": y})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_a_float_target_with_few_values_is_a_regression_that_says_how_to_change_it(
    tmp_path: Path,
) -> None:
    name = _csv(tmp_path, [0.0, 1.0, 2.0] * 30)
    reason = load_dataset(name, target="y").task_reason
    assert reason == (
        "task: regression (target 'y' holds real numbers, 3 distinct: 0 … 2; "
        "--task classification treats them as classes)"
    )
    chosen = load_dataset(name, target="y", task="classification")
    assert chosen.task_reason == "task: classification (--task classification)"
    assert chosen.n_classes == 3


def test_text_labels_are_classes_without_a_regression_hint(tmp_path: Path) -> None:
    name = _csv(tmp_path, ["cat", "dog", "eel"] * 30)
    assert load_dataset(name, target="y").task_reason == (
        "task: classification (target 'y' holds text labels)"
    )
    assert load_dataset("digits").task_reason is None  # a built-in set has one task
