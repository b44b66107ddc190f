"""Bring-your-own tables: scikit-learn's bundled datasets and ``.npz``/``.csv``/``.parquet`` files.

A source is ``sklearn:NAME`` (one of :data:`SKLEARN_DATASETS`, no download) or the path of a file:

- ``.npz``: arrays ``x`` (n, ...) and ``y`` (n,) or (n, outputs); or ``x_train``, ``y_train``,
  ``x_test``, ``y_test``, whose test arrays stay the test split (validation is split off the
  train part). ``x`` is flattened to (n, d). Never unpickled (``allow_pickle=False``).
- ``.csv`` and ``.parquet`` (read by pandas; parquet needs pyarrow): one row per sample, numeric
  feature columns and a ``target`` column.

The task is classification for text, bool, categorical and integer targets and regression for
float targets, unless ``task`` says otherwise. Class labels become 0..K-1 in ``np.unique`` order
(their names are kept); regression targets become float32 (n, outputs). Classification splits are
stratified, regression splits a seeded shuffle (60/20/20 by default). Features, and regression
targets, are standardized with the training split's mean and std (:class:`Scaling`, attached to
the :class:`Splits`).

>>> s = load_tabular("sklearn:iris", seed=0)
>>> (len(s.train), len(s.val), len(s.test)), s.n_classes, s.scaling.class_names
((90, 30, 30), 3, ('setosa', 'versicolor', 'virginica'))
>>> load_tabular("sklearn:diabetes").train.y.shape
torch.Size([266, 1])

Every problem with a source is a one-line :class:`MdlkitError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from mdlkit.data.scaling import Scaling
from mdlkit.data.splits import Split, Splits, stratified_indices
from mdlkit.errors import MdlkitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FILE_SUFFIXES",
    "SKLEARN_DATASETS",
    "SKLEARN_PREFIX",
    "TASKS",
    "Task",
    "check_tabular",
    "is_tabular",
    "load_tabular",
    "tabular_task",
]

Task = Literal["auto", "classification", "regression"]
TASKS: tuple[str, ...] = ("auto", "classification", "regression")
SKLEARN_PREFIX = "sklearn:"
# scikit-learn's bundled tables (no download); diabetes and linnerud (3 outputs) are regression.
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes", "linnerud")
FILE_SUFFIXES = (".npz", ".csv", ".parquet")
_NPZ_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")
_MIN_CLASS_ROWS = 3  # one each for train, validation and test
_Kind = Literal["text", "bool", "integer", "float"]


def _one_line(text: object, limit: int = 120) -> str:
    """A library's message or a value, cut to one short line."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _names(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(_one_line(n, 40)) for n in names[:limit])
    return shown + (f" … ({len(names) - limit} more)" if len(names) > limit else "")


# --------------------------------------------------------------------------- sources


def is_tabular(name: str) -> bool:
    """Whether ``name`` names a scikit-learn table or a file (rather than a dataset name).

    >>> is_tabular("sklearn:iris"), is_tabular("data/x.csv"), is_tabular("digits")
    (True, True, False)
    """
    if name.startswith(SKLEARN_PREFIX):
        return True
    path = Path(name).expanduser()
    return bool(path.suffix) or "/" in name or os.sep in name or path.exists()


def _sklearn_key(name: str) -> str:
    key = name[len(SKLEARN_PREFIX) :]
    if key not in SKLEARN_DATASETS:
        choices = ", ".join(SKLEARN_PREFIX + k for k in SKLEARN_DATASETS)
        raise MdlkitError(f"unknown scikit-learn dataset {key!r}; choose one of {choices}")
    return key


def _file(name: str) -> tuple[Path, str]:
    """The path and lower-case suffix of a file source; it must exist and be non-empty."""
    path = Path(name).expanduser()
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        what = f"file type {path.suffix!r}" if path.suffix else "file type (no extension)"
        raise MdlkitError(f"{name}: unknown {what}; mdlkit reads .npz, .csv and .parquet files")
    if not path.exists():
        raise MdlkitError(f"dataset file not found: {name}")
    if not path.is_file():
        raise MdlkitError(f"{name} is not a file; give a .npz, .csv or .parquet file")
    if path.stat().st_size == 0:
        raise MdlkitError(f"{name} is empty")
    return path, suffix


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise MdlkitError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _no_target(name: str, target: str | None) -> None:
    if target is not None:
        raise MdlkitError(
            f"{name}: --target applies only to .csv and .parquet files; leave it out here"
        )


# --------------------------------------------------------------------------- npz


