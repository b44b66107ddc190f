"""Recipe: choose the strength (and width, method) by the code itself, and pay for the choice.

Reads top to bottom: load the data, list the candidates — every strength α of the grid (by
default α* · 2^k for k = −4…2, α* = c·ln2/n from the weight codec's cost per nonzero), for every
width (by default a linear model, trained at ``linear_lr``, and the MLP of --hidden) and method
asked for — plus the model with EVERY weight pruned, which is always a
candidate; run each through the fit pipeline (resumable; in local processes, one per core by
default, or on a Ray cluster), take the shortest two-part code and charge log2 G bits for
having chosen among G candidates. Beside it: the uniform code and, as the reference for small
n, the prequential code of the same family.

With ``--teacher RUN_DIR`` every trained candidate is distilled as ``fit --teacher`` is (the
same soft labels, temperature and weight: a setting of the one pipeline); the all-pruned model
and the prequential reference are not trained on them, and every length codes the TRUE labels.

Because the all-pruned model is a candidate, the selected code is never longer than that
model's code + log2 G, i.e. the uniform code (for classification: an all-zero network predicts
1/K for every class) + log2 G + the all-pruned model's architecture and header bits + the range
coder's termination (under 64 bits); the result checks it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from mdlkit.bits import LN2
from mdlkit.codes import (
    TorchLearner,
    doubling_schedule,
    prequential_code,
    select_shortest,
    two_part_code,
    uniform_codelength,
)
from mdlkit.data import Splits
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate, head_for
from mdlkit.models import ModelSpec
from mdlkit.models.factory import is_factory_reference
from mdlkit.recipes.fit import FitConfig, fit_alpha, fit_data, fit_spec
from mdlkit.recipes.sweep import run_sweep
from mdlkit.recipes.teacher import fit_teacher
from mdlkit.regularizers import METHODS
from mdlkit.report import Report, plot_selection
from mdlkit.report.notes import empty_model_note
from mdlkit.report.selection import selection_table
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.sweeps import check_executor_options, make_executor
from mdlkit.training import TrainConfig

__all__ = ["SelectConfig", "SelectResult", "run_select"]

ALL_PRUNED = "all-pruned"
_CODER_SLACK = 64.0  # bits a range-coded stream may take beyond its ideal length


@dataclass(frozen=True)
class SelectConfig(FitConfig):
    """A fit, tried over a grid; the options of ``fit`` set everything the grid does not."""

    alphas: tuple[float, ...] = ()
    """strengths to try, comma-separated (default: α·2^k, k = −4…2, α from --alpha)"""
    widths: tuple[int, ...] = ()
    """hidden widths to try, comma-separated, 0 = linear (default: linear and --hidden)"""
    linear_lr: float = 0.01
    """Adam learning rate of the linear candidates (width 0)"""
    methods: tuple[str, ...] = ()
    """methods to try, comma-separated: drr, l1, pmmp (default: --method)"""
    prequential: bool = True
    """also compute the prequential code of the same family (--no-prequential skips it)"""
    workers: int | None = None
    """candidates at once, each in a local process (default: one per core; 1: in this one)"""
    ray: str | None = None
    """run the candidates on Ray: auto | ray://HOST:10001 | HOST:6379 | local (mdlkit[ray])"""

    def validate(self, *, data: bool = True) -> None:
        super().validate(data=data)
        if self.teacher is not None and self.ray is not None:
            raise MdlkitError(
                "select --teacher runs its candidates on this machine (each reads the teacher "
                "folder): use --workers N, not --ray"
            )
        if self.method == "none" and not self.methods:
            raise MdlkitError("select needs a regularizer: --method drr | l1 | pmmp")
        for method in self.methods:
            if method not in METHODS or method == "none":
                raise MdlkitError(f"unknown method {method!r} to select over; use drr, l1, pmmp")
        if any(not (a >= 0 and math.isfinite(a)) for a in self.alphas):
            raise MdlkitError("every strength in --alphas must be a finite number >= 0")
        if any(w < 0 for w in self.widths):
            raise MdlkitError("every width in --widths must be >= 0 (0: no hidden layer)")
        if self.widths and self.model != "mlp":
            raise MdlkitError("--widths sets the hidden layer of an MLP; use --model mlp")
        if not self.linear_lr > 0:
            raise MdlkitError(f"linear learning rate must be > 0, got {self.linear_lr}")
        check_executor_options(self.workers, self.ray)

    def fit_config(self) -> FitConfig:
        """The fit options alone (what every candidate starts from)."""
        names = FitConfig.__dataclass_fields__
        return FitConfig(**{k: v for k, v in asdict(self).items() if k in names})

    def candidates(self, center: float) -> list[tuple[str, FitConfig]]:
        """``(key, config)`` of every trained candidate; ``center`` is α when --alpha is auto."""
        base = self.fit_config()
        alphas = self.alphas or tuple(center * 2.0**k for k in range(-4, 3))
        # On small tables the linear model is often the only one whose weights pay for
        # themselves; an MLP with hidden layers gets it beside its own width by default.
        widths: tuple[int | None, ...] = self.widths or (
            (0, None) if self.model == "mlp" and base.hidden else (None,)
        )
        methods = self.methods or (self.method,)
        jobs = []
        for method in methods:
            for width in widths:
                hidden = base.hidden if width is None else (width,) if width else ()
                # a linear model with Adam at 1e-3 stops far from its optimum within the epochs
                lr = self.linear_lr if not hidden and self.model == "mlp" else base.lr
                for alpha in alphas:
                    width_key = f"-h{'x'.join(map(str, hidden)) or 0}"
                    # a user's factory has no hidden layers of --hidden: its key says none
                    width_key = "" if is_factory_reference(self.model) else width_key
                    key = f"{method}{width_key}-a{alpha:.4g}"
                    job = replace(base, method=method, hidden=hidden, alpha=alpha, lr=lr)
                    jobs.append((key, job))
        return jobs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def settings(self) -> dict[str, Any]:
        """What the results depend on: everything but where the candidates run, so that a
        killed run may continue with other ``workers`` or ``ray``."""
        return {k: v for k, v in self.to_dict().items() if k not in ("workers", "ray")}


