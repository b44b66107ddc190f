"""The lm-compression experiment (the seed paper's transformer table at CPU scale): a tiny
configuration end to end in seconds, and the default one under the ``slow`` marker."""

from __future__ import annotations

import dataclasses
import json
import lzma
import random
import shutil
from pathlib import Path

import pytest

from mdlkit import MdlkitError
from mdlkit.recipes import ExperimentConfig
from mdlkit.recipes.lm_compression import (
    LMCompressionExperiment,
    resolve_text_path,
    run_lm_compression,
)
from mdlkit.runs import RunFolder

SHAKESPEARE = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "text" / "tinyshakespeare.txt"
)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 KB of word salad with structure a small model can learn (no shared data needed)."""
    rng = random.Random(0)
    words = ("to", "be", "or", "not", "the", "question", "whether", "tis", "nobler", "in", "mind")
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) for _ in range(600)]
    path = tmp_path_factory.mktemp("text") / "text.txt"
    path.write_text("\n".join(lines)[:25_000])
    return path


@pytest.fixture(scope="module")
def quick_run(
    text_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LMCompressionExperiment, Path, str]:
    """The quick experiment without the online code, run once for the tests that read it (or
    a copy of its folder): the experiment, its folder and its table."""
    exp = dataclasses.replace(LMCompressionExperiment.quick(str(text_file)), online=False)
    folder = RunFolder.new(tmp_path_factory.mktemp("quick") / "run", kind="lm-compression")
    return exp, folder.path, run_lm_compression(exp, folder, workers=1)


def _table_rows(table: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| 20,000")
    ]


def test_quick_experiment_totals_and_baselines(
    text_file: Path, quick_run: tuple[LMCompressionExperiment, Path, str]
) -> None:
    _, path, table = quick_run
    results = json.loads((path / "results.json").read_text())
    runs = results["runs"]
    assert set(runs) == {"20000-none-d16", "20000-none-d32", "20000-drr-d32"}
    prefix = text_file.read_bytes()[:20_000]
    for r in runs.values():
        assert r["decoded"] and r["length"] == 20_000
        assert r["total_bits"] == 8 * r["model_bytes"] + r["data_bits"]
        assert r["paper_bits"] == 32 * r["nonzero"] + r["data_bits"]
        assert r["bits_per_byte"] == pytest.approx(r["total_bits"] / 20_000)
        # the coded data is within the range coder's overhead of Σ −log2 p
        assert r["data_ideal_bits"] <= r["data_bits"] * 1.001
        assert r["data_bits"] <= r["data_ideal_bits"] * 1.001 + 64 * r["chunks"]
    ours, paper = table.split("In the paper's convention")
    rows = _table_rows(ours)
    model_rows = [row for row in rows if row[2]]  # runs have a d_model, baselines do not
    assert len(model_rows) == 3
    for row in model_rows:
        model, data, total = (int(row[i].replace(",", "")) for i in (5, 6, 7))
        assert total == model + data  # bytes: the weight file plus whole 32-bit words of data
    xz = results["baselines"]["20000"]["sizes"]["xz"]["bytes"]
    assert xz == len(lzma.compress(prefix, preset=9 | lzma.PRESET_EXTREME))
    xz_row = next(row for row in rows if row[1] == "xz -9e")
    assert int(xz_row[7].replace(",", "")) == xz
    assert (path / "lm_compression.png").stat().st_size > 0
    # Tab. 3's own convention: every 512-byte chunk its own xz file; 4 B/nz + ideal data bytes
    chunked = results["baselines"]["20000"]["chunked"]
    per_chunk = [lzma.compress(prefix[i : i + 512]) for i in range(0, len(prefix), 512)]
    assert chunked["lzma2_512"]["bytes"] == sum(len(c) for c in per_chunk)
    paper_rows = {(row[1], row[2]): row for row in _table_rows(paper)}
    for r in runs.values():
        name = "unregularized" if r["method"] == "none" else "DRR"
        size = int(paper_rows[(name, str(r["d_model"]))][3].replace(",", ""))
        assert size == round((32 * r["nonzero"] + r["data_ideal_bits"]) / 8)
    assert "- 20,000 bytes: DRR and R-L1 < LZMA2, ZSTD and every unregularized model" in paper


def test_a_resumed_folder_skips_finished_runs(
    quick_run: tuple[LMCompressionExperiment, Path, str], tmp_path: Path
) -> None:
    exp, path, first = quick_run
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    # a killed run: results.json not written yet; a finished record must not be recomputed
    (copy / "results.json").unlink()
    record = copy / "runs" / "20000-none-d16.json"
    stored = json.loads(record.read_text())
    stored["train_seconds"] = 12345.0  # a marker the recomputation would not reproduce
    record.write_text(json.dumps(stored))
    second = run_lm_compression(exp, RunFolder.resume(copy), workers=1)
    assert json.loads(record.read_text())["train_seconds"] == 12345.0
    assert "| 20000-none-d16 | 12,345 |" in second and second != first


def test_missing_text_file_is_a_one_line_error(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(MdlkitError, match="not found"):
        ExperimentConfig("lm-compression", data=str(tmp_path / "nothing.txt")).validate()
    monkeypatch.chdir(tmp_path)  # no ../shared/data here
    with pytest.raises(MdlkitError, match="--data FILE"):
        resolve_text_path(None)


@pytest.mark.slow
def test_default_experiment(tmp_path: Path) -> None:
    if not SHAKESPEARE.is_file():
        pytest.skip(f"tinyshakespeare.txt not available at {SHAKESPEARE}")
    exp = LMCompressionExperiment(str(SHAKESPEARE))
    folder = RunFolder.new(tmp_path / "run", kind="lm-compression")
    run_lm_compression(exp, folder, workers=1)
    results = json.loads((folder.path / "results.json").read_text())
    runs = results["runs"]
    assert len(runs) == 3 * (len(exp.sizes) + len(exp.methods))
    assert all(r["decoded"] for r in runs.values())
    full = max(r["length"] for r in runs.values())
    at_full = {k: r for k, r in runs.items() if r["length"] == full}
    largest_plain = at_full[f"{full}-none-d{max(exp.sizes)}"]["total_bits"]
    # pruning pays at the largest size whatever else happens
    assert at_full[f"{full}-drr-d{max(exp.sizes)}"]["total_bits"] < largest_plain
