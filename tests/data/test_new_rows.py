"""New rows for a fitted model: feature columns found by name and standardized with the run's
scaling, targets turned into the run's class indices, and fit's checks on every column."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mdlkit.data.new_rows import read_new_rows
from mdlkit.data.scaling import Scaling
from mdlkit.errors import MdlkitError

CLASSES = Scaling(("a", "b"), (1.0, -2.0), (2.0, 0.5), ("kind",), class_names=("cat", "dog"))
VALUES = Scaling(("a", "b"), (0.0, 0.0), (1.0, 1.0), ("y",), (10.0,), (3.0,))


def test_csv_columns_are_found_by_name_and_standardized(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    frame = pd.DataFrame({"id": [7, 8, 9], "b": [-2.0, -1.5, 0.0], "a": [1.0, 5.0, -1.0]})
    frame["kind"] = ["dog", "cat", "cow"]
    frame.to_csv(path, index=False)
    rows = read_new_rows(str(path), CLASSES)
    expected = np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 4.0]], dtype=np.float32)
    assert np.array_equal(rows.x.numpy(), expected)  # (x - mean) / std, columns a then b
    assert rows.targets is not None and rows.targets.tolist() == [1, 0, -1]
    assert rows.unknown_labels == 1


def test_a_file_without_the_target_gives_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(path, index=False)
    rows = read_new_rows(str(path), CLASSES)
    assert rows.targets is None and rows.unknown_labels == 0 and rows.x.shape == (1, 2)


def test_npz_rows_and_regression_targets_stay_in_the_files_units(tmp_path: Path) -> None:
    path = tmp_path / "new.npz"
    np.savez(path, x=np.array([[1.0, 2.0], [3.0, 4.0]]), y=np.array([10.5, 7.0]))
    rows = read_new_rows(str(path), VALUES)
    assert rows.targets is not None and rows.targets.tolist() == [[10.5], [7.0]]
    assert rows.x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    np.savez(path, x_train=np.zeros((2, 2)), y_train=np.zeros(2), x_test=np.ones((1, 2)))
    assert read_new_rows(str(path), VALUES).x.tolist() == [[1.0, 1.0]]  # x_test, no y_test


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"a": [1.0]}, "lacks the feature columns 'b' the model was fitted on"),
        ({"a": [1.0, None], "b": [1.0, 2.0]}, "feature column 'a' has missing values in 1 row"),
        ({"a": ["x", "y"], "b": [1.0, 2.0]}, "feature column 'a' holds text"),
        ({"a": [1.0, float("inf")], "b": [1.0, 2.0]}, "feature column 'a' has infinite values"),
        ({"a": [1e300], "b": [1.0]}, "too far from the training rows' range"),
    ],
)
def test_bad_columns_are_refused_as_fit_refuses_them(
    tmp_path: Path, frame: dict[str, list[object]], message: str
) -> None:
    path = tmp_path / "new.csv"
    pd.DataFrame(frame).to_csv(path, index=False)
    with pytest.raises(MdlkitError, match=message):
        read_new_rows(str(path), CLASSES)


def test_bad_files_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(MdlkitError, match="dataset file not found"):
        read_new_rows(str(tmp_path / "gone.csv"), CLASSES)
    with pytest.raises(MdlkitError, match="give the new rows as a"):
        read_new_rows("sklearn:iris", CLASSES)
    path = tmp_path / "new.npz"
    np.savez(path, x=np.zeros((2, 3)))
    with pytest.raises(MdlkitError, match="x has 3 features per row, the model was fitted on 2"):
        read_new_rows(str(path), CLASSES)
    np.savez(path, features=np.zeros((2, 2)))
    with pytest.raises(MdlkitError, match="expected x"):
        read_new_rows(str(path), CLASSES)
    np.savez(path, x=np.zeros((2, 2)), y=np.array(["a", "b"]))
    with pytest.raises(MdlkitError, match="holds text; the model predicts numbers"):
        read_new_rows(str(path), VALUES)


def test_parquet_rows_are_read_like_csv_rows(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"b": [-2.0, -1.5], "a": [1.0, 5.0], "kind": ["dog", "cat"]})
    frame.to_parquet(tmp_path / "new.parquet")
    frame.to_csv(tmp_path / "new.csv", index=False)
    parquet = read_new_rows(str(tmp_path / "new.parquet"), CLASSES)
    csv = read_new_rows(str(tmp_path / "new.csv"), CLASSES)
    assert parquet.x.tolist() == csv.x.tolist() == [[0.0, 0.0], [2.0, 1.0]]
    assert parquet.targets is not None and parquet.targets.tolist() == [1, 0]