@dataclass(frozen=True)
class SelectResult:
    """Every candidate's figures (``rows``, all lengths in bits), the index of the chosen one,
    the charged total and its references."""

    config: SelectConfig
    rows: list[dict[str, Any]]
    chosen: int
    selected_bits: float
    choice_bits: float
    uniform_bits: float | None
    prequential_bits: float | None
    bound_bits: float
    alpha_auto: float | None
    bits_per_nonzero: float
    seconds: float
    task_reason: str | None = None

    @property
    def chosen_row(self) -> dict[str, Any]:
        return self.rows[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "candidates": self.rows,
            "chosen": self.chosen_row["key"],
            "selected_bits": self.selected_bits,
            "choice_bits": self.choice_bits,
            "uniform_bits": self.uniform_bits,
            "prequential_bits": self.prequential_bits,
            "bound_bits": self.bound_bits,
            "alpha_auto": self.alpha_auto,
            "codec_bits_per_nonzero": self.bits_per_nonzero,
            "seconds": self.seconds,
        }

    def report(self) -> Report:
        title = f"mdlkit select: {self.config.dataset}, {len(self.rows)} candidates"
        table = selection_table(title, self.rows, self.chosen, self.uniform_bits is None)
        notes = [self.task_reason] if self.task_reason else []
        notes += [
            f"selected: {self.chosen_row['key']}, {self.selected_bits:,.1f} bits = "
            f"{self.chosen_row['two_part_bits']:,.0f} (its two-part code) + "
            f"{self.choice_bits:.2f} (log2 {len(self.rows)}: which candidate)",
        ]
        if self.uniform_bits is not None:
            notes.append(
                f"uniform code: {self.uniform_bits:,.1f} bits; selected / uniform = "
                f"{self.selected_bits / self.uniform_bits:.3f}"
            )
        if self.prequential_bits is not None:
            notes.append(f"prequential code of the same family: {self.prequential_bits:,.1f} bits")
        warning = empty_model_note(
            self.chosen_row["nonzero"],
            self.chosen_row["two_part_bits"],
            self.uniform_bits,
            self.prequential_bits,
        )
        if warning is not None:
            notes.append(warning)
        auto = "" if self.alpha_auto is None else f"α auto = {self.alpha_auto:.4g}, "
        notes.append(
            f"bound (all-pruned model + choice): {self.bound_bits:,.1f} bits; "
            f"{auto}c = {self.bits_per_nonzero:.2f} bits per nonzero weight"
        )
        return Report(table, tuple(notes))


def _all_pruned_row(config: FitConfig, splits: Splits) -> tuple[dict[str, Any], bytes]:
    """The candidate with every weight pruned, coded for real. Its outputs are all zero: for
    classification 1/K per class, which the two-part code sends as the exact uniform stream
    (⌈n·log2 K⌉ bits); for regression the standardized target's train mean 0, under a
    Gaussian with σ refit."""
    spec = fit_spec(config, splits)
    model = spec.build()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    head = head_for(splits.train, epsilon=config.epsilon, learn_sigma=True)
    code = two_part_code(model, spec, splits.train, 1.0, splits.n_classes, head=head)
    test = evaluate(code.decoded_model, splits.test)
    parts = code.length.parts
    row = _row(ALL_PRUNED, None, None, 0, parts, code.length.total, test.loss, test.accuracy,
               splits.n_classes is None)  # fmt: skip
    return row, code.encoded_model.data


