"""Users' own tables through the data registry: sklearn:NAME, .npz, .csv and .parquet files."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits as sk_load_digits
from sklearn.model_selection import train_test_split

from mdlkit.data import (
    Scaling,
    Splits,
    check_dataset,
    dataset_task,
    image_shape,
    is_regression,
    load_dataset,
)
from mdlkit.errors import MdlkitError

# ---------------------------------------------------------------- helpers (independent of mdlkit)


def sorted_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[np.lexsort(a.T[::-1])]


def parts(s: Splits) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(p.x.numpy().astype(np.float64), p.y.numpy()) for p in (s.train, s.val, s.test)]


def raw_x(s: Splits, x: np.ndarray) -> np.ndarray:
    """Scaled features back in the file's units, from the recorded numbers alone."""
    assert s.scaling is not None
    return x * np.array(s.scaling.feature_std) + np.array(s.scaling.feature_mean)


def raw_y(s: Splits, y: np.ndarray) -> np.ndarray:
    assert s.scaling is not None and s.scaling.target_mean is not None
    return y * np.array(s.scaling.target_std) + np.array(s.scaling.target_mean)


def assert_same_rows(s: Splits, x: np.ndarray, y: np.ndarray) -> None:
    """The union of the splits, un-scaled, is the original table (as rows [x | y])."""
    got = np.concatenate(
        [
            np.column_stack([raw_x(s, px), raw_y(s, py) if s.n_classes is None else py])
            for px, py in parts(s)
        ]
    )
    want = np.column_stack([x.reshape(len(x), -1), y.reshape(len(y), -1)])
    assert got.shape == want.shape
    np.testing.assert_allclose(sorted_rows(got), sorted_rows(want), rtol=1e-5, atol=1e-5)