@contextmanager
def _open_npz(path: Path, name: str) -> Iterator[Any]:
    """The file as an open ``NpzFile`` (closed after; numpy leaks its own handle when a damaged
    archive fails to open, so the file is opened here)."""
    with path.open("rb") as f:
        magic = f.read(6)
        f.seek(0)
        if magic.startswith(b"\x93NUMPY"):
            raise MdlkitError(
                f"{name} is not a valid npz file (it holds a single .npy array); "
                "save with np.savez(FILE, x=..., y=...)"
            )
        if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # else np.load tries pickle
            raise MdlkitError(f"{name} is not a valid npz file (not a zip archive of arrays)")
        try:
            loaded = np.load(f, allow_pickle=False)
        except Exception as exc:  # zipfile, zlib, EOF, OS errors: whatever the damage raises
            raise MdlkitError(f"{name} is not a valid npz file ({_one_line(exc)})") from None
        with loaded:
            yield loaded


def _npz_layout(files: Sequence[str], name: str) -> tuple[str, ...]:
    if "x" in files and "y" in files:
        return ("x", "y")
    if all(k in files for k in _NPZ_SPLIT_KEYS):
        return _NPZ_SPLIT_KEYS
    raise MdlkitError(
        f"{name} has arrays {_names(list(files)) or '(none)'}; "
        "expected x and y, or x_train, y_train, x_test and y_test"
    )