def _row(
    key: str,
    method: str | None,
    alpha: float | None,
    nonzero: int,
    parts: Mapping[str, float],
    total: float,
    test_loss: float,
    test_accuracy: float,
    regression: bool,
) -> dict[str, Any]:
    architecture = parts.get("architecture", 0.0)
    data = parts.get("data", 0.0)
    return {
        "key": key,
        "method": method,
        "alpha": alpha,
        "nonzero": nonzero,
        "architecture_bits": architecture,
        "weights_bits": total - architecture - data,
        "data_bits": data,
        "two_part_bits": total,
        "parts": dict(parts),
        "test_accuracy": None if regression else test_accuracy,
        "test_mse": 2 * test_loss if regression else None,
        "test_loss_bits": None if regression else test_loss / LN2,
    }


def _prequential_bits(config: FitConfig, splits: Splits) -> float:
    """The prequential code (doubling blocks, plain training) of the candidates' family."""
    spec: ModelSpec = fit_spec(config, splits)
    learner = TorchLearner(
        spec,
        TrainConfig(
            max_epochs=config.epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            stopping=LossSaturation(window=10, min_epochs=10),
        ),
        seed=config.seed,
        epsilon=config.epsilon,
    )
    n = len(splits.train)
    code = prequential_code(
        splits.train.x,
        splits.train.y,
        splits.n_classes,
        learner,
        doubling_schedule(n, min(10, n)),
        epsilon=None if splits.n_classes is not None else config.epsilon,
    )
    return code.length.total


def run_select(
    config: SelectConfig, *, folder: RunFolder | None = None, progress: bool = False
) -> SelectResult:
    """Run every candidate (skipping those a resumed ``folder`` holds), choose, charge, report.

    With ``folder``: ``config.json``, ``runs/<key>.json`` and ``models/<key>.mdlw`` per
    candidate, ``selected.mdlw``, ``results.json``, ``table.txt`` and ``selection.png``.
    """
    if folder is None:  # the candidates' records and model files live there
        raise MdlkitError("select writes its candidates into a run folder; give one")
    config.validate()
    start = time.perf_counter()
    splits = fit_data(config)
    spec = fit_spec(config, splits)
    torch.manual_seed(config.seed)
    center, bits_per_nonzero = fit_alpha(config, spec.build(), spec, len(splits.train))
    jobs = config.candidates(center)
    for _, job in jobs:  # every candidate is checked before anything is written
        job.validate()
        fit_spec(job, splits)
    fit_teacher(config.fit_config(), splits)  # a bad teacher is refused here too
    with make_executor(config.workers, config.ray) as executor:  # Ray connects before writing
        folder.start({"runs": {"select": config.settings()}})
        if splits.scaling is not None:  # how to prepare new inputs for the selected model
            folder.write_text("scaling.json", json.dumps(splits.scaling.to_dict(), indent=1))
        records = run_sweep(folder, jobs, executor=executor, progress=progress)
    regression = splits.n_classes is None
    all_pruned, all_pruned_file = _all_pruned_row(config.fit_config(), splits)
    rows = [all_pruned]
    for key, job in jobs:
        s = records[key]
        loss = s["test_mse"] / 2 if regression else s["test_loss_bits"] * LN2
        rows.append(
            _row(
                key,
                job.method,
                s["alpha"],
                s["nonzero"],
                s["two_part_parts_bits"],
                s["two_part_bits"],
                loss,
                s["test_accuracy"],
                regression,
            )
        )
    selection = select_shortest([row["two_part_bits"] for row in rows])
    uniform = (
        None if regression else uniform_codelength(len(splits.train), splits.n_classes or 1).total
    )
    prequential = None
    if config.prequential:
        record = folder.record("prequential")
        if record is None:
            record = {"bits": _prequential_bits(config.fit_config(), splits)}
            folder.write_record("prequential", record)
        prequential = float(record["bits"])
    result = SelectResult(
        config=config,
        rows=rows,
        chosen=selection.index,
        selected_bits=selection.length.total,
        choice_bits=selection.choice_bits,
        uniform_bits=uniform,
        prequential_bits=prequential,
        bound_bits=rows[0]["two_part_bits"] + selection.choice_bits,
        alpha_auto=center if config.alpha == "auto" else None,
        bits_per_nonzero=bits_per_nonzero,
        seconds=time.perf_counter() - start,
        task_reason=splits.task_reason,
    )
    chosen = result.chosen_row["key"]
    # Written whole or not at all: a killed run that is resumed writes it again.
    source = folder.file(f"models/{chosen}.mdlw")
    selected = folder.file("selected.mdlw.tmp")
    selected.write_bytes(all_pruned_file if chosen == ALL_PRUNED else source.read_bytes())
    selected.replace(folder.file("selected.mdlw"))
    plot_selection(result.rows, result.chosen, uniform, prequential, folder.file("selection.png"))
    folder.write_text("table.txt", result.report().text())
    folder.write_results(result.to_dict())
    return result
