"""Reading a user's table into memory: scikit-learn's bundled tables and ``.npz``, ``.csv`` and
``.parquet`` files, as a :class:`Table` of finite float64 features and raw targets.

Every problem with a source (a missing or damaged file, a wrong layout, NaN or text where numbers
belong) is a one-line :class:`MdlkitError` naming the file and the array or column; library
exceptions never pass through. The files of each kind are read by :mod:`mdlkit.data.npz_files`
and :mod:`mdlkit.data.csv_parquet_files`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mdlkit.data.csv_parquet_files import check_frame, frame_table, frame_target
from mdlkit.data.npz_files import check_npz, npz_table, npz_target
from mdlkit.data.table import Table, TargetKind, target_kind
from mdlkit.errors import MdlkitError

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
    "source_file",
]

SKLEARN_PREFIX = "sklearn:"
# scikit-learn's bundled tables (no download); diabetes and linnerud (3 outputs) are regression.
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes", "linnerud")
FILE_SUFFIXES = (".npz", ".csv", ".parquet")


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


def source_file(name: str) -> tuple[Path, str]:
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
        target_kind(y, "target", SKLEARN_PREFIX + key),
        tuple(str(f) for f in bunch.feature_names),
        tuple(str(t) for t in names) if multi else ("target",),
        label_names=None if multi or names is None else tuple(str(t) for t in names),
    )


def read_table(name: str, target: str | None) -> Table:
    if name.startswith(SKLEARN_PREFIX):
        _no_target(name, target)
        return _sklearn_table(_sklearn_key(name))
    path, suffix = source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        return npz_table(path, name)
    return frame_table(path, suffix, name, target)


def check_source(name: str, *, target: str | None = None) -> None:
    """Raise :class:`MdlkitError` unless ``name`` is a known scikit-learn table or an existing
    file that :func:`read_table` may read, reading no more than its header (an npz's list of
    arrays, a CSV's first line, a parquet schema); ``target`` must be one of its columns."""
    if name.startswith(SKLEARN_PREFIX):
        _sklearn_key(name)
        _no_target(name, target)
        return
    path, suffix = source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        check_npz(path, name)
        return
    check_frame(path, suffix, name, target)


def read_target(name: str, *, target: str | None = None) -> tuple[TargetKind, int]:
    """The kind of a source's target values and its number of outputs, reading only the target
    (an npz's ``y`` arrays, one column of a CSV or parquet file)."""
    if name.startswith(SKLEARN_PREFIX):
        table = read_table(name, target)  # the bundled tables are small
        return table.kind, table.outputs
    path, suffix = source_file(name)
    if suffix == ".npz":
        _no_target(name, target)
        return npz_target(path, name)
    return frame_target(path, suffix, name, target), 1