def assert_scaled_on_train(s: Splits) -> None:
    """Means and stds are those of the (recovered) training rows, not of all rows."""
    assert s.scaling is not None
    train_x = raw_x(s, s.train.x.numpy().astype(np.float64))
    np.testing.assert_allclose(s.scaling.feature_mean, train_x.mean(0), rtol=1e-5, atol=1e-5)
    std = train_x.std(0)
    np.testing.assert_allclose(s.scaling.feature_std, np.where(std > 1e-9, std, 1), rtol=1e-4)
    np.testing.assert_allclose(s.train.x.numpy().mean(0), 0, atol=1e-4)
    if s.n_classes is None:
        train_y = raw_y(s, s.train.y.numpy().astype(np.float64))
        np.testing.assert_allclose(s.scaling.target_mean, train_y.mean(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s.scaling.target_std, train_y.std(0), rtol=1e-4)


def labelled(n_per_class: int, labels: list, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array(labels * n_per_class)
    rng.shuffle(y)
    x = rng.normal(loc=5.0, scale=3.0, size=(len(y), d))
    return x, y


def frame(x: np.ndarray, y: np.ndarray, target: str = "label") -> pd.DataFrame:
    df = pd.DataFrame(x, columns=[f"f{j}" for j in range(x.shape[1])])
    df[target] = y
    return df


# ---------------------------------------------------------------- round trips


def test_npz_x_y_with_text_labels(tmp_path: Path) -> None:
    x, y = labelled(30, ["eel", "cat", "dog"], d=4)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    s = load_dataset(str(tmp_path / "d.npz"), seed=1)
    assert (len(s.train), len(s.val), len(s.test)) == (54, 18, 18)
    assert s.n_classes == 3 and s.input_shape == (4,) and s.train.y.dtype == torch.int64
    assert s.scaling is not None and s.scaling.class_names == ("cat", "dog", "eel")
    assert s.scaling.target_mean is None and s.scaling.feature_names == ("x0", "x1", "x2", "x3")
    codes = {"cat": 0, "dog": 1, "eel": 2}
    assert_same_rows(s, x, np.array([codes[v] for v in y]))
    assert_scaled_on_train(s)


def test_npz_train_test_layout_keeps_the_test_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x_train, x_test = rng.integers(0, 255, (60, 2, 3)), rng.integers(0, 255, (15, 2, 3))
    y_train, y_test = np.tile([9, 3, 5], 20), np.tile([5, 9, 3], 5)
    path = tmp_path / "m.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    s = load_dataset(str(path))
    assert (len(s.train), len(s.val), len(s.test)) == (48, 12, 15)
    assert s.input_shape == (6,) and s.n_classes == 3
    assert s.scaling is not None and s.scaling.class_names == ("3", "5", "9")
    np.testing.assert_allclose(raw_x(s, s.test.x.numpy()), x_test.reshape(15, 6), atol=1e-3)
    assert s.test.y.tolist() == [{3: 0, 5: 1, 9: 2}[v] for v in y_test]
    dev = np.column_stack([x_train.reshape(60, 6), np.searchsorted([3, 5, 9], y_train)])
    got = np.concatenate(
        [np.column_stack([raw_x(s, p.x.numpy()), p.y.numpy()]) for p in (s.train, s.val)]
    )
    np.testing.assert_allclose(sorted_rows(got), sorted_rows(dev), atol=1e-3)
    assert_scaled_on_train(s)


@pytest.mark.parametrize("labels", [["no", "yes"], [7, -2, 40]])
def test_csv_classification_labels_map_to_unique_order(tmp_path: Path, labels: list) -> None:
    x, y = labelled(20, labels)
    path = tmp_path / "t.csv"
    frame(x, y).to_csv(path, index=False)
    s = load_dataset(str(path), target="label")
    order = sorted(labels)
    assert s.n_classes == len(labels)
    assert s.scaling is not None and s.scaling.class_names == tuple(str(v) for v in order)
    assert s.scaling.feature_names == ("f0", "f1", "f2") and s.scaling.target_names == ("label",)
    assert_same_rows(s, x, np.array([order.index(v) for v in y]))
    assert_scaled_on_train(s)
    assert dataset_task(str(path), target="label") == "classification"


def test_csv_float_target_is_regression_with_a_standardized_target(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 2))
    x[:, 1] = 4.0  # a constant column: std 1
    y = 100 + 10 * x[:, 0] + rng.normal(size=50)
    path = tmp_path / "r.csv"
    frame(x, y, "price").to_csv(path, index=False)
    s = load_dataset(str(path), target="price", seed=2)
    assert s.n_classes is None and (len(s.train), len(s.val), len(s.test)) == (30, 10, 10)
    assert s.train.y.dtype == torch.float32 and s.train.y.shape == (30, 1)
    assert s.scaling is not None and s.scaling.feature_std[1] == 1.0
    assert s.scaling.feature_mean[1] == 4.0
    assert_same_rows(s, x, y)
    assert_scaled_on_train(s)
    assert is_regression(str(path), target="price")
    # The task keyword overrides the detection, both ways.
    assert not is_regression(str(path), target="price", task="classification")


def test_integer_target_is_classification_unless_told_regression(tmp_path: Path) -> None:
    x, y = labelled(10, [1, 2, 3, 4, 5])
    path = tmp_path / "i.csv"
    frame(x, y, "stars").to_csv(path, index=False)
    assert load_dataset(str(path), target="stars").n_classes == 5
    s = load_dataset(str(path), target="stars", task="regression")
    assert s.n_classes is None and s.train.y.shape == (30, 1)
    assert_same_rows(s, x, y.astype(float))


def test_parquet_round_trip(tmp_path: Path) -> None:
    x, y = labelled(15, [True, False])
    path = tmp_path / "p.parquet"
    frame(x, y, "flag").to_parquet(path)
    s = load_dataset(str(path), target="flag")
    assert s.n_classes == 2 and s.scaling is not None
    assert s.scaling.class_names == ("False", "True")
    assert_same_rows(s, x, y.astype(int))
    assert_scaled_on_train(s)


def test_categorical_parquet_target_and_the_task_of_files(tmp_path: Path) -> None:
    x, y = labelled(10, ["lo", "hi", "mid"])
    df = frame(x, y, "grade").astype({"grade": "category"})
    df["grade"] = df["grade"].cat.reorder_categories(["lo", "mid", "hi"])
    df.to_parquet(tmp_path / "c.parquet")
    s = load_dataset(str(tmp_path / "c.parquet"), target="grade")
    assert s.scaling is not None and s.scaling.class_names == ("hi", "lo", "mid")  # np.unique
    assert dataset_task(str(tmp_path / "c.parquet"), target="grade") == "classification"
    with pytest.raises(MdlkitError, match="cannot be regressed"):
        dataset_task(str(tmp_path / "c.parquet"), target="grade", task="regression")
    np.savez(tmp_path / "r.npz", x_train=x, y_train=x[:, 0], x_test=x[:4], y_test=np.arange(4))
    assert dataset_task(str(tmp_path / "r.npz")) == "regression"  # float beats integer
    np.savez(tmp_path / "m.npz", x=x, y=x[:, :2].astype(int))
    assert is_regression(str(tmp_path / "m.npz"))  # two outputs cannot be one class label


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(3, 40),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e6),
)
def test_regression_round_trip_property(n: int, d: int, seed: int, scale: float) -> None:

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)) * scale, rng.normal(size=(n, 2)) * scale + 3
    x[:, 0] = 7.0  # a constant column
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "r.npz", x=x, y=y)
        s = load_dataset(str(Path(tmp) / "r.npz"), seed=seed)
    assert s.n_classes is None and len(s.train) + len(s.val) + len(s.test) == n
    assert s.train.y.shape[1] == 2 and min(len(s.train), len(s.val), len(s.test)) >= 1
    got = np.concatenate([np.column_stack([raw_x(s, px), raw_y(s, py)]) for px, py in parts(s)])
    want = np.column_stack([x, y])
    np.testing.assert_allclose(sorted_rows(got), sorted_rows(want), rtol=1e-5, atol=1e-5 * scale)
    assert s.scaling is not None and s.scaling.feature_std[0] == 1.0
    train = raw_x(s, s.train.x.numpy().astype(np.float64))
    np.testing.assert_allclose(s.scaling.feature_mean, train.mean(0), rtol=1e-5, atol=1e-5 * scale)


