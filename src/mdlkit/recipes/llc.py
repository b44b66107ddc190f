"""Recipe: the local learning coefficient λ̂ of a trained model, or of a toy whose λ is known.

Reads top to bottom: find the model and its data — the weight file a ``mdlkit fit`` run wrote
(``demo`` and ``select`` folders too), decoded, with the run's TRAINING split rebuilt from its
stored settings the way fit made it (:func:`~mdlkit.recipes.fit.fit_data`), and the run's loss
(cross-entropy, or for regression the Gaussian head at the σ the run sent); or a toy
(:func:`~mdlkit.complexity.make_toy`) with its true λ —, then estimate λ̂ by SGLD
(:func:`~mdlkit.complexity.estimate_llc`), or sweep the step with ``calibrate`` and recommend one
(:func:`~mdlkit.complexity.calibrate_llc`). Every setting is printed and stored beside λ̂: it is
only comparable at identical settings. λ ≤ d/2 always (d the number of parameters), so d/2 is
printed beside it.

Outputs in a NEW run folder: ``config.json``, ``llc.json`` (the estimate, what was measured, the
true λ of a toy), ``llc_trace.png`` (the chains' traces) and ``table.txt``; with ``calibrate``
``llc_calibration.json``, ``llc_calibration.png`` and ``table.txt`` instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from rich.table import Table
from torch import nn

from mdlkit.coding import read_model
from mdlkit.complexity import (
    CALIBRATION_STEPS,
    TOYS,
    Calibration,
    LLCResult,
    LLCSettings,
    calibrate_llc,
    estimate_llc,
    make_toy,
)
from mdlkit.data import Split
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, GaussianHead, Head
from mdlkit.recipes.fit import FitConfig, fit_data
from mdlkit.report import Report, plot_llc_calibration, plot_llc_traces
from mdlkit.runs import RunFolder, write_json

__all__ = ["LLCCalibrationResult", "LLCConfig", "LLCRunResult", "run_llc"]

_DEFAULT = LLCSettings()
_SETTINGS = tuple(f.name for f in fields(LLCSettings))
_FIT_FIELDS = frozenset(f.name for f in fields(FitConfig))

# The rebuilt training split must give the run's own ideal data bits. It is the coder's own
# computation (float64, the same decoded model), so classification agrees exactly; the tolerance
# is for a regression stream, whose range clips the cost of far outliers.
_DATA_CHECK_TOLERANCE = 1e-4


@dataclass(frozen=True)
class LLCConfig:
    """What to measure (a fit run's model, or a toy) and the sampler's settings."""

    run_dir: str | None = None
    """a finished run folder of mdlkit fit (or demo, select): its model and training data"""
    toy: str | None = None
    """a model with known λ instead: linear | deep-linear-W-…-W-rR | normal-crossing"""
    run_name: str | None = None
    """which model of a folder holding several (a demo folder: plain | drr)"""
    toy_n: int = 10_000
    """training samples of the toy's data"""
    toy_seed: int = 0
    """seed of the toy's data"""
    step: float = _DEFAULT.step
    """SGLD step ε"""
    gamma: float = _DEFAULT.gamma
    """localization strength γ ≥ 0 (ε·γ < 2; keep it ≪ 1)"""
    n_beta: float | None = _DEFAULT.n_beta
    """inverse temperature times n (default: n / ln n)"""
    chains: int = _DEFAULT.chains
    """independent chains (their spread is the std)"""
    burn_in: int = _DEFAULT.burn_in
    """SGLD steps per chain before the draws (not averaged)"""
    draws: int = _DEFAULT.draws
    """SGLD steps per chain averaged into λ̂"""
    batch_size: int | None = _DEFAULT.batch_size
    """samples per SGLD step; 0 or null = full batch"""
    seed: int = _DEFAULT.seed
    """seed of the chains (chain c uses seed + 1000·c)"""
    sampler: Literal["sgld", "rmsprop"] = _DEFAULT.sampler
    """sgld, or rmsprop (preconditioned; overestimates λ on the toys)"""
    calibrate: bool = False
    """sweep the step (and γ) instead, print λ̂ at each and recommend a setting"""
    steps: tuple[float, ...] = ()
    """steps the calibration tries, comma-separated (default 1e-7 … 3.2e-2, √10 apart)"""
    gammas: tuple[float, ...] = ()
    """γ values the calibration tries, comma-separated (default: --gamma)"""
    device: str = "auto"
    """where the chains run: auto | cpu | cuda | cuda:N | mps"""

    def __post_init__(self) -> None:
        if self.batch_size == 0:  # the command line's spelling of "full batch"
            object.__setattr__(self, "batch_size", None)

    def settings(self) -> LLCSettings:
        """The estimator's settings."""
        return LLCSettings(**{name: getattr(self, name) for name in _SETTINGS})

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on a bad setting, before anything runs or is written. (A
        run folder is checked when it is read, still before anything is written.)"""
        resolve_device(self.device)
        if self.run_dir is not None and self.toy is not None:
            raise MdlkitError("give a run folder or --toy NAME, not both")
        if self.run_dir is None and self.toy is None:
            raise MdlkitError(
                "give a run folder (mdlkit llc RUN_DIR) or a toy with known λ "
                f"(--toy NAME: {', '.join(TOYS)})"
            )
        if self.toy is not None:
            if self.run_name is not None:
                raise MdlkitError("--run-name chooses a model of a run folder; a toy has one")
            if self.toy_n < 10:
                raise MdlkitError(f"a toy needs at least 10 samples, got --toy-n {self.toy_n}")
            make_toy(self.toy, n=10)  # an unknown name or an impossible rank, cheaply
        self.settings().validate()
        if (self.steps or self.gammas) and not self.calibrate:
            raise MdlkitError("--steps and --gammas set the calibration's sweep; add --calibrate")
        if any(not (s > 0 and math.isfinite(s)) for s in self.steps):
            raise MdlkitError("every step in --steps must be a finite number > 0")
        if any(not (g >= 0 and math.isfinite(g)) for g in self.gammas):
            raise MdlkitError("every γ in --gammas must be a finite number >= 0")


@dataclass(frozen=True)
class _Subject:
    """A model at w*, the data λ̂ is measured on, its loss, and what they are, for the record."""

    model: nn.Module
    data: Split
    loss_fn: Any
    title: str
    measured: dict[str, Any]
    true_llc: float | None = None
    checks: tuple[str, ...] = ()

    @property
    def d(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit") from None
    if not isinstance(data, dict):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit")
    return data


def _stored_run(
    folder: RunFolder, run_name: str | None
) -> tuple[str, FitConfig, str, dict[str, Any]]:
    """``(name, the fit settings, the weight file's name, the run's figures)`` of a finished
    fit, demo or select folder; ``select`` gives its selected model."""
    path = folder.path
    runs = folder.read_config().get("runs")
    if not isinstance(runs, dict) or not runs:
        raise MdlkitError(
            f"{path} is not a run folder of mdlkit fit, demo or select (no fit settings in "
            "its config.json)"
        )
    if not folder.finished:
        raise MdlkitError(
            f"the run in {path} has not finished (no results.json), so it has no weight file "
            f"yet; finish it with mdlkit fit --resume {path}"
        )
    results = _read_json(path / "results.json")
    names = list(runs)
    if run_name is None:
        if len(names) > 1:
            raise MdlkitError(
                f"{path} holds the runs {', '.join(names)}; choose one with --run-name"
            )
        run_name = names[0]
    elif run_name not in runs:
        raise MdlkitError(f"{path} has no run {run_name!r}; it holds {', '.join(names)}")
    try:
        if names == ["select"]:
            # A select run's fit options (all but its grid) load the data every candidate used.
            fit_options = {k: v for k, v in runs["select"].items() if k in _FIT_FIELDS}
            chosen = str(results["chosen"])
            record = folder.record(chosen) or {}  # the all-pruned candidate has no record
            return f"select: {chosen}", FitConfig.from_dict(fit_options), "selected.mdlw", record
        config = FitConfig.from_dict(runs[run_name])
        figures = results["runs"][run_name]
        return run_name, config, str(figures.get("model_file", f"{run_name}.mdlw")), figures
    except (KeyError, TypeError, AttributeError):
        raise MdlkitError(f"{path} is damaged or not written by mdlkit fit") from None


def _run_subject(config: LLCConfig) -> _Subject:
    """The decoded model of a run folder, the run's training split and the run's loss."""
    assert config.run_dir is not None
    path = Path(config.run_dir)
    if not path.is_dir():
        raise MdlkitError(f"run folder not found: {path}")
    if not (path / "config.json").is_file():
        raise MdlkitError(f"{path} is not an mdlkit run folder (no config.json)")
    folder = RunFolder(path)
    name, fit, model_file, figures = _stored_run(folder, config.run_name)
    fit.validate()  # e.g. the dataset file of the run has gone
    model = read_model(path / model_file)
    model.eval()
    splits = fit_data(fit)
    train = splits.train
    try:
        with torch.no_grad():
            model(train.x[:2])
    except RuntimeError as error:  # e.g. the dataset file has other columns now
        first = str(error).splitlines()[0]
        raise MdlkitError(
            f"the model in {path / model_file} does not take the rebuilt training data: {first}"
        ) from None
    head: Head
    sigma = figures.get("sigma")
    if splits.n_classes is not None:
        head, loss = CategoricalHead(), "cross-entropy (nats/sample)"
    else:
        sent = sigma is not None
        if not sent:  # as the two-part code refits it: the RMS residual of the decoded model
            sigma = GaussianHead(epsilon=fit.epsilon).refit_sigma(model, train)
        head = GaussianHead(float(np.float32(sigma)), fit.epsilon, learn_sigma=False)
        loss = (
            f"Gaussian NLL at σ = {head.sigma:.6g} ({'the run' if sent else 'refit'}), "
            "without its constant (nats/sample)"
        )
    checks = []
    stored_bits = figures.get("data_ideal_bits")
    if isinstance(stored_bits, int | float):
        bits = float(head.bits(model, train.x, train.y).sum())
        if abs(bits - stored_bits) > _DATA_CHECK_TOLERANCE * max(abs(stored_bits), 1.0):
            checks.append(
                f"the training split rebuilt from the run's settings gives {bits:,.1f} data "
                f"bits, the run recorded {stored_bits:,.1f}: the data (or the dataset file) "
                "differ from the run's"
            )
    measured = {
        "run_dir": str(path),
        "run": name,
        "model_file": model_file,
        "dataset": fit.dataset,
        "target": fit.target,
        "model": fit.model,
        "method": fit.method,
        "data": "training split, rebuilt from the run's settings",
        "n": len(train),
        "loss": loss,
        "sigma": head.sigma if isinstance(head, GaussianHead) else None,
    }
    return _Subject(
        model,
        train,
        head,
        f"{path} ({name}: {fit.dataset}, {fit.model})",
        measured,
        None,
        tuple(checks),
    )


def _toy_subject(config: LLCConfig) -> _Subject:
    assert config.toy is not None
    toy = make_toy(config.toy, n=config.toy_n, seed=config.toy_seed)
    measured = {
        "toy": toy.name,
        "description": toy.description,
        "n": len(toy.data),
        "toy_seed": config.toy_seed,
        "loss": "½‖y − f(x)‖², the Gaussian NLL at σ = 1 without its constant (nats/sample)",
    }
    return _Subject(toy.model, toy.data, toy.loss_fn, f"toy {toy.name}", measured, toy.true_llc)


def _setting_rows(result: LLCResult, n: int) -> list[tuple[str, str]]:
    s = result.settings
    n_beta = "given" if s.n_beta is not None else f"n / ln n, n = {n:,}"
    return [
        ("nβ", f"{result.n_beta:.6g} ({n_beta})"),
        ("L_n(w*) (nats/sample, all training samples)", f"{result.initial_loss:.6g}"),
        ("step ε", f"{s.step:g}"),
        ("localization γ (ε·γ)", f"{s.gamma:g} ({s.step * s.gamma:.2g})"),
        ("chains × (burn-in + draws)", f"{s.chains} × ({s.burn_in:,} + {s.draws:,})"),
        ("batch size", "full batch" if s.batch_size is None else f"{s.batch_size:,}"),
        ("sampler, seed", f"{s.sampler}, {s.seed}"),
        ("E‖w − w*‖² over the draws", f"{result.distance:.4g}"),
        ("time", f"{result.seconds:.1f} s"),
    ]


@dataclass(frozen=True)
class LLCRunResult:
    """λ̂ of one model with its settings, what was measured, d/2 and (a toy's) true λ."""

    config: LLCConfig
    title: str
    measured: dict[str, Any]
    d: int
    true_llc: float | None
    estimate: LLCResult
    checks: tuple[str, ...] = ()

    @property
    def relative_error(self) -> float | None:
        """(λ̂ − λ) / λ for a toy, else None."""
        if self.true_llc is None or self.true_llc == 0:
            return None
        return (self.estimate.llc - self.true_llc) / self.true_llc

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.checks + self.estimate.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.estimate.to_dict(),
            "warnings": list(self.warnings),
            "measured": self.measured,
            "d": self.d,
            "half_d": self.d / 2,
            "true_llc": self.true_llc,
            "relative_error": self.relative_error,
        }

    def report(self) -> Report:
        r = self.estimate
        table = Table(title=f"mdlkit llc: {self.title}")
        table.add_column("")
        table.add_column("value", justify="right")
        table.add_row("λ̂ (mean ± std over chains)", f"{r.llc:.4g} ± {r.std:.2g}")
        table.add_row("per chain", ", ".join(f"{v:.4g}" for v in r.per_chain))
        if self.true_llc is not None:
            table.add_row("true λ", f"{self.true_llc:g}")
        if self.relative_error is not None:
            table.add_row("relative error (λ̂ − λ) / λ", f"{100 * self.relative_error:+.1f} %")
        table.add_row("d/2 (λ ≤ d/2 always)", f"{self.d / 2:g} (d = {self.d:,} parameters)")
        for label, value in _setting_rows(r, int(self.measured["n"])):
            table.add_row(label, value)
        notes = [f"loss: {self.measured['loss']}"]
        notes += [f"warning: {w}" for w in self.warnings]
        if not self.warnings:
            notes.append("no warnings: the traces rose above L_n(w*) and settled")
        notes.append("λ̂ is comparable only at identical settings (nβ, ε, γ, batch, steps)")
        return Report(table, tuple(notes))


@dataclass(frozen=True)
class LLCCalibrationResult:
    """λ̂ at every step (and γ) tried, with warnings, and the recommended setting."""

    config: LLCConfig
    title: str
    measured: dict[str, Any]
    d: int
    true_llc: float | None
    calibration: Calibration
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        c = self.calibration
        return {
            "rows": [
                {
                    "settings": asdict(settings),
                    "result": None if result is None else result.to_dict(),
                    "warnings": list(warnings),
                }
                for settings, result, warnings in c.rows
            ],
            "recommended": None if c.recommended is None else asdict(c.recommended),
            "reason": c.reason,
            "warnings": list(self.checks),
            "measured": self.measured,
            "d": self.d,
            "half_d": self.d / 2,
            "true_llc": self.true_llc,
        }

    def report(self) -> Report:
        c = self.calibration
        table = Table(title=f"mdlkit llc --calibrate: {self.title}")
        for column in ("step ε", "γ", "λ̂", "std"):
            table.add_column(column, justify="right")
        table.add_column("warnings")
        for settings, result, warnings in c.rows:
            mark = "→ " if settings == c.recommended else ""
            table.add_row(
                f"{mark}{settings.step:.3g}",
                f"{settings.gamma:g}",
                "—" if result is None else f"{result.llc:.4g}",
                "—" if result is None else f"{result.std:.2g}",
                "; ".join(warnings) or "none",
            )
        base = self.config.settings()
        notes = [f"loss: {self.measured['loss']}"]
        notes += [f"warning: {w}" for w in self.checks]
        notes.append(
            f"every row: {base.chains} chains × ({base.burn_in:,} + {base.draws:,}) steps, "
            f"batch {'full' if base.batch_size is None else base.batch_size}, "
            f"nβ {'n / ln n' if base.n_beta is None else f'{base.n_beta:g}'}, {base.sampler}; "
            f"d/2 = {self.d / 2:g}"
            + ("" if self.true_llc is None else f"; true λ = {self.true_llc:g}")
        )
        if c.recommended is None:
            notes.append(f"no setting recommended: {c.reason}")
        else:
            notes.append(
                f"recommended: --step {c.recommended.step:g} --gamma "
                f"{c.recommended.gamma:g} ({c.reason})"
            )
        return Report(table, tuple(notes))


def run_llc(
    config: LLCConfig, *, folder: RunFolder | None = None, progress: bool = False
) -> LLCRunResult | LLCCalibrationResult:
    """Estimate λ̂ (or calibrate the step) for ``config``'s run folder or toy. Everything is
    read and checked before ``folder`` is created; then it receives ``config.json``,
    ``llc.json``, ``llc_trace.png`` and ``table.txt`` (with ``calibrate``:
    ``llc_calibration.json``, ``llc_calibration.png`` and ``table.txt``). ``progress`` shows
    a bar on stderr."""
    config.validate()
    subject = _run_subject(config) if config.run_dir is not None else _toy_subject(config)
    settings = config.settings()
    if config.calibrate:
        calibration = calibrate_llc(
            subject.model,
            subject.data,
            subject.loss_fn,
            settings=settings,
            steps=config.steps or CALIBRATION_STEPS,
            gammas=config.gammas or None,
            progress=progress,
            device=resolve_device(config.device),
        )
        swept = LLCCalibrationResult(
            config,
            subject.title,
            subject.measured,
            subject.d,
            subject.true_llc,
            calibration,
            subject.checks,
        )
        if folder is not None:
            folder.start({"config": asdict(config)})
            write_json(folder.file("llc_calibration.json"), swept.to_dict())
            plot_llc_calibration(
                calibration,
                folder.file("llc_calibration.png"),
                true_llc=subject.true_llc,
                half_d=subject.d / 2,
                title=f"LLC calibration: {subject.title}",
            )
            folder.write_text("table.txt", swept.report().text())
        return swept
    estimate = estimate_llc(
        subject.model, subject.data, subject.loss_fn, settings=settings, progress=progress,
        device=resolve_device(config.device),
    )  # fmt: skip
    result = LLCRunResult(
        config,
        subject.title,
        subject.measured,
        subject.d,
        subject.true_llc,
        estimate,
        subject.checks,
    )
    if folder is not None:
        folder.start({"config": asdict(config)})
        write_json(folder.file("llc.json"), result.to_dict())
        plot_llc_traces(
            estimate,
            folder.file("llc_trace.png"),
            true_llc=subject.true_llc,
            title=f"LLC loss traces: {subject.title}",
        )
        folder.write_text("table.txt", result.report().text())
    return result
