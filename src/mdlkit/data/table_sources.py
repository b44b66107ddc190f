"""Reading a user's table into memory: scikit-learn's bundled tables and ``.npz``, ``.csv`` and
``.parquet`` files, as a :class:`Table` of finite float64 features and raw targets.

Every problem with a source (a missing or damaged file, a wrong layout, NaN or text where numbers
belong) is a one-line :class:`MdlkitError` naming the file and the array or column; library
exceptions never pass through. ``.npz`` files are never unpickled (``allow_pickle=False``).
pandas (and pyarrow, for parquet) is imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mdlkit.errors import MdlkitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FILE_SUFFIXES",
    "SKLEARN_DATASETS",
    "SKLEARN_PREFIX",
    "Table",
    "TargetKind",
    "check_source",
    "is_tabular",
    "read_table",
    "read_target",
]

SKLEARN_PREFIX = "sklearn:"
# scikit-learn's bundled tables (no download); diabetes and linnerud (3 outputs) are regression.
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes", "linnerud")
FILE_SUFFIXES = (".npz", ".csv", ".parquet")
_NPZ_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")
# What a target's values are: text (also categorical), bool, integer or float numbers.
TargetKind = Literal["text", "bool", "integer", "float"]


def one_line(text: object, limit: int = 120) -> str:
    """A library's message or a value, cut to one short line."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _names(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(one_line(n, 40)) for n in names[:limit])
    return shown + (f" … ({len(names) - limit} more)" if len(names) > limit else "")