def test_scaling_records_are_checked() -> None:
    good = Scaling(("a",), (0.0,), (1.0,), ("y",), (2.0,), (3.0,)).to_dict()
    assert Scaling.from_dict(good).unscale_y([[1.0]]).tolist() == [[5.0]]
    for bad in (
        {**good, "feature_std": [0.0]},
        {**good, "extra": 1},
        {**good, "x": None},
        {**good, "feature_mean": "0"},
        {**good, "class_names": ["p", "q"]},
    ):
        with pytest.raises(MdlkitError, match="scaling"):
            Scaling.from_dict(bad)


def test_same_seed_same_splits_and_scaling_survives_json(tmp_path: Path) -> None:
    x, y = labelled(20, ["a", "b"])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    a, b = (load_dataset(str(tmp_path / "d.npz"), seed=4) for _ in range(2))
    assert torch.equal(a.train.x, b.train.x) and a.scaling == b.scaling
    assert a.scaling is not None
    assert Scaling.from_dict(json.loads(json.dumps(a.scaling.to_dict()))) == a.scaling
    sub = load_dataset(str(tmp_path / "d.npz"), seed=4, n_train=10)
    assert len(sub.train) == 10 and sorted(sub.train.y.tolist()) == [0] * 5 + [1] * 5


def test_sklearn_tables() -> None:
    iris = load_dataset("sklearn:iris")
    assert len(iris.train) + len(iris.val) + len(iris.test) == 150 and iris.n_classes == 3
    assert iris.scaling is not None and iris.scaling.class_names[0] == "setosa"
    diabetes = load_dataset("sklearn:diabetes")
    assert diabetes.n_classes is None and diabetes.train.y.dtype == torch.float32
    assert diabetes.train.y.ndim == 2 and diabetes.train.y.shape[1] == 1
    assert load_dataset("sklearn:linnerud").train.y.shape[1] == 3
    assert is_regression("sklearn:diabetes") and not is_regression("sklearn:wine")
    assert image_shape("sklearn:digits") is None
    for name in ("sklearn:nope", "iris"):
        with pytest.raises(MdlkitError, match=r"sklearn:iris"):
            check_dataset(name)


