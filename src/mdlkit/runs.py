"""Run folders: every recipe writes to a NEW folder and never overwrites one.

A run folder holds ``config.json`` (the resolved configuration, the seed and the code version),
``results.json`` and whatever files the recipe makes (encoded models, plots).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from mdlkit.errors import MdlkitError

__all__ = ["check_new_dir", "default_run_dir", "environment", "make_run_dir", "write_json"]


def check_new_dir(path: str | Path) -> Path:
    """Refuse a folder that exists already (so nothing is overwritten); return it as a Path."""
    path = Path(path)
    if path.exists():
        raise MdlkitError(
            f"output folder {path} exists already; choose a new --out (nothing is overwritten)"
        )
    return path


def default_run_dir(kind: str, root: str | Path = "runs") -> Path:
    """``runs/<kind>-<YYYYmmdd-HHMMSS>``, with a numeric suffix if that name is taken."""
    base = Path(root) / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, i = base, 1
    while candidate.exists():
        candidate, i = base.with_name(f"{base.name}-{i}"), i + 1
    return candidate


def make_run_dir(path: str | Path) -> Path:
    """Create the folder (its parents as needed); fails if it appeared in the meantime."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
    except FileExistsError:
        raise MdlkitError(f"output folder {path} exists already; choose a new --out") from None
    return path


def environment() -> dict[str, Any]:
    """What produced a run: versions and thread count (floats depend on them)."""
    from mdlkit import __version__

    return {
        "mdlkit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON to a new file (``x`` mode: an existing file is an error, not overwritten)."""
    path = Path(path)
    with path.open("x") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
    return path
