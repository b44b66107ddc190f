"""``mdlkit export RUN_DIR``: a fit run's model as a smaller network a PyTorch user deploys.

Reads top to bottom: decode the run's model (a user's factory's only when ``--allow-factory``
names it) and rebuild its data, remove the neurons and channels that cannot change the outputs
(:func:`~mdlkit.models.shrink.shrink_sequential`; a network that is not a sequence of plain
layers, e.g. a user's own module, is exported whole, named by its factory and arguments),
write safetensors + ``architecture.json`` (+ a ``torch.export`` program) into a NEW run folder
(:func:`~mdlkit.coding.exported.write_export`), read that back and check it against the decoded
model on the run's test split (largest output difference, test accuracy), then time both
networks side by side at batch 1 and 256 and measure their peak memory
(:mod:`mdlkit.report.inference`). ``results.json`` and ``table.txt`` hold the figures.

``mdlkit export ARCHIVE.mdlz`` does the same for the byte transformer of a two-part archive
(:func:`~mdlkit.compression.archive_model.two_part_model`) without its dead heads and
feed-forward units (:func:`~mdlkit.models.shrink_transformer.shrink_transformer`), checked and
timed on the first windows of the original (decompressed), with next-byte accuracy.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mdlkit.coding.exported import WEIGHTS, export_program, read_export, write_export
from mdlkit.coding.onnx_file import ONNX, check_onnx_available, onnx_outputs, write_onnx
from mdlkit.coding.weights import decode_spec
from mdlkit.compression.archive_model import two_part_model
from mdlkit.compression.compressor import decompress
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate, outputs
from mdlkit.models.factory import Factories, import_factories
from mdlkit.models.shrink import shrink_sequential
from mdlkit.models.shrink_transformer import shrink_transformer
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning import count_nonzero, count_parameters
from mdlkit.recipes.fit_run import read_fit_run
from mdlkit.report import Report
from mdlkit.report.inference import InferenceCost, inference_table, latencies, peak_memory
from mdlkit.runs import RunFolder

__all__ = ["ExportConfig", "ExportResult", "run_export"]

BATCHES = (1, 256)
WINDOWS = 256  # windows of the original an archive's transformer is checked on
TOLERANCE = 1e-5  # largest |output difference| the exported network may have (float32 biases)


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``mdlkit export``."""

    run_dir: str
    """a finished run folder of mdlkit fit (or demo, select), or a two-part .mdlz archive"""
    run_name: str | None = None
    """which model of a folder holding several (a demo folder: plain | drr)"""
    int8: bool = False
    """store the weights as int8 grid indices and the step (exact when they fit in int8)"""
    calls: int = 200
    """timed forward calls per network and batch size"""
    threads: int | None = None
    """torch threads while timing (default: torch's; 1 is steadier on a busy machine)"""
    allow_factory: tuple[str, ...] = ()
    """model factories module:name the run's weight file may name (imported: trust the code)"""
    onnx: bool = False
    """also write model.onnx, checked with onnxruntime if installed (pip install 'mdlkit[onnx]')"""

    def validate(self) -> None:
        if self.onnx:
            check_onnx_available()
        if self.calls < 5:
            raise MdlkitError(f"calls must be >= 5, got {self.calls}")
        if self.threads is not None and self.threads < 1:
            raise MdlkitError(f"threads must be >= 1, got {self.threads}")