def _npz_arrays(path: Path, name: str, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The layout's arrays (or only ``keys`` of it) read from the file."""
    with _open_npz(path, name) as loaded:
        layout = _npz_layout(loaded.files, name)
        arrays: dict[str, np.ndarray] = {}
        for key in layout if keys is None else [k for k in layout if k in keys]:
            try:
                arrays[key] = np.asarray(loaded[key])
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise MdlkitError(
                        f"{name}: array {key!r} holds Python objects, which mdlkit never "
                        "unpickles; save it as a numeric or string array"
                    ) from None
                raise MdlkitError(f"{name} is not a valid npz file ({_one_line(exc)})") from None
            except Exception as exc:
                raise MdlkitError(f"{name} is not a valid npz file ({_one_line(exc)})") from None
    return arrays


def _target_kind(y: np.ndarray, key: str, name: str) -> _Kind:
    kind = y.dtype.kind
    if kind in "US":
        return "text"
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    raise MdlkitError(
        f"{name}: array {key!r} has dtype {y.dtype}; targets must be numbers or text labels"
    )


def _npz_target(y: np.ndarray, key: str, name: str) -> np.ndarray:
    if y.ndim not in (1, 2) or len(y) == 0:
        raise MdlkitError(
            f"{name}: array {key!r} has shape {y.shape}; targets must have shape (n,) or "
            "(n, outputs) with n >= 1"
        )
    return y if y.ndim == 1 else y.reshape(len(y), -1)


def _npz_features(x: np.ndarray, key: str, name: str) -> np.ndarray:
    if x.ndim < 2 or len(x) == 0 or x[0].size == 0:
        raise MdlkitError(
            f"{name}: array {key!r} has shape {x.shape}; it needs one row per sample and at "
            "least one feature, e.g. shape (n, d)"
        )
    if x.dtype.kind not in "biuf":
        what = "text" if x.dtype.kind in "US" else f"dtype {x.dtype}"
        raise MdlkitError(f"{name}: array {key!r} holds {what}; features must be real numbers")
    flat = x.reshape(len(x), -1).astype(np.float64)
    bad = ~np.isfinite(flat)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise MdlkitError(
            f"{name}: array {key!r} has NaN or infinite values in column {int(cols[0])} "
            f"(row {int(rows[0])}); fill or drop them"
        )
    return flat


@dataclass(frozen=True)
class _Table:
    """A source read into memory: features, raw targets and their names.

    When ``n_test`` > 0 the last ``n_test`` rows are the source's own test split.
    """

    x: np.ndarray  # (n, d) float64, finite
    y: np.ndarray  # (n,) or (n, outputs)
    kind: _Kind
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    label_names: tuple[str, ...] | None = None  # names of integer labels 0, 1, ... (sklearn)
    n_test: int = 0


def _npz_target_names(y: np.ndarray) -> tuple[str, ...]:
    return ("y",) if y.ndim == 1 or y.shape[1] == 1 else tuple(f"y{j}" for j in range(y.shape[1]))


def _npz_table(path: Path, name: str) -> _Table:
    arrays = _npz_arrays(path, name)
    parts = [("x", "y")] if "x" in arrays else [("x_train", "y_train"), ("x_test", "y_test")]
    xs, ys, kinds = [], [], []
    for xk, yk in parts:
        x = _npz_features(arrays[xk], xk, name)
        y = _npz_target(arrays[yk], yk, name)
        if len(x) != len(y):
            raise MdlkitError(
                f"{name}: {xk} has {_rows(len(x))} but {yk} has {len(y)}; they must match"
            )
        xs.append(x)
        ys.append(y)
        kinds.append(_target_kind(y, yk, name))
    if len(parts) == 2:
        (x_tr, x_te), (y_tr, y_te) = xs, ys
        if x_tr.shape[1] != x_te.shape[1]:
            raise MdlkitError(
                f"{name}: x_train has {x_tr.shape[1]} features per row but x_test has "
                f"{x_te.shape[1]}; they must match"
            )
        if y_tr.shape[1:] != y_te.shape[1:]:
            raise MdlkitError(
                f"{name}: y_train has shape {y_tr.shape} but y_test {y_te.shape}; "
                "their columns must match"
            )
        if ("text" in kinds) != (kinds[0] == kinds[1] == "text"):
            raise MdlkitError(f"{name}: y_train and y_test must both be text or both numbers")
    y = np.concatenate(ys) if len(ys) == 2 else ys[0]
    kind: _Kind = "float" if "float" in kinds else kinds[0]
    return _Table(
        np.concatenate(xs) if len(xs) == 2 else xs[0],
        y,
        kind,
        tuple(f"x{j}" for j in range(xs[0].shape[1])),
        _npz_target_names(y),
        n_test=len(xs[1]) if len(xs) == 2 else 0,
    )


# --------------------------------------------------------------------------- csv / parquet


def _pandas() -> Any:
    import pandas as pd  # imported on first use: it takes a while and built-in data needs none

    return pd


def _require_pyarrow(name: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MdlkitError(f"reading {name} needs pyarrow; pip install 'mdlkit[parquet]'") from None


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as f:
        return b"\x00" in f.read(65536)


def _read_frame(
    path: Path,
    suffix: str,
    name: str,
    *,
    header_only: bool = False,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The file's table (only its column names with ``header_only``, only ``columns`` if
    given), any failure of the reader being a one-line :class:`MdlkitError`."""
    pd = _pandas()
    if suffix == ".parquet":
        _require_pyarrow(name)
        try:
            if header_only:
                import pyarrow.parquet as pq

                schema = pq.read_schema(path)
                return pd.DataFrame(
                    columns=[c for c in schema.names if not c.startswith("__index_level_")]
                )
            return pd.read_parquet(path, engine="pyarrow", columns=columns)
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise MdlkitError(f"{name} is not a valid parquet file ({_one_line(exc)})") from None
    if _looks_binary(path):
        raise MdlkitError(f"{name} is not a valid CSV file (it holds binary data)")
    try:
        return pd.read_csv(
            path, nrows=0 if header_only else None, usecols=columns, low_memory=False
        )
    except pd.errors.EmptyDataError:
        raise MdlkitError(f"{name} is empty (no header line)") from None
    except UnicodeDecodeError:
        raise MdlkitError(f"{name} is not a valid CSV file (it is not UTF-8 text)") from None
    except Exception as exc:
        raise MdlkitError(f"{name} is not a valid CSV file ({_one_line(exc)})") from None


def _columns(frame: pd.DataFrame, name: str, target: str | None) -> list[str]:
    """The frame's column names (as str), checked to be unique and to include ``target``."""
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise MdlkitError(f"{name} has duplicate column names {_names(duplicates)}; rename them")
    if target is None:
        raise MdlkitError(
            f"{name}: which column is the target? pass --target COLUMN; "
            f"its columns are {_names(columns) or '(none)'}"
        )
    if target not in columns:
        raise MdlkitError(
            f"{name} has no column {target!r}; its columns are {_names(columns) or '(none)'}"
        )
    return columns


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _first_row(mask: np.ndarray) -> int:
    """The 1-based data row (header not counted) of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0]) + 1


def _frame_features(frame: pd.DataFrame, columns: Sequence[str], name: str) -> np.ndarray:
    pd = _pandas()
    types = pd.api.types
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        s = frame[col]
        missing = s.isna().to_numpy(dtype=bool)
        if missing.any():
            raise MdlkitError(
                f"{name}: feature column {col!r} has missing values in {_rows(int(missing.sum()))} "
                f"(first at row {_first_row(missing)}); fill or drop them"
            )
        numeric = types.is_bool_dtype(s) or (
            types.is_numeric_dtype(s) and not types.is_complex_dtype(s)
        )
        if not numeric:
            coerced = pd.to_numeric(s, errors="coerce") if not types.is_bool_dtype(s) else s
            bad = coerced.isna().to_numpy(dtype=bool)
            example = f" (e.g. {_one_line(s[bad].iloc[0], 30)!r})" if bad.any() else ""
            raise MdlkitError(
                f"{name}: feature column {col!r} holds text{example}, not numbers; "
                "encode it as numbers or drop it"
            )
        values = s.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            raise MdlkitError(
                f"{name}: feature column {col!r} has infinite values "
                f"(first at row {_first_row(~finite)}); fill or drop them"
            )
        out[:, j] = values
    return out


def _frame_target(frame: pd.DataFrame, target: str, name: str) -> tuple[np.ndarray, _Kind]:
    types = _pandas().api.types
    s = frame[target]
    missing = s.isna().to_numpy(dtype=bool)
    if missing.any():
        raise MdlkitError(
            f"{name}: target column {target!r} has missing values in {_rows(int(missing.sum()))} "
            f"(first at row {_first_row(missing)}); drop those rows"
        )
    if isinstance(s.dtype, _pandas().CategoricalDtype):
        return np.array([str(v) for v in s], dtype=str), "text"
    if types.is_bool_dtype(s):
        return s.to_numpy(dtype=bool), "bool"
    if types.is_integer_dtype(s):
        return s.to_numpy(dtype=np.int64), "integer"
    if types.is_float_dtype(s):
        return s.to_numpy(dtype=np.float64), "float"
    return np.array([str(v) for v in s], dtype=str), "text"


def _frame_table(path: Path, suffix: str, name: str, target: str | None) -> _Table:
    frame = _read_frame(path, suffix, name)
    columns = _columns(frame, name, target)
    assert target is not None  # _columns refused None
    if len(frame) == 0:
        raise MdlkitError(f"{name} has no rows")
    features = [c for c in columns if c != target]
    if not features:
        raise MdlkitError(f"{name} has only the target column {target!r}; add feature columns")
    y, kind = _frame_target(frame, target, name)
    return _Table(_frame_features(frame, features, name), y, kind, tuple(features), (target,))


# --------------------------------------------------------------------------- sklearn


def _sklearn_table(key: str) -> _Table:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{key}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    names = bunch.get("target_names")
    multi = y.ndim == 2
    return _Table(
        x,
        y,
        _target_kind(y, "target", SKLEARN_PREFIX + key),
        tuple(str(f) for f in bunch.feature_names),
        tuple(str(t) for t in names) if multi else ("target",),
        label_names=None if multi or names is None else tuple(str(t) for t in names),
    )


# --------------------------------------------------------------------------- task and splits


def _read(name: str, target: str | None) -> _Table:
    if name.startswith(SKLEARN_PREFIX):
        _no_target(name, target)
        return _sklearn_table(_sklearn_key(name))
    path, suffix = _file(name)
    if suffix == ".npz":
        _no_target(name, target)
        return _npz_table(path, name)
    return _frame_table(path, suffix, name, target)


def _resolve_task(
    kind: _Kind, outputs: int, task: str, name: str, target: str
) -> Literal["classification", "regression"]:
    _check_task(task)
    if kind == "text" and outputs > 1:
        raise MdlkitError(
            f"{name}: target has {outputs} columns of text labels; give one label per row"
        )
    if task == "auto":
        return "classification" if kind != "float" and outputs == 1 else "regression"
    if task == "regression" and kind == "text":
        raise MdlkitError(
            f"{name}: target {target!r} holds text labels, which cannot be regressed; "
            "use --task classification"
        )
    if task == "classification" and outputs > 1:
        raise MdlkitError(
            f"{name}: target has {outputs} columns; classification needs one label per row "
            "(use --task regression)"
        )
    return "classification" if task == "classification" else "regression"


def _task_of(table: _Table, task: str, name: str) -> Literal["classification", "regression"]:
    outputs = 1 if table.y.ndim == 1 else table.y.shape[1]
    return _resolve_task(table.kind, outputs, task, name, ", ".join(table.target_names))


def _subset(
    train: np.ndarray, labels: np.ndarray | None, n_train: int | None, seed: int, name: str
) -> np.ndarray:
    if n_train is None or n_train == len(train):
        return train
    if not 1 <= n_train <= len(train):
        raise MdlkitError(
            f"n_train must lie in [1, {len(train)}] (the training rows of {name}), got {n_train}"
        )
    if labels is None:
        return train[:n_train]
    try:
        keep, _ = train_test_split(
            train, train_size=n_train, stratify=labels[train], random_state=seed + 2
        )
    except ValueError as exc:
        raise MdlkitError(
            f"cannot draw {n_train} training rows of {name} with every class kept "
            f"({_one_line(exc)})"
        ) from None
    return np.asarray(keep)


def _classes(table: _Table, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels 0..K-1 in ``np.unique`` order and the class names."""
    values, labels = np.unique(table.y.reshape(len(table.y)), return_inverse=True)
    if table.label_names is not None and table.kind == "integer":
        class_names = tuple(table.label_names[int(v)] for v in values)
    else:
        class_names = tuple(
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for v in values.tolist()
        )
    target = ", ".join(table.target_names)
    if len(values) < 2:
        raise MdlkitError(
            f"{name}: target {target!r} has a single class ({class_names[0]!r}); "
            "classification needs at least two"
        )
    return labels.reshape(-1).astype(np.int64), class_names


def _check_class_rows(
    labels: np.ndarray, class_names: Sequence[str], minimum: int, name: str, kind: _Kind, where: str
) -> None:
    """Every class present in ``labels`` needs ``minimum`` rows to be stratified."""
    counts = np.bincount(labels, minlength=len(class_names))
    counts = np.where(counts > 0, counts, np.iinfo(np.int64).max)
    k = int(np.argmin(counts))
    if counts[k] < minimum:
        hint = "; if the target is a quantity, use --task regression" if kind != "text" else ""
        raise MdlkitError(
            f"{name}: class {class_names[k]!r} has only {_rows(int(counts[k]))}{where}; every "
            f"class needs at least {minimum} for a stratified split: add rows or drop it{hint}"
        )


def _classification_indices(
    table: _Table,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    fractions: tuple[float, float],
    seed: int,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    val_fraction, test_fraction = fractions
    n, k = len(labels), len(class_names)
    n_dev = n - table.n_test
    try:
        if table.n_test:
            _check_class_rows(labels[:n_dev], class_names, 2, name, table.kind, " in y_train")
            train, val = train_test_split(
                np.arange(n_dev),
                test_size=val_fraction,
                stratify=labels[:n_dev],
                random_state=seed,
            )
            return np.asarray(train), np.asarray(val), np.arange(n_dev, n)
        _check_class_rows(labels, class_names, _MIN_CLASS_ROWS, name, table.kind, "")
        return stratified_indices(
            labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
        )
    except ValueError as exc:
        if isinstance(exc, MdlkitError):
            raise
        rows = f"{n_dev} training rows" if table.n_test else f"{n} rows"
        raise MdlkitError(
            f"{name}: too few rows for a stratified split: {rows} of {k} classes; the "
            f"validation{'' if table.n_test else ' and test'} split needs a row of every class "
            f"({_one_line(exc, 80)})"
        ) from None


def _regression_indices(
    table: _Table, *, fractions: tuple[float, float], seed: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    val_fraction, test_fraction = fractions
    n = len(table.y)
    n_dev = n - table.n_test
    rng = np.random.default_rng(seed)
    if table.n_test:
        if n_dev < 2:
            raise MdlkitError(
                f"{name}: x_train has {n_dev} row; training and validation need at least 2"
            )
        perm = rng.permutation(n_dev)
        n_val = min(max(1, round(val_fraction * n_dev)), n_dev - 1)
        return perm[n_val:], perm[:n_val], np.arange(n_dev, n)
    if n < 3:
        raise MdlkitError(f"{name} has {_rows(n)}; a train/validation/test split needs at least 3")
    perm = rng.permutation(n)
    n_test = min(max(1, round(test_fraction * n)), n - 2)
    n_val = min(max(1, round(val_fraction * n)), n - n_test - 1)
    return perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]


def _splits(
    name: str,
    table: _Table,
    *,
    task: str,
    seed: int,
    n_train: int | None,
    fractions: tuple[float, float],
) -> Splits:
    val_fraction, test_fraction = fractions
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise MdlkitError("val_fraction and test_fraction must be in (0, 1) and sum to less than 1")
    resolved = _task_of(table, task, name)
    if resolved == "classification":
        labels, class_names = _classes(table, name)
        train, val, test = _classification_indices(
            table, labels, class_names, fractions=fractions, seed=seed, name=name
        )
        train = _subset(train, labels, n_train, seed, name)
        scaling = Scaling.fit(
            table.x[train],
            feature_names=table.feature_names,
            target_names=table.target_names,
            class_names=class_names,
        )

        def part(rows: np.ndarray) -> Split:
            x = torch.from_numpy(scaling.scale_x(table.x[rows]))
            return Split(x, torch.from_numpy(labels[rows]))

        return Splits(name, part(train), part(val), part(test), len(class_names), scaling=scaling)

    y = table.y.reshape(len(table.y), -1).astype(np.float64)
    bad = np.asarray(~np.isfinite(y).all(axis=1))
    if bad.any():
        raise MdlkitError(
            f"{name}: target {', '.join(table.target_names)!r} has NaN or infinite values in "
            f"{_rows(int(bad.sum()))} (first at row {_first_row(bad)}); drop those rows"
        )
    train, val, test = _regression_indices(table, fractions=fractions, seed=seed, name=name)
    train = _subset(train, None, n_train, seed, name)
    scaling = Scaling.fit(
        table.x[train],
        y[train],
        feature_names=table.feature_names,
        target_names=table.target_names,
    )

    def reg_part(rows: np.ndarray) -> Split:
        x = torch.from_numpy(scaling.scale_x(table.x[rows]))
        return Split(x, torch.from_numpy(scaling.scale_y(y[rows])))

    return Splits(name, reg_part(train), reg_part(val), reg_part(test), None, scaling=scaling)


# --------------------------------------------------------------------------- public


def check_tabular(name: str, *, target: str | None = None, task: str = "auto") -> None:
    """Raise :class:`MdlkitError` if ``name`` cannot be a tabular source, reading no more than
    a file's header (an npz's list of arrays, a CSV's first line, a parquet schema)."""
    _check_task(task)
    if name.startswith(SKLEARN_PREFIX):
        _sklearn_key(name)
        _no_target(name, target)
        return
    path, suffix = _file(name)
    if suffix == ".npz":
        _no_target(name, target)
        with _open_npz(path, name) as loaded:
            _npz_layout(loaded.files, name)
        return
    _columns(_read_frame(path, suffix, name, header_only=True), name, target)


def tabular_task(
    name: str, *, target: str | None = None, task: str = "auto"
) -> Literal["classification", "regression"]:
    """Classification or regression, as :func:`load_tabular` would decide, reading only the
    target (an npz's ``y`` arrays, one column of a table).

    >>> tabular_task("sklearn:wine"), tabular_task("sklearn:wine", task="regression")
    ('classification', 'regression')
    """
    _check_task(task)
    if name.startswith(SKLEARN_PREFIX):
        _no_target(name, target)
        key = _sklearn_key(name)
        if task != "auto":
            return "classification" if task == "classification" else "regression"
        return "regression" if key in ("diabetes", "linnerud") else "classification"
    path, suffix = _file(name)
    if suffix == ".npz":
        _no_target(name, target)
        arrays = _npz_arrays(path, name, keys=("y", "y_train", "y_test"))
        ys = [_npz_target(arrays[k], k, name) for k in arrays]
        kinds = [_target_kind(y, k, name) for y, k in zip(ys, arrays, strict=True)]
        kind: _Kind = "float" if "float" in kinds else kinds[0]
        outputs = 1 if ys[0].ndim == 1 else ys[0].shape[1]
        return _resolve_task(kind, outputs, task, name, "y")
    _columns(_read_frame(path, suffix, name, header_only=True), name, target)
    assert target is not None  # _columns refused None
    frame = _read_frame(path, suffix, name, columns=[target])
    _columns(frame, name, target)
    _, kind = _frame_target(frame, target, name)
    return _resolve_task(kind, 1, task, name, target)


def load_tabular(
    name: str,
    *,
    target: str | None = None,
    task: str = "auto",
    seed: int = 0,
    n_train: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Splits:
    """Read a tabular source, split it reproducibly by ``seed`` and standardize it.

    ``target`` is the target column of a CSV or parquet file; ``task`` overrides the detected
    task; ``n_train`` keeps a (stratified, for classification) subset of the training split.
    Scaling is fitted on the final training split only. For the npz ``x_train``/``x_test``
    layout the test split is the file's test arrays, in order, and ``val_fraction`` of the
    training arrays form the validation split.
    """
    _check_task(task)
    table = _read(name, target)
    return _splits(
        name, table, task=task, seed=seed, n_train=n_train, fractions=(val_fraction, test_fraction)
    )
