"""Reading ``.csv`` and ``.parquet`` files (by pandas; parquet needs pyarrow): one row per
sample, numeric feature columns and a target column named by ``target``, as a
:class:`~mdlkit.data.table.Table`.

Every problem with a file is a one-line :class:`MdlkitError` naming the file and the column;
the readers' exceptions never pass through. pandas (and pyarrow) is imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mdlkit.data.messages import first_row, names, one_line, refuse_rows
from mdlkit.data.table import Table, TargetKind
from mdlkit.errors import MdlkitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_frame", "frame_rows", "frame_table", "frame_target"]


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
        raise MdlkitError(f"{name} has duplicate column names {names(duplicates)}; rename them")
    if target is None:
        raise MdlkitError(
            f"{name}: which column is the target? pass --target COLUMN; "
            f"its columns are {names(columns) or '(none)'}"
        )
    if target not in columns:
        raise MdlkitError(
            f"{name} has no column {target!r}; its columns are {names(columns) or '(none)'}"
        )
    return columns


def _features(frame: pd.DataFrame, columns: Sequence[str], name: str) -> np.ndarray:
    pd = _pandas()
    types = pd.api.types
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        s = frame[col]
        refuse_rows(
            s.isna().to_numpy(dtype=bool),
            f"{name}: feature column {col!r} has missing values",
            "fill or drop them",
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


def _target(frame: pd.DataFrame, target: str, name: str) -> tuple[np.ndarray, TargetKind]:
    types = _pandas().api.types
    s = frame[target]
    refuse_rows(
        s.isna().to_numpy(dtype=bool),
        f"{name}: target column {target!r} has missing values",
        "drop those rows",
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


def frame_table(path: Path, suffix: str, name: str, target: str | None) -> Table:
    """The whole file as a :class:`Table`: every column but ``target`` is a feature."""
    frame = _read_frame(path, suffix, name)
    columns = _columns(frame, name, target)
    assert target is not None  # _columns refused None
    if len(frame) == 0:
        raise MdlkitError(f"{name} has no rows")
    features = [c for c in columns if c != target]
    if not features:
        raise MdlkitError(f"{name} has only the target column {target!r}; add feature columns")
    y, kind = _target(frame, target, name)
    return Table(_features(frame, features, name), y, kind, tuple(features), (target,))


def check_frame(path: Path, suffix: str, name: str, target: str | None) -> None:
    """Refuse a file whose header (a CSV's first line, a parquet schema) cannot be read, has
    duplicate names or lacks the column ``target``."""
    _columns(_read_frame(path, suffix, name, header_only=True), name, target)


def frame_target(path: Path, suffix: str, name: str, target: str | None) -> TargetKind:
    """The kind of the file's target values, reading the header and then only that column."""
    check_frame(path, suffix, name, target)
    assert target is not None  # check_frame refused None
    frame = _read_frame(path, suffix, name, columns=[target])
    _columns(frame, name, target)
    return _target(frame, target, name)[1]


def frame_rows(
    path: Path, suffix: str, name: str, features: Sequence[str], target: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """New rows for a fitted model: the columns ``features`` (by name, in that order, with
    fit's checks) as float64 (n, d), and the ``target`` column's raw values if the file has
    it (else None). Other columns are ignored; a missing feature column is an error."""
    frame = _read_frame(path, suffix, name)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise MdlkitError(f"{name} has duplicate column names {names(duplicates)}; rename them")
    missing = [c for c in features if c not in columns]
    if missing:
        raise MdlkitError(
            f"{name} lacks the feature columns {names(missing)} the model was fitted on; "
            f"its columns are {names(columns) or '(none)'}"
        )
    if len(frame) == 0:
        raise MdlkitError(f"{name} has no rows")
    y = _target(frame, target, name)[0] if target is not None and target in columns else None
    return _features(frame, features, name), y
