"""Recipe: the papers' experiments by name, as ``mdlkit experiment NAME`` runs them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mdlkit.data import resolve_mnist_path
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.recipes.blier_ollivier import BlierOllivierExperiment, run_blier_ollivier
from mdlkit.recipes.llc_vs_compressibility import (
    LLCVsCompressibilityExperiment,
    run_llc_vs_compressibility,
)
from mdlkit.recipes.lm_compression import (
    DEFAULT_DATA,
    LMCompressionExperiment,
    resolve_text_path,
    run_lm_compression,
)
from mdlkit.recipes.mnist_pruning import BUDGETS, MnistPruningExperiment, run_mnist_pruning
from mdlkit.recipes.teacher_student import TeacherStudentExperiment, run_teacher_student
from mdlkit.report import Report
from mdlkit.runs import RunFolder
from mdlkit.sweeps import Where, check_executor_options

__all__ = ["EXPERIMENTS", "ExperimentConfig", "ExperimentResult", "run_experiment"]

EXPERIMENTS = (
    "teacher-student",
    "mnist-pruning",
    "lm-compression",
    "llc-vs-compressibility",
    "blier-ollivier",
)


@dataclass(frozen=True)
class ExperimentConfig:
    """Which experiment, and at which size. The grids themselves are the experiments' own
    configs (:class:`TeacherStudentExperiment`, :class:`MnistPruningExperiment`,
    :class:`LMCompressionExperiment`, :class:`LLCVsCompressibilityExperiment`).

    llc-vs-compressibility measures its byte model only with a text file (``data``, or the
    default when it exists); without one it runs the MNIST MLP alone. The other three are
    sweeps: ``workers`` and ``ray`` say where their jobs run (:mod:`~mdlkit.sweeps`);
    they are not part of the experiment's settings, so a killed sweep may continue elsewhere."""

    name: str
    """teacher-student | mnist-pruning | lm-compression | llc-vs-compressibility | blier-ollivier"""
    mnist_path: str | None = None
    """MNIST .npz file (default: $MDLKIT_MNIST)"""
    data: str | None = None
    """lm-compression, llc-vs-compressibility: text (default: ../shared/…/tinyshakespeare.txt)"""
    quick: bool = False
    """a small version that runs in minutes"""
    slow: bool = False
    """mnist-pruning: add LeNet-5-Caffe"""
    network: str = ""
    """mnist-pruning: this network alone, lenet-300-100 | lenet5-caffe (default: see --slow)"""
    workers: int | None = None
    """sweep jobs at once, each in a local process (default: one per core; 1: in this one)"""
    ray: str | None = None
    """run the sweep's jobs on Ray: auto | ray://HOST:10001 | HOST:6379 | local (mdlkit[ray])"""
    device: str = "auto"
    """where the sweep's jobs train: auto | cpu | cuda | cuda:N | mps"""
    chunk: int = 0
    """lm-compression: bytes per independently coded chunk (0: mdlkit's default; 512: paper's)"""

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on an unknown name or a missing MNIST or text file."""
        if self.name not in EXPERIMENTS:
            raise MdlkitError(
                f"unknown experiment {self.name!r}; choose one of {', '.join(EXPERIMENTS)}"
            )
        if self.name == "llc-vs-compressibility" and (self.workers, self.ray) != (None, None):
            raise MdlkitError("llc-vs-compressibility is not a sweep; drop --workers and --ray")
        if self.name == "llc-vs-compressibility" and self.device != "auto":
            raise MdlkitError("llc-vs-compressibility runs on the CPU; drop --device")
        if self.network and (self.name != "mnist-pruning" or self.network not in BUDGETS):
            raise MdlkitError(
                f"--network {self.network!r}: mnist-pruning takes one of {', '.join(BUDGETS)}"
            )
        if self.network and self.slow:
            raise MdlkitError("--network picks one network and --slow adds one; give one of them")
        check_executor_options(self.workers, self.ray)
        resolve_device(self.device)
        if self.name in ("mnist-pruning", "llc-vs-compressibility", "blier-ollivier"):
            resolve_mnist_path(self.mnist_path)
        if self.name == "lm-compression":
            resolve_text_path(self.data)
        if self.chunk < 0 or (self.chunk and self.name != "lm-compression"):
            raise MdlkitError(
                f"--chunk {self.chunk}: give bytes >= 1 (0: default) for lm-compression"
            )
        if self.name == "llc-vs-compressibility" and self.data is not None:
            resolve_text_path(self.data)


@dataclass(frozen=True)
class ExperimentResult:
    """The experiment's table (Markdown, beside the paper's figures)."""

    table: str

    def report(self) -> Report:
        return Report(self.table)


def run_experiment(
    config: ExperimentConfig, *, folder: RunFolder, progress: bool = False
) -> ExperimentResult:
    """Run (or, in a resumed folder, continue) the experiment; it writes ``results.json``, a
    table and plots into ``folder``."""
    config.validate()
    # where the sweep's jobs run (a device name that a remote node resolves for itself)
    where = Where(workers=config.workers, ray=config.ray, device=config.device)
    if config.name == "teacher-student":
        ts = TeacherStudentExperiment.quick() if config.quick else TeacherStudentExperiment()
        return ExperimentResult(run_teacher_student(ts, folder, progress=progress, **where))
    if config.name == "lm-compression":
        data = str(resolve_text_path(config.data))
        lm = LMCompressionExperiment.quick(data) if config.quick else LMCompressionExperiment(data)
        if config.chunk:  # 0 keeps the experiment's own (the quick one codes 512-byte chunks)
            lm = replace(lm, chunk=config.chunk)
        return ExperimentResult(run_lm_compression(lm, folder, progress=progress, **where))
    path = str(resolve_mnist_path(config.mnist_path))
    if config.name == "blier-ollivier":
        bo = BlierOllivierExperiment.quick(path) if config.quick else BlierOllivierExperiment(path)
        return ExperimentResult(run_blier_ollivier(bo, folder, progress=progress, **where))
    if config.name == "llc-vs-compressibility":
        # The byte model is the optional half: without a text file only the MNIST MLP runs.
        given = config.data is not None or DEFAULT_DATA.is_file()
        text = str(resolve_text_path(config.data)) if given else None
        lc = (
            LLCVsCompressibilityExperiment.quick(path, text)
            if config.quick
            else LLCVsCompressibilityExperiment(mnist_path=path, text_path=text)
        )
        return ExperimentResult(run_llc_vs_compressibility(lc, folder, progress=progress))
    models = ("lenet-300-100", "lenet5-caffe") if config.slow else ("lenet-300-100",)
    models = (config.network,) if config.network else models
    if config.quick:
        mp = MnistPruningExperiment.quick(path, models)
    else:
        mp = MnistPruningExperiment.of(path, models)
    return ExperimentResult(run_mnist_pruning(mp, folder, progress=progress, **where))
