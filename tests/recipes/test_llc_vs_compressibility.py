"""The llc-vs-compressibility experiment: the quick version end to end (on MNIST when it is at
hand, else on a generated stand-in with MNIST's file layout), its fits against numpy, the
tolerances read off one search equal to separate searches, and resume."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mdlkit.complexity import LLCSettings, critical_quantization_bits, critical_rank_fraction
from mdlkit.complexity.checkpoint_measures import measure_checkpoint
from mdlkit.data import Split
from mdlkit.errors import MdlkitError
from mdlkit.models import ModelSpec
from mdlkit.recipes import llc_vs_compressibility as lvc
from mdlkit.recipes.experiment import ExperimentConfig, run_experiment
from mdlkit.recipes.llc_vs_compressibility import (
    LLCVsCompressibilityExperiment,
    run_llc_vs_compressibility,
)
from mdlkit.report.least_squares import linear_fit
from mdlkit.report.llc_vs_compressibility import MEASURES
from mdlkit.runs import RunFolder

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MNIST if present; otherwise 1,200 + 200 generated 28×28 digits-like images
    (a fixed noisy prototype per class) in the same .npz layout, so the test never needs
    ../shared."""
    real = Path(os.environ.get("MDLKIT_MNIST", SHARED_MNIST))
    if real.is_file():
        return real
    tmp_path = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    prototypes = rng.integers(0, 256, size=(10, 28, 28))

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 10
        x = np.clip(prototypes[y] + rng.normal(0, 60, size=(n, 28, 28)), 0, 255)
        return x.astype(np.uint8), y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = images(1200), images(200)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    words = ["the", "king", "shall", "speak", "and", "we", "hear", "him", "now", "of", "love"]
    text = " ".join(rng.choice(words, size=1200)).encode()
    path = tmp_path / "text.txt"
    path.write_bytes(text)
    return path


def _records(path: Path) -> dict[str, Any]:
    return json.loads((path / "results.json").read_text())


@pytest.fixture(scope="module")
def mnist_study(
    mnist_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LLCVsCompressibilityExperiment, Path, str]:
    """The quick experiment's MNIST study, uninterrupted, once for the tests that read it: the
    experiment, its folder and its table."""
    exp = LLCVsCompressibilityExperiment.quick(str(mnist_file))
    folder = RunFolder.new(tmp_path_factory.mktemp("study") / "run", kind="x")
    table = run_llc_vs_compressibility(exp, folder)
    return exp, folder.path, table


def test_quick_experiment_end_to_end(mnist_file: Path, text_file: Path, tmp_path: Path) -> None:
    folder = RunFolder.new(tmp_path / "run", kind="llc-vs-compressibility")
    config = ExperimentConfig(
        "llc-vs-compressibility", mnist_path=str(mnist_file), data=str(text_file), quick=True
    )
    table = run_experiment(config, folder=folder).table
    results = _records(folder.path)
    quick = LLCVsCompressibilityExperiment.quick(str(mnist_file), str(text_file))
    assert [s["name"] for s in results["studies"]] == ["mnist-mlp", "byte-lm"]
    for study, epochs in zip(
        results["studies"], (quick.mnist_checkpoints, quick.lm_checkpoints), strict=True
    ):
        assert [r["epoch"] for r in study["checkpoints"]] == list(epochs)
        model = ModelSpec.from_dict(study["spec"]).build()
        assert study["d"] == sum(p.numel() for p in model.parameters())
        for r in study["checkpoints"]:
            # The weights are safetensors (no pickle) and load into the spec's model.
            weights = folder.checkpoints / study["name"] / f"epoch-{r['epoch']:04d}.safetensors"
            model.load_state_dict(load_file(str(weights)))
            assert math.isfinite(r["llc"]["llc"]) and r["llc"]["settings"]["chains"] == 2
            for tolerance in quick.tolerances:
                m = r["tolerances"][f"{tolerance:g}"]
                # within the budget: the quantized loss is at most L(w*) + ε
                assert m["quantized_loss"] <= r["reference_loss"] + tolerance
                assert 0 <= m["rank_fraction"] <= 1 and 0 <= m["pruned_fraction"] <= 1
                assert m["codec_bits"] > 0
            bits = [r["tolerances"][f"{t:g}"]["bits"] for t in sorted(quick.tolerances)]
            assert bits == sorted(bits, reverse=True)  # a larger ε never needs more bits
        assert f"(d = {study['d']:,})" in table
    assert {p.suffix for p in folder.checkpoints.rglob("*") if p.is_file()} == {".safetensors"}
    assert (folder.path / "llc_vs_compressibility.png").stat().st_size > 10_000
    assert (folder.path / "table.md").read_text() == table


def _check_fit(fit: dict[str, float], x: list[float], y: list[float]) -> None:
    """The recorded fit against numpy: polyfit's line; R² = corr(x, y)² (simple regression)."""
    if len(x) < 2 or np.ptp(x) == 0:
        assert math.isnan(fit["slope"])
        return
    slope, intercept = np.polyfit(x, y, 1)
    assert fit["slope"] == pytest.approx(slope, rel=1e-9, abs=1e-12)
    assert fit["intercept"] == pytest.approx(intercept, rel=1e-9, abs=1e-9)
    if np.ptp(y) == 0:
        assert math.isnan(fit["r2"])  # nothing to explain
    else:
        assert fit["r2"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9, abs=1e-12)


