"""Recipe: the local learning coefficient λ̂ of a trained model, or of a toy whose λ is known.

Reads top to bottom: find the model and its data — the weight file a ``mdlkit fit`` run wrote
(``demo`` and ``select`` folders too), decoded, with the run's TRAINING split rebuilt from its
stored settings the way fit made it (:func:`~mdlkit.recipes.fit.fit_data`), and the run's loss
(cross-entropy, or for regression the Gaussian head at the σ the run sent); or a toy
(:func:`~mdlkit.complexity.make_toy`) with its true λ —, then estimate λ̂ (MALA on the full
batch, :func:`~mdlkit.complexity.estimate_llc`) and check it at half the step
(:func:`~mdlkit.complexity.check_step`), or sweep the step with ``calibrate`` and recommend one
(:func:`~mdlkit.complexity.calibrate_llc`). Every setting is printed and stored beside λ̂: it is
only comparable at identical settings. λ ≤ d/2 always (d parameters), printed beside it.

Outputs in a NEW run folder: ``config.json``, ``llc.json`` (the estimate, what was measured, the
true λ of a toy), ``llc_trace.png`` (the chains' traces) and ``table.txt``; with ``calibrate``
``llc_calibration.json``, ``llc_calibration.png`` and ``table.txt`` instead.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from mdlkit.complexity import (
    CALIBRATION_STEPS,
    TOYS,
    Calibration,
    LLCResult,
    LLCSettings,
    calibrate_llc,
    check_step,
    estimate_llc,
    make_toy,
)
from mdlkit.data import Split
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, GaussianHead, Head
from mdlkit.models.factory import import_factories
from mdlkit.pruning import count_nonzero
from mdlkit.recipes.fit_run import read_fit_run
from mdlkit.report import Report, plot_llc_calibration, plot_llc_traces
from mdlkit.report.llc_tables import llc_calibration_report, llc_report
from mdlkit.runs import RunFolder, write_json

__all__ = ["LLCCalibrationResult", "LLCConfig", "LLCRunResult", "run_llc"]

_DEFAULT = LLCSettings()
_SETTINGS = tuple(f.name for f in fields(LLCSettings))

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
    allow_factory: tuple[str, ...] = ()
    """model factories module:name the run's weight file may name (imported: trust the code)"""
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
    sampler: Literal["auto", "mala", "sgld", "rmsprop"] = _DEFAULT.sampler
    """auto (mala on a full batch, else sgld) | mala (full batch) | sgld | rmsprop"""
    adapt_step: bool = _DEFAULT.adapt_step
    """mala tunes its step in the burn-in, starting from --step (--no-adapt-step: keep it)"""
    calibrate: bool = False
    """sweep the step (and γ) instead, print λ̂ at each and recommend a setting"""
    check_step: bool = True
    """self-check: warn if step gap + half-chain gap + 2·std. error > 10 % (--no-check-step)"""
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


