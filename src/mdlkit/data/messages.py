"""Pieces of the one-line :class:`~mdlkit.errors.MdlkitError` messages about a user's table:
a library's message cut short, lists of names, row counts and the first bad row.

>>> one_line("a  long\\nmessage", limit=10), n_rows(1), n_rows(3)
('a long me…', '1 row', '3 rows')
>>> first_row(np.array([False, False, True, True]))
3
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mdlkit.errors import MdlkitError

__all__ = ["first_row", "n_rows", "names", "one_line", "refuse_rows"]


def one_line(text: object, limit: int = 120) -> str:
    """A library's message or a value, cut to one short line."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def names(items: Sequence[str], limit: int = 20) -> str:
    """Up to ``limit`` names, quoted and comma-separated, and how many more there are."""
    shown = ", ".join(repr(one_line(n, 40)) for n in items[:limit])
    return shown + (f" … ({len(items) - limit} more)" if len(items) > limit else "")


def n_rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def first_row(mask: np.ndarray) -> int:
    """The 1-based data row (header not counted) of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0]) + 1


def refuse_rows(bad: np.ndarray, problem: str, advice: str) -> None:
    """Raise ``"{problem} in N rows (first at row R); {advice}"`` if any of ``bad`` is True.

    >>> refuse_rows(np.array([False, True]), "t.csv: a has missing values", "fill them")
    Traceback (most recent call last):
    ...
    mdlkit.errors.MdlkitError: t.csv: a has missing values in 1 row (first at row 2); fill them
    """
    if bad.any():
        raise MdlkitError(
            f"{problem} in {n_rows(int(bad.sum()))} (first at row {first_row(bad)}); {advice}"
        )
