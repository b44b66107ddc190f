"""The command line answers at once: a command imports what it needs and no more.

Each check runs ``mdlkit.cli.main`` in a fresh interpreter and lists the modules it imported
(an in-process check would see whatever earlier tests imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mdlkit
import mdlkit.coding
import mdlkit.compression
import mdlkit.recipes

SRC = Path(__file__).parents[2] / "src"
TRAINING = {"torch", "sklearn", "pandas", "matplotlib"}
"""What no command needs unless it trains a network or reads a table."""
CODING = {"numba", "numpy", "scipy", "constriction", "jsonargparse"}
"""What only coding a file (or building a command's options) needs."""


def _imported_by(tmp_path: Path, *commands: list[str]) -> set[str]:
    """The top-level packages imported by running ``commands`` one after the other in one
    fresh interpreter (each must exit with 0)."""
    code = (
        "import json, sys\n"
        "from mdlkit.cli import main\n"
        f"for argv in {commands!r}:\n"
        "    assert main(argv) == 0, argv\n"
        "json.dump(sorted({m.split('.')[0] for m in sys.modules}), open('modules.json', 'w'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return set(json.loads((tmp_path / "modules.json").read_text()))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["compress", "--help"]])
def test_help_and_version_import_no_heavy_library(tmp_path: Path, argv: list[str]) -> None:
    imported = _imported_by(tmp_path, argv)
    assert not imported & TRAINING
    assert not imported & (CODING - {"jsonargparse"} if argv[0] == "compress" else CODING)


def test_online_compress_and_decompress_import_neither_torch_nor_sklearn(tmp_path: Path) -> None:
    text = b"".join(b"line %d of a small file to compress\n" % i for i in range(100))
    (tmp_path / "a.txt").write_bytes(text)
    imported = _imported_by(
        tmp_path, ["compress", "a.txt"], ["decompress", "a.txt.mdlz", "-o", "b.txt"]
    )
    assert (tmp_path / "b.txt").read_bytes() == text  # the commands did run
    assert "torch" not in imported and "sklearn" not in imported
    assert not imported & TRAINING


@pytest.mark.parametrize("package", [mdlkit, mdlkit.recipes, mdlkit.coding, mdlkit.compression])
def test_lazily_exported_names_resolve(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        package.nonexistent  # type: ignore[attr-defined]  # noqa: B018