def n_rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def first_row(mask: np.ndarray) -> int:
    """The 1-based data row (header not counted) of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0]) + 1


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


def _source_file(name: str) -> tuple[Path, str]:
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


def _no_target(name: str, target: str | None) -> None:
    if target is not None:
        raise MdlkitError(
            f"{name}: --target applies only to .csv and .parquet files; leave it out here"
        )


@dataclass(frozen=True)
class Table:
    """A source read into memory: features, raw targets and their names.

    When ``n_test`` > 0 the last ``n_test`` rows are the source's own test split.
    """

    x: np.ndarray  # (n, d) float64, finite
    y: np.ndarray  # (n,) or (n, outputs)
    kind: TargetKind
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    label_names: tuple[str, ...] | None = None  # names of integer labels 0, 1, ... (sklearn)
    n_test: int = 0

    @property
    def outputs(self) -> int:
        """Target values per row (1 for class labels)."""
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])


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
            raise MdlkitError(f"{name} is not a valid npz file ({one_line(exc)})") from None
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
                raise MdlkitError(f"{name} is not a valid npz file ({one_line(exc)})") from None
            except Exception as exc:
                raise MdlkitError(f"{name} is not a valid npz file ({one_line(exc)})") from None
    return arrays


def _target_kind(y: np.ndarray, key: str, name: str) -> TargetKind:
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
    if y.ndim not in (1, 2) or y.size == 0:
        raise MdlkitError(
            f"{name}: array {key!r} has shape {y.shape}; targets must have shape (n,) or "
            "(n, outputs) with n, outputs >= 1"
        )
    return y


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
            f"(first at row {int(rows[0]) + 1}); fill or drop them"
        )
    return flat


def _npz_target_names(y: np.ndarray) -> tuple[str, ...]:
    return ("y",) if y.ndim == 1 or y.shape[1] == 1 else tuple(f"y{j}" for j in range(y.shape[1]))


def _npz_table(path: Path, name: str) -> Table:
    arrays = _npz_arrays(path, name)
    parts = [("x", "y")] if "x" in arrays else [("x_train", "y_train"), ("x_test", "y_test")]
    xs, ys, kinds = [], [], []
    for xk, yk in parts:
        x = _npz_features(arrays[xk], xk, name)
        y = _npz_target(arrays[yk], yk, name)
        if len(x) != len(y):
            raise MdlkitError(
                f"{name}: {xk} has {n_rows(len(x))} but {yk} has {len(y)}; they must match"
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
    kind: TargetKind = "float" if "float" in kinds else kinds[0]
    return Table(
        np.concatenate(xs) if len(xs) == 2 else xs[0],
        y,
        kind,
        tuple(f"x{j}" for j in range(xs[0].shape[1])),
        _npz_target_names(y),
        n_test=len(xs[1]) if len(xs) == 2 else 0,
    )


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
            raise MdlkitError(f"{name} is not a valid parquet file ({one_line(exc)})") from None
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
        raise MdlkitError(f"{name} is not a valid CSV file ({one_line(exc)})") from None


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


def _frame_features(frame: pd.DataFrame, columns: Sequence[str], name: str) -> np.ndarray:
    pd = _pandas()
    types = pd.api.types
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        s = frame[col]
        missing = s.isna().to_numpy(dtype=bool)
        if missing.any():
            raise MdlkitError(
                f"{name}: feature column {col!r} has missing values in "
                f"{n_rows(int(missing.sum()))} (first at row {first_row(missing)}); "
                "fill or drop them"
            )
        if not types.is_numeric_dtype(s) or types.is_complex_dtype(s):
            what = f"values of type {s.dtype}"
            if types.is_string_dtype(s) or types.is_object_dtype(s):
                numbers = pd.to_numeric(s.astype(str), errors="coerce").isna().to_numpy(bool)
                example = f" (e.g. {one_line(s[numbers].iloc[0], 30)!r})" if numbers.any() else ""
                what = f"text{example}"
            raise MdlkitError(
                f"{name}: feature column {col!r} holds {what}, not numbers; "
                "encode it as numbers or drop it"
            )
        values = s.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            raise MdlkitError(
                f"{name}: feature column {col!r} has infinite values "
                f"(first at row {first_row(~finite)}); fill or drop them"
            )
        out[:, j] = values
    return out


def _frame_target(frame: pd.DataFrame, target: str, name: str) -> tuple[np.ndarray, TargetKind]:
    types = _pandas().api.types
    s = frame[target]
    missing = s.isna().to_numpy(dtype=bool)
    if missing.any():
        raise MdlkitError(
            f"{name}: target column {target!r} has missing values in {n_rows(int(missing.sum()))} "
            f"(first at row {first_row(missing)}); drop those rows"
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


def _frame_table(path: Path, suffix: str, name: str, target: str | None) -> Table:
    frame = _read_frame(path, suffix, name)
    columns = _columns(frame, name, target)
    assert target is not None  # _columns refused None
    if len(frame) == 0:
        raise MdlkitError(f"{name} has no rows")
    features = [c for c in columns if c != target]
    if not features:
        raise MdlkitError(f"{name} has only the target column {target!r}; add feature columns")
    y, kind = _frame_target(frame, target, name)
    return Table(_frame_features(frame, features, name), y, kind, tuple(features), (target,))


def _sklearn_table(key: str) -> Table:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{key}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    names = bunch.get("target_names")
    multi = y.ndim == 2
    return Table(
        x,
        y,
        _target_kind(y, "target", SKLEARN_PREFIX + key),
        tuple(str(f) for f in bunch.feature_names),
        tuple(str(t) for t in names) if multi else ("target",),
        label_names=None if multi or names is None else tuple(str(t) for t in names),
    )


def read_table(name: str, target: str | None) -> Table:
    if name.startswith(SKLEARN_PREFIX):
        _no_target(name, target)
        return _sklearn_table(_sklearn_key(name))
    path, suffix = _source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        return _npz_table(path, name)
    return _frame_table(path, suffix, name, target)


def check_source(name: str, *, target: str | None = None) -> None:
    """Raise :class:`MdlkitError` unless ``name`` is a known scikit-learn table or an existing
    file that :func:`read_table` may read, reading no more than its header (an npz's list of
    arrays, a CSV's first line, a parquet schema); ``target`` must be one of its columns."""
    if name.startswith(SKLEARN_PREFIX):
        _sklearn_key(name)
        _no_target(name, target)
        return
    path, suffix = _source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        with _open_npz(path, name) as loaded:
            _npz_layout(loaded.files, name)
        return
    _columns(_read_frame(path, suffix, name, header_only=True), name, target)


def read_target(name: str, *, target: str | None = None) -> tuple[TargetKind, int]:
    """The kind of a source's target values and its number of outputs, reading only the target
    (an npz's ``y`` arrays, one column of a CSV or parquet file)."""
    if name.startswith(SKLEARN_PREFIX):
        table = read_table(name, target)  # the bundled tables are small
        return table.kind, table.outputs
    path, suffix = _source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        arrays = _npz_arrays(path, name, keys=("y", "y_train", "y_test"))
        ys = [_npz_target(arrays[k], k, name) for k in arrays]
        kinds = [_target_kind(y, k, name) for y, k in zip(ys, arrays, strict=True)]
        return ("float" if "float" in kinds else kinds[0]), 1 if ys[0].ndim == 1 else ys[0].shape[1]
    check_source(name, target=target)
    assert target is not None  # check_source refused None
    frame = _read_frame(path, suffix, name, columns=[target])
    _columns(frame, name, target)
    return _frame_target(frame, target, name)[1], 1
