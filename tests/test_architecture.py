"""The house rules that keep mdlkit's rooms small and its floors apart (docs/architecture.md):
no module over 400 lines, no import circle between modules, no ``importlib`` inside the package.
The layer contract itself is import-linter's (``make test``)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mdlkit"
MAX_LINES = 400
# One concept that must stay one file: numba caches a kernel by its own file, so constants and
# helpers it compiles in must live beside it (see the module's docstring).
KERNEL_FILES = {"compression/context_mixing.py"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
        and str(path.relative_to(SRC)) not in KERNEL_FILES
    }
    assert long == {}


def test_no_module_imports_itself_through_a_circle() -> None:
    graph = grimp.build_graph("mdlkit", include_external_packages=False, cache_dir=None)
    circles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                circles.append((importer, *back))
    assert circles == []


# The modules that import by name: a user's model factory, named by the user (--model
# module:name), never by a file; and the online kernels compiled ahead of time, loaded from the
# file mdlkit built from context_mixing (whose imports the contract sees). Neither is an import
# of mdlkit's own modules.
USER_IMPORTS = {"models/factory.py", "compression/native.py"}


@pytest.mark.parametrize("word", ["import_module(", "__import__(", "importlib.util"])
def test_no_module_imports_by_name_at_run_time(word: str) -> None:
    # Imports the layer contract cannot see are imports it cannot check.
    users = [str(p.relative_to(SRC)) for p in _modules() if word in p.read_text()]
    assert sorted(set(users) - USER_IMPORTS) == []
