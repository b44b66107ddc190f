import json
from pathlib import Path

import pytest

from mdlkit import MdlkitError
from mdlkit.runs import RunFolder, environment, git_revision


def test_new_folder_is_created_on_start_and_refused_once_it_exists(tmp_path: Path) -> None:
    folder = RunFolder.new(tmp_path / "run", kind="fit")
    assert not folder.path.exists()  # nothing is written before the recipe has checked its inputs
    folder.start({"runs": {"drr": {"alpha": 0.003, "hidden": (32,)}}})
    saved = folder.read_config()
    assert saved["runs"] == {"drr": {"alpha": 0.003, "hidden": [32]}}
    assert saved["environment"]["threads"] >= 1
    with pytest.raises(MdlkitError, match="exists already"):
        RunFolder.new(folder.path, kind="fit")


def test_default_name_is_kind_and_time_and_never_taken(tmp_path: Path) -> None:
    a = RunFolder.new(kind="demo", root=tmp_path)
    assert a.path.parent == tmp_path and a.path.name.startswith("demo-")
    a.start({})
    b = RunFolder.new(kind="demo", root=tmp_path)
    assert b.path != a.path and not b.path.exists()


def test_results_are_written_once(tmp_path: Path) -> None:
    folder = RunFolder.new(tmp_path / "run", kind="fit")
    folder.start({"config": {}})
    folder.write_results({"bits": 1.0})
    with pytest.raises(MdlkitError, match="finished already"):
        folder.write_results({"bits": 2.0})
    assert json.loads((folder.path / "results.json").read_text()) == {"bits": 1.0}
    assert folder.finished


def test_resume_needs_an_unfinished_folder_with_the_same_settings(tmp_path: Path) -> None:
    with pytest.raises(MdlkitError, match="not an mdlkit run folder"):
        RunFolder.resume(tmp_path)
    folder = RunFolder.new(tmp_path / "run", kind="sweep")
    folder.start({"experiment": {"alphas": (0.1, 0.2)}})
    resumed = RunFolder.resume(folder.path)
    resumed.start({"experiment": {"alphas": (0.1, 0.2)}})  # the same settings: continue
    with pytest.raises(MdlkitError, match="other settings"):
        resumed.start({"experiment": {"alphas": (0.1,)}})
    (folder.path / "config.json").write_text("{not json")
    with pytest.raises(MdlkitError, match="damaged"):
        RunFolder.resume(folder.path).read_config()


def test_sweep_records_survive_as_whole_files(tmp_path: Path) -> None:
    folder = RunFolder.new(tmp_path / "run", kind="sweep")
    folder.start({})
    assert folder.record("a") is None
    folder.write_record("a", {"bits": 3})
    assert folder.record("a") == {"bits": 3}
    assert sorted(p.name for p in (folder.path / "runs").iterdir()) == ["a.json"]


def test_environment_names_the_code_revision() -> None:
    env = environment()
    assert {"mdlkit", "torch", "python", "threads", "platform", "git"} <= set(env)
    revision = git_revision()
    # This test runs from a git checkout of mdlkit; installed elsewhere, the revision is None.
    if revision is not None:
        assert len(revision["commit"]) == 40 and isinstance(revision["dirty"], bool)