@dataclass(frozen=True)
class ExportResult:
    """The exported network's figures beside the decoded dense model's."""

    config: ExportConfig
    layout: str
    folded: int
    nonzero: int
    files: dict[str, int]
    max_abs_difference: float
    test_accuracy: dict[str, float | None]
    threads: int
    """torch threads while timing"""
    near_ties: int
    """test rows whose two largest dense outputs are within 2·max |Δ|: their class may differ"""
    costs: tuple[InferenceCost, ...]
    shrunk: bool
    """whether dead units were removed (False: not a sequence of plain layers, exported whole)"""
    onnx_max_abs_difference: float | None = None
    """max |output difference| of model.onnx run by onnxruntime (None: no ONNX, or no runtime)"""
    checked_on: str = "the test split"
    """the inputs the outputs were compared and the networks timed on"""
    float32_rounding: float | None = None
    """max |dense float32 outputs − the same model in float64|: the scale of rounding alone"""

    def report(self) -> Report:
        title = f"mdlkit export {self.config.run_dir}: {self.layout}"
        notes = [
            f"exported network = {', '.join(f'{k} ({v:,} B)' for k, v in self.files.items())}",
            f"max |output difference| on {self.checked_on}: {self.max_abs_difference:.3g} "
            f"(tolerance {TOLERANCE:g}); {self._accuracy_name} dense {self._acc('dense')}, "
            f"exported {self._acc('exported')}; the dense model's own float32 rounding (vs "
            f"float64): {self.float32_rounding:.3g}",
            f"{self.nonzero:,} nonzero weights; "
            + (
                f"{self.folded} removed units (or heads) with a constant output folded into biases"
                if self.shrunk
                else "not shrunk: the architecture names the model's factory and arguments"
            )
            + f"; latency: median per call, both networks taking turns, "
            f"{self.threads} torch threads",
        ]
        if ONNX in self.files:
            notes.append(
                "model.onnx not run (onnxruntime is not installed)"
                if self.onnx_max_abs_difference is None
                else f"model.onnx run by onnxruntime: max |output difference| "
                f"{self.onnx_max_abs_difference:.3g} (tolerance {TOLERANCE:g})"
            )
        return Report(inference_table(self.costs, title), tuple(notes))

    @property
    def _accuracy_name(self) -> str:
        return "test accuracy" if self.checked_on == "the test split" else "next-byte accuracy"

    def _acc(self, name: str) -> str:
        acc = self.test_accuracy[name]
        return "—" if acc is None else f"{100 * acc:.2f} %"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = asdict(self.config)
        return data


