"""The main pipeline as one run: data → the shortest model → encode → verify → report.

Reads top to bottom: load data, build the model from a seed (and read a teacher's soft labels,
``--teacher``), set α by the description length, run :func:`mdlkit.training.shortest_model`
(train plainly or with a regularizer, prune and fine-tune, the step of the shortest code,
fine-tune on its grid), encode the weights and the training targets (the true labels, with or
without a teacher), decode both, and measure everything in bits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlkit.bits import LN2, CodeLength
from mdlkit.codes.two_part import TwoPartCode, two_part_code
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.data import Splits
from mdlkit.devices import resolve_device
from mdlkit.heads import Evaluation, Head, evaluate, head_for
from mdlkit.models import ModelSpec
from mdlkit.models.factory import Factories, allowed_factories
from mdlkit.pruning import count_nonzero, count_parameters
from mdlkit.recipes.fit_config import FitConfig, fit_alpha, fit_data, fit_spec
from mdlkit.recipes.teacher import fit_teacher
from mdlkit.report import Report, fit_table, plot_fit_runs
from mdlkit.report.notes import empty_model_note
from mdlkit.runs import RunFolder
from mdlkit.training import PipelineResult, PruneResult, TrainResult, shortest_model
from mdlkit.training.distributed import init_from_environment

__all__ = [
    "FitConfig",
    "FitResult",
    "fit_alpha",
    "fit_data",
    "fit_report",
    "fit_spec",
    "run_fit",
    "write_fit_outputs",
]


@dataclass
class FitResult:
    """The outcome of :func:`run_fit`: accuracy, sparsity and the verified code lengths."""

    config: FitConfig
    spec: ModelSpec
    test: Evaluation
    nonzero: int
    n_params: int
    two_part: TwoPartCode
    uniform: CodeLength | None
    phases: dict[str, TrainResult]
    pruning: PruneResult | None
    seconds: float
    alpha: float = 0.0
    bits_per_nonzero: float | None = None
    task_reason: str | None = None
    target_errors: dict[str, float] | None = None

    @property
    def compression_rate(self) -> float:
        """CR = total parameters / nonzero parameters (biases included)."""
        return self.n_params / max(self.nonzero, 1)

    def summary(self) -> dict[str, Any]:
        """The figures of one table row, all lengths in bits."""
        tp = self.two_part
        regression = not tp.head.is_classification
        return {
            "method": self.config.method,
            "alpha": self.alpha,
            "alpha_setting": self.config.alpha,
            "codec_bits_per_nonzero": self.bits_per_nonzero,
            "task": "regression" if regression else "classification",
            "test_accuracy": None if regression else self.test.accuracy,
            "test_mse": 2 * self.test.loss if regression else None,
            **(self.target_errors or {}),
            "test_loss_bits": None if regression else self.test.loss / LN2,
            "sigma": tp.sigma,
            "sigma_trained": tp.sigma_trained,
            "nonzero": self.nonzero,
            "params": self.n_params,
            "compression_rate": self.compression_rate,
            "model_bits": dict(tp.model_conventions),
            "model_codec_parts_bits": dict(tp.encoded_model.length.parts),
            "two_part_parts_bits": dict(tp.length.parts),
            "quantization_step": tp.encoded_model.step,
            "data_ideal_bits": tp.data_ideal_bits,
            "data_coded_bits": tp.data_coded_bits,
            "two_part_bits": tp.length.total,
            "uniform_bits": self.uniform.total if self.uniform is not None else None,
            "tamade_threshold": self.pruning.tamade.threshold if self.pruning else None,
            "seconds": self.seconds,
        }

    def report(self) -> Report:
        """The table of this run, as ``mdlkit fit`` prints it."""
        title = f"mdlkit fit: {self.config.dataset}, {self.config.model}, {self.config.method}"
        return fit_report([(self.config.method, self)], title)


def run_fit(
    config: FitConfig,
    *,
    folder: RunFolder | None = None,
    progress: bool = False,
    splits: Splits | None = None,
    checkpoint_dir: str | Path | None = None,
    factories: Factories | None = None,
) -> FitResult:
    """Run the whole pipeline for ``config`` and return verified results.

    A ``config.model`` naming a factory ``module:name`` takes the callable from ``factories``
    (``{reference: callable}`` or callables), else imports it.

    Every phase checkpoints into ``checkpoint_dir`` (a second call resumes). With ``folder``,
    the run records its config there first (and ``scaling.json``: the feature scaling fitted on
    the training rows of a user's table), checkpoints into it, and ends by writing
    ``results.json``, ``<method>.mdlw``, ``table.txt`` and ``training.png``.

    Training runs on ``config.device``. Started by ``torchrun`` with several ranks, every phase
    trains data-parallel (:mod:`mdlkit.training.distributed`); rank 0 alone writes the folder,
    prunes, picks the quantization step and codes, and every rank returns its result.
    """
    config.validate(data=splits is None)
    start = time.perf_counter()
    device = resolve_device(config.device)
    parallel = init_from_environment(device)
    if parallel is not None:
        device = parallel.device
    # Data and model first: a model that does not fit the data is refused before anything is
    # written.
    splits = splits if splits is not None else fit_data(config)
    spec = fit_spec(config, splits, factories)
    # A teacher's soft labels on the training split (None without --teacher); a bad teacher
    # folder is refused here, before anything is written. The teacher may be of the student's
    # own factory: the user named it.
    distill = fit_teacher(config, splits, {**allowed_factories(factories), **spec.factories})
    if folder is not None:
        if parallel is None or parallel.rank == 0:
            folder.start({"runs": {config.method: config.to_dict()}})
            if splits.scaling is not None:  # how to prepare new inputs for the decoded model
                folder.write_text("scaling.json", json.dumps(splits.scaling.to_dict(), indent=1))
        if parallel is not None:
            parallel.barrier()
        checkpoint_dir = folder.checkpoints
    torch.manual_seed(config.seed)
    model = spec.build()
    # Measured before training draws any random number, so the weights are as before.
    alpha, bits_per_nonzero = fit_alpha(config, model, spec, len(splits.train))
    # The head is the loss of training and the distribution of the data part alike.
    head = head_for(splits.train, epsilon=config.epsilon, learn_sigma=True)
    pipeline = shortest_model(
        model,
        spec,
        splits,
        head,
        config.build_regularizer(alpha, len(splits.train), model),
        replace(config.pipeline(), distill=distill),
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        device=device,
        parallel=parallel,
    )
    compute = lambda: _code_and_write(  # noqa: E731
        config, spec, model, splits, head, pipeline, alpha, bits_per_nonzero, start, folder
    )
    return compute() if parallel is None else parallel.on_main(compute)


def _code_and_write(
    config: FitConfig,
    spec: ModelSpec,
    model: nn.Module,
    splits: Splits,
    head: Head,
    pipeline: PipelineResult,
    alpha: float,
    bits_per_nonzero: float,
    start: float,
    folder: RunFolder | None,
) -> FitResult:
    """The trained ``model`` coded at the pipeline's step (two-part, decoded back) and the
    run's outputs written to ``folder``."""
    # Regression sends σ refit on the decoded model (shorter than the trained one; both are
    # recorded in the result).
    code = two_part_code(model, spec, splits.train, pipeline.step, splits.n_classes, head=head)
    uniform = (
        uniform_codelength(len(splits.train), splits.n_classes)
        if splits.n_classes is not None
        else None
    )
    decoded = code.decoded_model
    errors = None if splits.n_classes is not None else _target_errors(decoded, splits)
    result = FitResult(
        config=config,
        spec=spec,
        test=evaluate(decoded, splits.test),
        nonzero=count_nonzero(decoded),
        n_params=count_parameters(decoded),
        two_part=code,
        uniform=uniform,
        phases=pipeline.phases,
        pruning=pipeline.pruning,
        seconds=time.perf_counter() - start,
        alpha=alpha,
        bits_per_nonzero=bits_per_nonzero,
        task_reason=splits.task_reason,
        target_errors=errors,
    )
    if folder is not None:
        write_fit_outputs(folder, [(config.method, result)], result.report())
    return result


@torch.no_grad()
def _target_errors(model: nn.Module, splits: Splits) -> dict[str, float]:
    """Test RMSE and MAE in the target's own units: the standardized residuals times the
    training targets' standard deviation (1 where the data came unscaled)."""
    model.eval()
    residual = (model(splits.test.x) - splits.test.y).double().numpy()
    if splits.scaling is not None and splits.scaling.target_std is not None:
        residual = residual * np.asarray(splits.scaling.target_std)
    return {
        "test_rmse_target_units": float(np.sqrt(np.mean(residual**2))),
        "test_mae_target_units": float(np.mean(np.abs(residual))),
    }


PLAIN_ADVICE = "train with a penalty (--method drr) to prune what does not pay"


def fit_report(runs: Sequence[tuple[str, FitResult]], title: str) -> Report:
    """One column per run, one row per figure (bits throughout), and each run's time."""
    table = fit_table([(name, r.summary()) for name, r in runs], title)
    notes = [f"{name}: {r.task_reason}" for name, r in runs[:1] if r.task_reason]
    notes += [f"{name}: {r.seconds:.1f} s, decoded model and data verified" for name, r in runs]
    notes += [
        f"{name}: trained on the soft labels of {r.config.teacher} too (T = "
        f"{r.config.temperature:g}, W = {r.config.teacher_weight:g}); the code codes the true "
        "labels without it"
        for name, r in runs
        if r.config.teacher is not None
    ]
    if any(not r.two_part.head.is_classification for _, r in runs):
        notes.append(
            "regression: the coder sends the range of target bins first (the 'side' bits of "
            "the total) and renormalizes each Gaussian over that range, so the coded data can "
            "be below the ideal bits, which count every bin"
        )
    for name, r in runs:  # a code no shorter than sending the labels as they are says so
        uniform = None if r.uniform is None else r.uniform.total
        note = (
            empty_model_note(r.nonzero, r.two_part.length.total, uniform, advice=PLAIN_ADVICE)
            if r.config.method == "none"
            else empty_model_note(r.nonzero, r.two_part.length.total, uniform)
        )
        notes += [f"{name}: {note}"] if note is not None else []
    return Report(table, tuple(notes))


def write_fit_outputs(
    folder: RunFolder, runs: Sequence[tuple[str, FitResult]], report: Report
) -> None:
    """Write ``results.json`` (figures and per-epoch histories), ``<run>.mdlw`` (the encoded
    models, decodable with :func:`mdlkit.coding.read_model`), ``table.txt`` and ``training.png``.
    """
    summaries = [(name, r.summary()) for name, r in runs]
    for name, r in runs:
        r.two_part.encoded_model.write(folder.file(f"{name}.mdlw"))
    folder.write_text("table.txt", report.text())
    plot_fit_runs({name: r.phases for name, r in runs}, summaries, folder.file("training.png"))
    # Last: results.json marks the run as finished.
    folder.write_results(
        {
            "runs": {
                name: {
                    **summary,
                    "model": r.spec.to_dict(),
                    "phases": {k: v.to_dict() for k, v in r.phases.items()},
                    "model_file": f"{name}.mdlw",
                }
                for (name, r), (_, summary) in zip(runs, summaries, strict=True)
            },
        }
    )