def _run_subject(config: LLCConfig) -> _Subject:
    """The decoded model of a run folder, the run's training split and the run's loss."""
    assert config.run_dir is not None
    run = read_fit_run(config.run_dir, config.run_name, import_factories(config.allow_factory))
    path, fit, model, train = run.path, run.config, run.model, run.splits.train
    if count_nonzero(model) == 0:  # a constant model: no minimum, nothing to sample around
        raise MdlkitError(
            f"the model of {path} ({run.name}) has every weight pruned, so λ̂ means nothing; "
            "fit it with a smaller --alpha (or --method none) and measure that run"
        )
    head: Head
    sigma = run.figures.get("sigma")
    if run.splits.n_classes is not None:
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
    stored_bits = run.figures.get("data_ideal_bits")
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
        "run": run.name,
        "model_file": run.model_file,
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
        f"{path} ({run.name}: {fit.dataset}, {fit.model})",
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
    step_check: dict[str, Any] | None = None
    """the self-check's figures (:meth:`~mdlkit.complexity.StepCheck.to_dict`), when it ran"""

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
            "step_check": self.step_check,
        }

    def report(self) -> Report:
        return llc_report(
            self.title,
            self.estimate,
            d=self.d,
            n=int(self.measured["n"]),
            loss=self.measured["loss"],
            true_llc=self.true_llc,
            relative_error=self.relative_error,
            warnings=self.warnings,
        )

    def write(self, folder: RunFolder) -> None:
        """``llc.json``, ``llc_trace.png`` and ``table.txt`` into ``folder`` (started)."""
        write_json(folder.file("llc.json"), self.to_dict())
        plot_llc_traces(
            self.estimate,
            folder.file("llc_trace.png"),
            true_llc=self.true_llc,
            title=f"LLC loss traces: {self.title}",
        )
        folder.write_text("table.txt", self.report().text())


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
        return llc_calibration_report(
            self.title,
            self.calibration,
            base=self.config.settings(),
            d=self.d,
            loss=self.measured["loss"],
            true_llc=self.true_llc,
            warnings=self.checks,
        )

    def write(self, folder: RunFolder) -> None:
        """``llc_calibration.json``, ``llc_calibration.png`` and ``table.txt`` into ``folder``
        (started)."""
        write_json(folder.file("llc_calibration.json"), self.to_dict())
        plot_llc_calibration(self.calibration, folder.file("llc_calibration.png"),
                             true_llc=self.true_llc, half_d=self.d / 2,
                             title=f"LLC calibration: {self.title}")  # fmt: skip
        folder.write_text("table.txt", self.report().text())


PILOT_STEPS = (50, 200)
"""Burn-in and draws of the one short chain run before the estimate (a few seconds)."""


def _pilot(subject: _Subject, settings: LLCSettings, device: torch.device) -> None:
    """One short chain first: if its λ̂ is already below 0, say so on stderr at once rather
    than after the minutes the full estimate takes (the report's first line says it again)."""
    burn_in, draws = PILOT_STEPS
    pilot = replace(settings, chains=1, burn_in=min(burn_in, settings.burn_in),
                    draws=min(draws, settings.draws))  # fmt: skip
    early = estimate_llc(subject.model, subject.data, subject.loss_fn, settings=pilot,
                         device=device)  # fmt: skip
    if early.llc < 0:
        sys.stderr.write(
            f"mdlkit llc: w* is not a minimum: train longer (a {sum(PILOT_STEPS)}-step pilot "
            f"chain gives λ̂ = {early.llc:.3g}; the full estimate follows)\n"
        )


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
    settings, device = config.settings(), resolve_device(config.device)
    found = (subject.title, subject.measured, subject.d, subject.true_llc)
    result: LLCRunResult | LLCCalibrationResult
    if config.calibrate:
        steps, gammas = config.steps or CALIBRATION_STEPS, config.gammas or None
        calibration = calibrate_llc(
            subject.model, subject.data, subject.loss_fn, settings=settings, steps=steps,
            gammas=gammas, progress=progress, device=device,
        )  # fmt: skip
        result = LLCCalibrationResult(config, *found, calibration, subject.checks)
    else:
        _pilot(subject, settings, device)
        checks, figures = subject.checks, None
        if config.check_step:  # λ̂ at ε and ε/2: a gap or a spread is warned with its size
            check = check_step(subject.model, subject.data, subject.loss_fn, settings=settings,
                               progress=progress, device=device)  # fmt: skip
            estimate, warning, figures = check.chosen, check.warning(), check.to_dict()
            checks += (warning,) if warning is not None else ()
        else:
            estimate = estimate_llc(
                subject.model, subject.data, subject.loss_fn, settings=settings,
                progress=progress, device=device,
            )  # fmt: skip
        result = LLCRunResult(config, *found, estimate, checks, figures)
    if folder is not None:
        folder.start({"config": asdict(config)})
        result.write(folder)
    return result