def test_builtin_datasets_are_unchanged() -> None:
    s = load_dataset("digits")
    assert (len(s.train), len(s.val), len(s.test)) == (1077, 360, 360) and s.scaling is None
    # The same rows as the two calls of train_test_split stratified_splits made before.
    bunch = sk_load_digits()
    x, y = bunch.data.astype(np.float32) / 16, bunch.target
    x_rest, x_test, y_rest, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    x_train, _, _, _ = train_test_split(
        x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=1
    )
    assert np.array_equal(s.train.x.numpy(), x_train) and np.array_equal(s.test.x.numpy(), x_test)
    assert load_dataset("teacher-student", n_train=20).scaling is None
    assert image_shape("digits") == (1, 8, 8) and is_regression("teacher-student")
    with pytest.raises(MdlkitError, match="--target applies only"):
        check_dataset("digits", target="y")


# ---------------------------------------------------------------- bad files


def _write(path: Path, content: object) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, pd.DataFrame):
        if path.suffix == ".csv":
            content.to_csv(path, index=False)
        else:
            content.to_parquet(path)
    else:
        assert isinstance(content, dict)
        np.savez(path, **content)


_X, _Y = labelled(10, ["a", "b", "c"])
_NAN_X = _X.copy()
_NAN_X[4, 2] = np.nan
_NAN_FRAME = frame(_X, _Y)
_NAN_FRAME.loc[3, "f1"] = np.nan
_TEXT_FRAME = frame(_X, _Y).astype({"f2": object})
_TEXT_FRAME.loc[5, "f2"] = "3,5 kg"
_NAN_TARGET = frame(_X, np.arange(30.0))
_NAN_TARGET.loc[6, "label"] = np.nan
_RANDOM = np.random.default_rng(0).bytes(700)

BAD = [
    ("missing.npz", None, {}, "dataset file not found: .*missing.npz"),
    ("data.txt", "1,2\n", {}, r"unknown file type '.txt'; mdlkit reads .npz, .csv and .parquet"),
    ("rand.npz", _RANDOM, {}, "rand.npz is not a valid npz file"),
    ("rand.parquet", _RANDOM, {"target": "y"}, "rand.parquet is not a valid parquet file"),
    ("bin.csv", b"\x00\x01\x02" + _RANDOM, {"target": "y"}, "bin.csv is not a valid CSV file"),
    ("empty.csv", b"", {"target": "y"}, "empty.csv is empty"),
    ("empty.npz", b"", {}, "empty.npz is empty"),
    ("keys.npz", {"a": _X, "b": _Y}, {}, "has arrays 'a', 'b'; expected x and y, or x_train"),
    ("half.npz", {"x_train": _X, "y_train": _Y}, {}, "has arrays 'x_train', 'y_train'"),
    ("len.npz", {"x": _X, "y": _Y[:-1]}, {}, "x has 30 rows but y has 29"),
    ("nanx.npz", {"x": _NAN_X, "y": _Y}, {}, "array 'x' has NaN or infinite values in column 2"),
    ("nany.npz", {"x": _X, "y": np.r_[np.nan, _X[1:, 0]]}, {}, "target 'y' has NaN or inf"),
    ("obj.npz", {"x": _X, "y": _Y.astype(object)}, {}, "array 'y' holds Python objects"),
    ("flat.npz", {"x": _X[:, 0], "y": _Y}, {}, r"array 'x' has shape \(30,\); it needs one row"),
    ("textx.npz", {"x": _Y[:, None], "y": _Y}, {}, "array 'x' holds text"),
    ("one.npz", {"x": _X, "y": np.zeros(30, int)}, {}, r"single class \('0'\)"),
    ("few.npz", {"x": _X[:7], "y": _Y[:7]}, {}, "class '.' has only . rows?; every class needs"),
    ("tiny.npz", {"x": _X[:6], "y": np.tile([0, 1], 3)}, {}, "too few rows for a stratified"),
    (
        "far.npz",
        {"x_train": _X, "y_train": _Y, "x_test": np.full((3, 3), 1e300), "y_test": _Y[:3]},
        {},
        r"feature column 'x0' has a value \(1e\+300\) too far from the training rows",
    ),
    ("reg2.npz", {"x": _X[:2], "y": _X[:2, 0]}, {}, "has 2 rows; a train/validation/test"),
    ("notarget.csv", frame(_X, _Y), {}, "pass --target COLUMN; its columns are 'f0', 'f1'"),
    ("nocol.csv", frame(_X, _Y), {"target": "y"}, "has no column 'y'; its columns are 'f0'"),
    ("nanf.csv", _NAN_FRAME, {"target": "label"}, "feature column 'f1' has missing values"),
    ("text.csv", _TEXT_FRAME, {"target": "label"}, r"column 'f2' holds text \(e.g. '3,5 kg'\)"),
    ("nant.csv", _NAN_TARGET, {"target": "label"}, "target column 'label' has missing values"),
    ("rows.csv", "a,b\n", {"target": "b"}, "rows.csv has no rows"),
    ("only.csv", "b\n1\n", {"target": "b"}, "only the target column 'b'"),
    ("reg.csv", frame(_X, _Y), {"target": "label", "task": "regression"}, "cannot be regressed"),
    ("nocol.parquet", frame(_X, _Y), {"target": "y"}, "has no column 'y'; its columns are"),
    ("notarget.parquet", frame(_X, _Y), {}, "pass --target COLUMN; its columns are 'f0'"),
    ("task.npz", {"x": _X, "y": _Y}, {"task": "ordinal"}, "unknown task 'ordinal'; choose one"),
    ("t.npz", {"x": _X, "y": _Y}, {"target": "y"}, "--target applies only to .csv and .parquet"),
]


