"""`mdlkit export`: the exported network (read back from its files) gives the decoded model's
outputs and test accuracy with fewer parameters; int8 storage changes no value; the table
reports both networks; a user's own module (not a sequence of plain layers) is exported whole
and read back only with its factory allowed (export and llc refuse it without --allow-factory);
bad input is one line on stderr, exit code 2, nothing written."""

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.cli import main
from mdlkit.coding import read_model
from mdlkit.coding.exported import ARCHITECTURE, PROGRAM, WEIGHTS, read_export
from mdlkit.data import load_dataset
from mdlkit.heads import evaluate

FIT = ["--method", "none", "--epochs", "5", "--grid-epochs", "0", "--no-progress"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fit on digits whose quantization leaves about a fifth of the weights nonzero."""
    out = tmp_path_factory.mktemp("digits") / "run"
    torch.set_num_threads(1)  # as the autouse fixture does, which a module fixture precedes
    argv = ["fit", "--data", "digits", "--hidden", "16", "--lr", "0.01", "--out", str(out)]
    assert main([*argv, *FIT]) == 0
    return out


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_the_export_gives_the_decoded_models_outputs_with_fewer_parameters(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    assert main(["export", str(digits_run), "--out", str(out), "--calls", "5"]) == 0
    printed = capsys.readouterr().out
    assert "dense / exported" in printed and "kept as" in printed
    assert {WEIGHTS, ARCHITECTURE, "results.json", "table.txt"} <= {p.name for p in out.iterdir()}
    dense, exported = read_model(digits_run / "none.mdlw"), read_export(out)
    test = load_dataset("digits", seed=0).test  # as fit loads it
    with torch.no_grad():
        reference = dense(test.x)
        difference = float((exported(test.x) - reference).abs().max())
    assert difference <= 1e-5
    # A coarse quantized model has exact ties between classes, which float rounding of a
    # differently shaped product may break the other way: only those rows may change class.
    top2 = reference.topk(2, dim=1).values
    ties = int(((top2[:, 0] - top2[:, 1]) <= 2 * difference).sum())
    changed = abs(evaluate(exported, test).accuracy - evaluate(dense, test).accuracy) * len(test)
    assert round(changed) <= ties
    assert _params(exported) < _params(dense)
    results = json.loads((out / "results.json").read_text())
    assert results["max_abs_difference"] <= 1e-5
    assert results["near_ties"] == ties
    reported = json.loads((digits_run / "results.json").read_text())["runs"]["none"]
    assert results["test_accuracy"]["dense"] == reported["test_accuracy"]
    assert [c["parameters"] for c in results["costs"]] == [_params(dense), _params(exported)]
    assert results["costs"][1]["file_bytes"] == (out / WEIGHTS).stat().st_size
    assert set(results["costs"][0]["latency"]) == {"1", "256"}
    if (out / PROGRAM).exists():  # torch.export's program of the same network
        assert results["files"][PROGRAM] == (out / PROGRAM).stat().st_size


def test_int8_storage_changes_no_value(digits_run: Path, tmp_path: Path) -> None:
    assert main(["export", str(digits_run), "--out", str(tmp_path / "f"), "--calls", "5"]) == 0
    argv = ["export", str(digits_run), "--out", str(tmp_path / "i"), "--calls", "5", "--int8"]
    assert main(argv) == 0
    architecture = json.loads((tmp_path / "i" / ARCHITECTURE).read_text())
    assert architecture["int8"]  # the grid indices of a fit's weights fit in int8 here
    plain, small = read_export(tmp_path / "f"), read_export(tmp_path / "i")
    for a, b in zip(plain.state_dict().values(), small.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert (tmp_path / "i" / WEIGHTS).stat().st_size < (tmp_path / "f" / WEIGHTS).stat().st_size


def test_bad_input_is_refused_in_one_line(
    digits_run: Path, tmp_path_factory: pytest.TempPathFactory, refused: Callable[..., str]
) -> None:
    missing = tmp_path_factory.mktemp("bad") / "gone"
    refused(["export", str(missing)], "run folder not found")
    refused(["export", str(digits_run), "--calls", "2"], "calls must be >= 5")
    refused(["export"], "run_dir")


def test_other_folders_files_and_an_existing_out_are_refused_and_left_alone(
    digits_run: Path, tmp_path: Path, refused: Callable[..., str]
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep")
    (tmp_path / "plain.txt").write_text("not an archive")
    refused(["export", "notes"], "not an mdlkit run folder")
    refused(["export", "plain.txt"], "not an mdlkit archive")
    run_files = sorted((p, p.stat().st_mtime_ns) for p in digits_run.rglob("*"))
    for out in ("notes", "plain.txt", str(digits_run)):  # never written into, never replaced
        refused(["export", str(digits_run), "--out", out, "--calls", "5"], "exists already")
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep"
    assert sorted((p, p.stat().st_mtime_ns) for p in digits_run.rglob("*")) == run_files


def test_onnx_without_its_packages_is_refused_in_one_line(
    digits_run: Path, monkeypatch: pytest.MonkeyPatch, refused: Callable[..., str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript raises ImportError
    refused(["export", str(digits_run), "--onnx"], "pip install 'mdlkit[onnx]'")


def test_a_users_own_network_is_exported_whole_only_with_its_factory_allowed(
    user_cnn: type[torch.nn.Module],
    tmp_path: Path,
    refused: Callable[..., str],
) -> None:
    run = tmp_path / "run"
    argv = ["fit", "--data", "digits", "--model", "usernets_fx:UserCNN", "--images", "--lr", "0.03",
            "--model-args", '{"channels": 2}', "--n-train", "300", "--out", str(run)]  # fmt: skip
    fit = ["--method", "none", "--epochs", "30", "--finetune-epochs", "4", "--grid-epochs", "0",
           "--warmup-epochs", "0", "--window", "4", "--batch-size", "0"]  # fmt: skip
    assert main([*argv, *fit, "--no-progress"]) == 0
    # A teacher of the student's own factory decodes: the user named that factory.
    student = ["--out", str(tmp_path / "student"), "--teacher", str(run), "--epochs", "2"]
    assert main([*argv[:-2], *fit, *student, "--no-progress"]) == 0
    refused(["export", str(run), "--calls", "5"], "names the model factory usernets_fx:UserCNN")
    refused(["llc", str(run)], "(mdlkit predict, export, llc: --allow-factory usernets_fx:UserCNN)")
    llc = ["llc", str(run), "--chains", "1", "--burn-in", "2", "--draws", "3", "--out"]
    assert main([*llc, str(tmp_path / "llc"), "--allow-factory", "usernets_fx:UserCNN"]) == 0
    out = tmp_path / "export"
    argv = ["export", str(run), "--out", str(out), "--calls", "5", "--int8"]
    assert main([*argv, "--allow-factory", "usernets_fx:UserCNN"]) == 0
    architecture = json.loads((out / ARCHITECTURE).read_text())
    assert architecture["model"] == {"kind": "usernets_fx:UserCNN", "kwargs": {"channels": 2}}
    with pytest.raises(MdlkitError, match="names the model factory usernets_fx:UserCNN"):
        read_export(out)
    exported = read_export(out, factories=[user_cnn])
    dense = read_model(run / "none.mdlw", factories=[user_cnn]).eval()
    assert type(exported) is user_cnn
    test = load_dataset("digits", seed=0, images=True, n_train=300).test
    with torch.no_grad():  # int8 grid indices times the step are the decoded weights exactly
        assert torch.equal(exported(test.x), dense(test.x))
    results = json.loads((out / "results.json").read_text())
    assert results["shrunk"] is False and results["max_abs_difference"] == 0.0
    assert results["layout"].startswith("usernets_fx:UserCNN exported whole, not shrunk")
    assert results["nonzero"] > 50  # a trained model, not an all-pruned constant one


def test_the_onnx_file_gives_the_decoded_models_outputs(digits_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "export"
    assert main(["export", str(digits_run), "--out", str(out), "--calls", "5", "--onnx"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["files"]["model.onnx"] == (out / "model.onnx").stat().st_size
    test = load_dataset("digits", seed=0).test
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    for rows in (1, len(test)):  # a dynamic batch size
        x = test.x[:rows]
        (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            reference = read_model(digits_run / "none.mdlw")(x)
        assert float((torch.from_numpy(y) - reference).abs().max()) <= 1e-5
    assert results["onnx_max_abs_difference"] <= 1e-5


TEXT = (
    b"To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
    b"the slings and arrows of outrageous fortune, or to take arms against a sea of troubles "
    b"and by opposing end them.\n"
) * 12


def test_a_two_part_archives_transformer_is_exported_without_its_dead_heads_and_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: Callable[..., str]
) -> None:
    from mdlkit.compression import two_part
    from mdlkit.compression.archive_model import two_part_model

    tiny = two_part.TwoPartPlan(d_model=16, n_layers=2, n_heads=2, context=16, epochs=1,
                                finetune_epochs=1, stride=8, chunk=1024, batch_size=16,
                                lr=1e-2)  # fmt: skip
    monkeypatch.setattr(two_part, "plan_two_part", lambda length, level=2: tiny)
    (tmp_path / "text.txt").write_bytes(TEXT)
    archive, online = tmp_path / "text.mdlz", tmp_path / "online.mdlz"
    compress = ["compress", str(tmp_path / "text.txt"), "--no-verify", "-o"]
    assert main([*compress, str(archive), "--mode", "two-part"]) == 0
    assert main([*compress, str(online)]) == 0
    refused(["export", str(online)], "stores no model")
    refused(["export", str(archive), "--int8"], "--int8 are for a fit run folder")
    out = tmp_path / "export"
    assert main(["export", str(archive), "--out", str(out), "--calls", "5"]) == 0
    dense, exported = two_part_model(archive), read_export(out)
    x = torch.tensor(list(TEXT[: 20 * 16]), dtype=torch.int64).view(20, 16)
    with torch.no_grad():
        assert float((exported(x) - dense(x)).abs().max()) <= 1e-5
    results = json.loads((out / "results.json").read_text())
    sizes = json.loads((out / ARCHITECTURE).read_text())["transformer"]
    kept = [(h, f) for h, _, f in sizes["blocks"]]
    heads = "+".join(str(h) for h, _ in kept)
    units = "+".join(str(f) for _, f in kept)
    assert results["layout"] == f"heads 2+2 kept as {heads}, feed-forward 64+64 kept as {units}"
    assert results["max_abs_difference"] <= 1e-5
    assert results["checked_on"] == f"{len(TEXT) // 16} windows of 16 bytes of the original"
    accuracy = results["test_accuracy"]
    assert accuracy["dense"] == accuracy["exported"]  # next-byte accuracy on those windows
    assert results["costs"][1]["parameters"] == sum(p.numel() for p in exported.parameters())