def test_fits_equal_numpy_on_the_recorded_numbers(
    mnist_study: tuple[LLCVsCompressibilityExperiment, Path, str],
) -> None:
    exp, path, table = mnist_study
    (study,) = _records(path)["studies"]
    rows = study["checkpoints"]
    good = [r for r in rows if r["llc"]["llc"] > 0 and not r["llc"]["warnings"]]
    assert len(study["fits"]) == len(exp.tolerances) * len(MEASURES)
    for fit in study["fits"]:
        key = f"{fit['tolerance']:g}"
        for name, subset in (("all", rows), ("healthy", good)):
            x = [r["llc"]["llc"] for r in subset]
            y = [r["tolerances"][key][fit["measure"]] for r in subset]
            _check_fit(fit[name], x, y)
        if fit["measure"] in ("bits", "codec_bits_per_weight"):
            assert fit["heuristic_slope"] == pytest.approx(
                math.log2(1 / fit["tolerance"]) / study["d"], rel=1e-12
            )
            assert f"{fit['heuristic_slope']:.3g}" in table
        else:
            assert fit["heuristic_slope"] is None


def test_linear_fit_against_closed_forms_and_numpy() -> None:
    exact = linear_fit([1, 2, 3, 4], [3, 5, 7, 9])  # y = 2x + 1 exactly: R² = 1
    assert (exact.slope, exact.intercept, exact.r2, exact.n) == pytest.approx((2, 1, 1, 4))
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.normal(size=9), rng.normal(size=9)
        _check_fit(linear_fit(x.tolist(), y.tolist()).to_dict(), x.tolist(), y.tolist())
    assert math.isnan(linear_fit([1, 2, 3], [4, 4, 4]).r2)  # constant y: R² undefined
    assert linear_fit([1, 2, 3], [4, 4, 4]).slope == 0
    assert math.isnan(linear_fit([2, 2], [1, 3]).slope)  # constant x: no line
    assert math.isnan(linear_fit([1], [1]).slope)
    with pytest.raises(MdlkitError):
        linear_fit([1, 2], [1])


def test_tolerances_read_off_one_search_equal_separate_searches() -> None:
    # The quantization and rank searches do not depend on ε before their last comparison, so
    # reading each ε off the smallest ε's curves must give what a call at that ε gives.
    torch.manual_seed(0)
    spec = ModelSpec("mlp", {"sizes": [6, 8, 3]})
    model = spec.build()
    x = torch.randn(200, 6)
    data = Split(x, model(x).argmax(1).detach())
    tolerances = (0.003, 0.02, 0.1, 0.5)
    settings = LLCSettings(step=1e-4, chains=1, burn_in=5, draws=10, batch_size=50)
    record = measure_checkpoint(model, data, tolerances, spec, settings)
    for tolerance in tolerances:
        m = record["tolerances"][f"{tolerance:g}"]
        assert m["bits"] == critical_quantization_bits(model, data, tolerance).bits
        assert m["rank_fraction"] == critical_rank_fraction(model, data, tolerance).fraction
    assert len({m["bits"] for m in record["tolerances"].values()}) > 1  # the test has teeth


def test_resume_skips_finished_checkpoints(
    mnist_study: tuple[LLCVsCompressibilityExperiment, Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exp, whole, _ = mnist_study
    measured: list[int] = []
    trained: list[str] = []
    kill = [True]
    real_measure, real_train = lvc.measure_checkpoint, lvc.train

    def measure(*args: Any, **kwargs: Any) -> dict[str, Any]:
        if kill[0] and len(measured) == 2:
            raise KeyboardInterrupt  # killed while measuring the third checkpoint
        measured.append(1)
        return real_measure(*args, **kwargs)

    def train(*args: Any, **kwargs: Any) -> Any:
        trained.append(kwargs["description"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(lvc, "measure_checkpoint", measure)
    monkeypatch.setattr(lvc, "train", train)
    folder = RunFolder.new(tmp_path / "killed", kind="x")
    with pytest.raises(KeyboardInterrupt):
        run_llc_vs_compressibility(exp, folder)
    assert len(measured) == 2 and len(trained) == 1
    first = (folder.path / "runs" / "mnist-mlp-epoch0001.json").read_bytes()

    measured.clear()
    kill[0] = False
    resumed = RunFolder.resume(folder.path)
    run_llc_vs_compressibility(exp, resumed)
    assert len(measured) == 1  # only the checkpoint the kill interrupted
    assert len(trained) == 1  # every weight file was there: no training again
    assert (folder.path / "runs" / "mnist-mlp-epoch0001.json").read_bytes() == first
    # Deterministic under the seed and one thread: the resumed run equals the uninterrupted one.
    killed, uninterrupted = _records(folder.path), _records(whole)
    for a, b in zip(
        killed["studies"][0]["checkpoints"],
        uninterrupted["studies"][0]["checkpoints"],
        strict=True,
    ):
        assert a["llc"]["llc"] == b["llc"]["llc"] and a["tolerances"] == b["tolerances"]


def test_bad_inputs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDLKIT_MNIST", raising=False)
    with pytest.raises(MdlkitError, match="no MNIST file"):
        ExperimentConfig("llc-vs-compressibility").validate()
    (tmp_path / "m.npz").write_bytes(b"")
    with pytest.raises(MdlkitError, match="text file not found"):
        ExperimentConfig(
            "llc-vs-compressibility", mnist_path=str(tmp_path / "m.npz"), data="nope.txt"
        ).validate()
    for bad in (
        LLCVsCompressibilityExperiment(tolerances=(0.0,)),
        LLCVsCompressibilityExperiment(mnist_checkpoints=(3, 2)),
        LLCVsCompressibilityExperiment(lm_checkpoints=()),
        LLCVsCompressibilityExperiment(mnist_llc=LLCSettings(step=1.0, gamma=2.0)),
    ):
        with pytest.raises(MdlkitError):
            bad.validate()
    assert not any(tmp_path.glob("runs*"))