@pytest.mark.parametrize(("filename", "content", "options", "message"), BAD)
def test_bad_files_are_one_line_errors(
    tmp_path: Path, filename: str, content: object, options: dict, message: str
) -> None:
    path = tmp_path / filename
    if content is not None:
        _write(path, content)
    with pytest.raises(MdlkitError, match=message) as err:
        load_dataset(str(path), **options)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_check_dataset_reads_only_headers(tmp_path: Path) -> None:
    _write(tmp_path / "nanf.csv", _NAN_FRAME)
    check_dataset(str(tmp_path / "nanf.csv"), target="label")  # the NaN is found when loading
    with pytest.raises(MdlkitError, match="pass --target COLUMN"):
        check_dataset(str(tmp_path / "nanf.csv"))
    with pytest.raises(MdlkitError, match="not found"):
        check_dataset(str(tmp_path / "gone.parquet"), target="y")
    assert image_shape(str(tmp_path / "nanf.csv")) is None


def test_parquet_without_pyarrow_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.parquet"
    frame(_X, _Y).to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MdlkitError, match=r"pip install 'mdlkit\[parquet\]'"):
        load_dataset(str(path), target="label")


# ---------------------------------------------------------------- damaged files


def _valid_bytes(tmp: Path, suffix: str) -> bytes:
    x, y = labelled(8, ["a", "b", "c"], d=2)
    path = tmp / f"v{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    else:
        _write(path, frame(x, y))
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".parquet"])
def test_damaged_files_fail_cleanly_or_load(tmp_path: Path, suffix: str) -> None:
    valid = _valid_bytes(tmp_path, suffix)
    path = tmp_path / f"damaged{suffix}"
    options = {} if suffix == ".npz" else {"target": "label"}

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
    )
    @given(
        cut=st.integers(0, len(valid)),
        edits=st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), max_size=4),
    )
    def load_damaged(cut: int, edits: list[tuple[int, int]]) -> None:
        data = bytearray(valid)
        for at, byte in edits:
            data[at] = byte
        path.write_bytes(bytes(data[:cut]))
        try:
            s = load_dataset(str(path), **options)
        except MdlkitError as exc:
            assert "\n" not in str(exc)
            return
        assert s.scaling is not None and (s.n_classes is None or s.n_classes >= 2)
        assert all(torch.isfinite(p.x).all() for p in (s.train, s.val, s.test))

    load_damaged()