def _batch(x: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` rows of ``x`` (repeated when it has fewer)."""
    return x[torch.arange(n) % len(x)].contiguous()


def _dense_bytes(
    model: torch.nn.Module, input_shape: tuple[int, ...], spec: ModelSpec | None
) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return write_export(Path(tmp), model, input_shape=input_shape, spec=spec)[WEIGHTS]


def _float32_rounding(model: nn.Module, x: torch.Tensor, reference: torch.Tensor) -> float:
    """max |``reference`` − the outputs of ``model`` computed in float64| on ``x``."""
    wide = copy.deepcopy(model).double()
    exact = outputs(wide, x if not x.is_floating_point() else x.double())
    return float((reference.double() - exact).abs().max())


def _shrink(model: torch.nn.Module, spec: ModelSpec) -> tuple[torch.nn.Module, str, int, bool]:
    """``(the network to export, its layout, units folded, whether it was shrunk)``: without
    its dead units if it is a sequence of plain layers, else whole."""
    try:
        shrunk = shrink_sequential(model)
    except MdlkitError as why:  # not a plain sequential network: nothing is removed
        return model, f"{spec.kind} exported whole, not shrunk ({why})", 0, False
    return shrunk.model, shrunk.layout(), shrunk.folded, True


@dataclass(frozen=True)
class _Subject:
    """What is exported and checked: the decoded model, the smaller one, and test inputs."""

    dense: nn.Module
    small: nn.Module
    layout: str
    folded: int
    shrunk: bool
    named: ModelSpec | None
    """the spec naming a network exported whole (None: its layers or sizes describe it)"""
    x: torch.Tensor
    """the inputs the exported network is checked and timed on"""
    checked_on: str
    accuracy: Callable[[nn.Module], float | None]
    step: float | None
    info: dict[str, Any]


def _fit_subject(config: ExportConfig, factories: Factories) -> _Subject:
    """A fit run's decoded model, shrunk when it is a sequence of plain layers."""
    run = read_fit_run(config.run_dir, config.run_name, factories)
    spec = decode_spec((run.path / run.model_file).read_bytes(), factories)
    small, layout, folded, shrunk = _shrink(run.model, spec)
    info: dict[str, Any] = {"source": str(run.path), "run": run.name}
    if run.splits.scaling is not None:
        info["scaling"] = run.splits.scaling.to_dict()
    test = run.splits.test
    classes = run.splits.n_classes is not None
    step = run.figures.get("quantization_step")
    return _Subject(
        run.model, small, layout, folded, shrunk, None if shrunk else spec, test.x,
        "the test split", lambda m: evaluate(m, test).accuracy if classes else None,
        float(step) if step else None, info,
    )  # fmt: skip


def _archive_subject(config: ExportConfig) -> _Subject:
    """The byte transformer of a two-part archive without its dead heads and feed-forward
    units, checked on the first windows of the original (next-byte accuracy)."""
    if config.run_name is not None or config.int8:
        raise MdlkitError("--run-name and --int8 are for a fit run folder, not an archive")
    dense = two_part_model(config.run_dir)
    shrunk = shrink_transformer(dense)
    original = decompress(Path(config.run_dir).read_bytes())
    context = min(dense.context, len(original))
    rows = min(WINDOWS, len(original) // context)
    x = torch.tensor(list(original[: rows * context]), dtype=torch.int64).view(rows, context)

    def next_byte_accuracy(model: nn.Module) -> float:
        predicted = outputs(model, x)[:, :-1].argmax(dim=-1)
        return float((predicted == x[:, 1:]).double().mean())

    return _Subject(
        dense, shrunk.model, shrunk.layout(), shrunk.folded, True, None, x,
        f"{rows} windows of {context} bytes of the original", next_byte_accuracy, None,
        {"source": str(config.run_dir)},
    )  # fmt: skip


def run_export(config: ExportConfig, *, folder: RunFolder | None = None) -> ExportResult:
    """Export the model of ``config.run_dir`` (into ``folder``, or a temporary folder)."""
    config.validate()
    factories = import_factories(config.allow_factory)
    archive = Path(config.run_dir).is_file()
    subject = _archive_subject(config) if archive else _fit_subject(config, factories)
    dense, small, x_test, named = subject.dense, subject.small, subject.x, subject.named
    shape = tuple(x_test.shape[1:])
    program = export_program(small, shape, dtype=x_test.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        if folder is not None:
            folder.start({"config": asdict(config)})
        target = folder.path if folder is not None else Path(tmp)
        int8_step = subject.step if config.int8 else None
        files = write_export(target, small, input_shape=shape, int8_step=int8_step,
                             info=subject.info, program=program, spec=named)  # fmt: skip
        exported = read_export(target, factories)
        reference = outputs(dense, x_test)
        from_onnx = None
        if config.onnx:
            files[ONNX] = write_onnx(target / ONNX, small, shape, program)
            from_onnx = onnx_outputs(target / ONNX, x_test)
    onnx_difference = None
    if from_onnx is not None:
        onnx_difference = float((from_onnx.to(reference.dtype) - reference).abs().max())
    difference = float((outputs(exported, x_test) - reference).abs().max())
    if program is not None:
        with torch.no_grad():
            from_program = program.module()(x_test)
        difference = max(difference, float((from_program - reference).abs().max()))
    accuracy = {"dense": subject.accuracy(dense), "exported": subject.accuracy(exported)}
    near_ties = 0
    if accuracy["dense"] is not None and reference.shape[-1] > 1:
        top2 = reference.topk(2, dim=-1).values
        near_ties = int(((top2[..., 0] - top2[..., 1]) <= 2 * difference).sum())
    x = {b: _batch(x_test, b) for b in BATCHES}
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or threads)
    try:
        times = {b: latencies([dense, exported], x[b], calls=config.calls) for b in BATCHES}
    finally:
        torch.set_num_threads(threads)
    costs = tuple(
        InferenceCost(
            name,
            count_parameters(m),
            file_bytes,
            {b: times[b][i] for b in BATCHES},
            peak_memory(m, x[BATCHES[-1]]),
        )
        for i, (name, m, file_bytes) in enumerate(
            (
                ("dense", dense, _dense_bytes(dense, shape, named)),
                ("exported", exported, files[WEIGHTS]),
            )
        )
    )
    result = ExportResult(
        config, subject.layout, subject.folded, count_nonzero(dense), files, difference,
        accuracy, config.threads or threads, near_ties, costs, subject.shrunk, onnx_difference,
        subject.checked_on, _float32_rounding(dense, x_test, reference),
    )  # fmt: skip
    if folder is not None:
        folder.write_text("table.txt", result.report().text() + "\n")
        folder.write_results(result.to_dict())
    return result
