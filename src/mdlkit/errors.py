"""The one exception type users see: a problem with their input, said in one line."""

from __future__ import annotations

__all__ = ["MdlkitError"]


class MdlkitError(ValueError):
    """Bad input or an impossible request. The message names the problem and what to do.

    The CLI prints it as a single line and exits with code 2.
    """
