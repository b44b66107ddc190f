"""Reading ``.npz`` files: arrays ``x`` and ``y``, or ``x_train``, ``y_train``, ``x_test`` and
``y_test`` (the test arrays stay the test split), as a :class:`~mdlkit.data.table.Table`.

Never unpickled (``allow_pickle=False``); every problem with a file is a one-line
:class:`MdlkitError` naming the file and the array.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from mdlkit.data.messages import n_rows, names, one_line
from mdlkit.data.table import Table, TargetKind, target_kind
from mdlkit.errors import MdlkitError

__all__ = ["check_npz", "npz_rows", "npz_table", "npz_target"]

_NPZ_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


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
        f"{name} has arrays {names(list(files)) or '(none)'}; "
        "expected x and y, or x_train, y_train, x_test and y_test"
    )


def _npz_arrays(path: Path, name: str, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The layout's arrays (or only ``keys`` of it) read from the file."""
    with _open_npz(path, name) as loaded:
        layout = _npz_layout(loaded.files, name)
        return _read_arrays(
            loaded, layout if keys is None else [k for k in layout if k in keys], name
        )


def _read_arrays(loaded: Any, keys: Sequence[str], name: str) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an open ``NpzFile``, never unpickled."""
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
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


def _targets(y: np.ndarray, key: str, name: str) -> np.ndarray:
    if y.ndim not in (1, 2) or y.size == 0:
        raise MdlkitError(
            f"{name}: array {key!r} has shape {y.shape}; targets must have shape (n,) or "
            "(n, outputs) with n, outputs >= 1"
        )
    return y


def _features(x: np.ndarray, key: str, name: str) -> np.ndarray:
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


def _target_names(y: np.ndarray) -> tuple[str, ...]:
    return ("y",) if y.ndim == 1 or y.shape[1] == 1 else tuple(f"y{j}" for j in range(y.shape[1]))


def npz_table(path: Path, name: str) -> Table:
    """The whole file as a :class:`Table` (``x`` flattened to (n, d) float64)."""
    arrays = _npz_arrays(path, name)
    parts = [("x", "y")] if "x" in arrays else [("x_train", "y_train"), ("x_test", "y_test")]
    xs, ys, kinds = [], [], []
    for xk, yk in parts:
        x = _features(arrays[xk], xk, name)
        y = _targets(arrays[yk], yk, name)
        if len(x) != len(y):
            raise MdlkitError(
                f"{name}: {xk} has {n_rows(len(x))} but {yk} has {len(y)}; they must match"
            )
        xs.append(x)
        ys.append(y)
        kinds.append(target_kind(y, yk, name))
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
        _target_names(y),
        n_test=len(xs[1]) if len(xs) == 2 else 0,
    )


def check_npz(path: Path, name: str) -> None:
    """Refuse a file that is not an npz archive of one of the two layouts, reading only its
    list of arrays."""
    with _open_npz(path, name) as loaded:
        _npz_layout(loaded.files, name)


def npz_target(path: Path, name: str) -> tuple[TargetKind, int]:
    """The kind of the file's targets and their number of outputs, reading only the ``y``
    arrays."""
    arrays = _npz_arrays(path, name, keys=("y", "y_train", "y_test"))
    ys = [_targets(arrays[k], k, name) for k in arrays]
    kinds = [target_kind(y, k, name) for y, k in zip(ys, arrays, strict=True)]
    return ("float" if "float" in kinds else kinds[0]), 1 if ys[0].ndim == 1 else ys[0].shape[1]


def npz_rows(path: Path, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """New rows for a fitted model: ``x`` flattened to float64 (n, d) with fit's checks, and
    ``y`` if the file has it (else None); a file of the split layout gives ``x_test`` and
    ``y_test``."""
    with _open_npz(path, name) as loaded:
        files = list(loaded.files)
        xk, yk = ("x", "y") if "x" in files else ("x_test", "y_test")
        if xk not in files:
            raise MdlkitError(
                f"{name} has arrays {names(files) or '(none)'}; expected x (and optionally y)"
            )
        arrays = _read_arrays(loaded, [k for k in (xk, yk) if k in files], name)
    x = _features(arrays[xk], xk, name)
    if yk not in arrays:
        return x, None
    y = _targets(arrays[yk], yk, name)
    if len(y) != len(x):
        raise MdlkitError(
            f"{name}: {xk} has {n_rows(len(x))} but {yk} has {len(y)}; they must match"
        )
    return x, y
