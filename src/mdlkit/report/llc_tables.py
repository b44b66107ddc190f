"""Tables of an LLC estimate and of a step calibration, with the settings λ̂ was taken at: λ̂
is only comparable at identical settings, so every one of them is printed beside it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from mdlkit.complexity import Calibration, LLCResult, LLCSettings
from mdlkit.report.tables import Report

__all__ = ["llc_calibration_report", "llc_report"]


def _step(result: LLCResult) -> str:
    """The step of the draws; MALA's tuned one with its start and acceptance rate."""
    s = result.settings
    if s.sampler != "mala":
        return f"{s.step:g}"
    tuned = f"{result.step_used:.3g}, tuned from {s.step:g}" if s.adapt_step else f"{s.step:g}"
    return f"{tuned} (MALA kept {100 * result.acceptance:.0f} % of its proposals)"


def _setting_rows(result: LLCResult, n: int) -> list[tuple[str, str]]:
    s = result.settings
    n_beta = "given" if s.n_beta is not None else f"n / ln n, n = {n:,}"
    return [
        ("nβ", f"{result.n_beta:.6g} ({n_beta})"),
        ("L_n(w*) (nats/sample, all training samples)", f"{result.initial_loss:.6g}"),
        ("step ε", _step(result)),
        ("localization γ (ε·γ)", f"{s.gamma:g} ({result.step_used * s.gamma:.2g})"),
        ("chains × (burn-in + draws)", f"{s.chains} × ({s.burn_in:,} + {s.draws:,})"),
        ("batch size", "full batch" if s.batch_size is None else f"{s.batch_size:,}"),
        ("sampler, seed", f"{s.sampler}, {s.seed}"),
        ("E‖w − w*‖² over the draws", f"{result.distance:.4g}"),
        ("time", f"{result.seconds:.1f} s"),
    ]


def llc_report(
    title: str,
    r: LLCResult,
    *,
    d: int,
    n: int,
    loss: str,
    true_llc: float | None,
    relative_error: float | None,
    warnings: Sequence[str],
) -> Report:
    """λ̂ ± std and per chain, the true λ and the relative error (when known), d/2 (λ ≤ d/2
    always; ``d`` parameters), the settings (``n`` samples), then the loss and any warnings."""
    # λ̂ < 0 means the sampled loss lies below L_n(w*): the first thing a reader must see.
    verdict = " — w* is not a minimum: train longer" if r.llc < 0 else ""
    table = Table(title=f"mdlkit llc: {title}{verdict}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("λ̂ (mean ± std over chains)", f"{r.llc:.4g} ± {r.std:.2g}")
    table.add_row("per chain", ", ".join(f"{v:.4g}" for v in r.per_chain))
    if true_llc is not None:
        table.add_row("true λ", f"{true_llc:g}")
    if relative_error is not None:
        table.add_row("relative error (λ̂ − λ) / λ", f"{100 * relative_error:+.1f} %")
    table.add_row("d/2 (λ ≤ d/2 always)", f"{d / 2:g} (d = {d:,} parameters)")
    for label, value in _setting_rows(r, n):
        table.add_row(label, value)
    notes = [f"loss: {loss}"]
    notes += [f"warning: {w}" for w in warnings]
    if not warnings:
        notes.append("no warnings: the traces rose above L_n(w*) and settled")
    notes.append("λ̂ is comparable only at identical settings (nβ, ε, γ, batch, steps)")
    return Report(table, tuple(notes))


def llc_calibration_report(
    title: str,
    c: Calibration,
    *,
    base: LLCSettings,
    d: int,
    loss: str,
    true_llc: float | None,
    warnings: Sequence[str],
) -> Report:
    """One row per step (and γ) tried: λ̂, std and the chains' warnings, the recommended row
    marked →; the settings every row shares (``base``), d/2 and the recommendation."""
    table = Table(title=f"mdlkit llc --calibrate: {title}")
    for column in ("step ε", "γ", "λ̂", "std"):
        table.add_column(column, justify="right")
    table.add_column("warnings")
    for settings, result, row_warnings in c.rows:
        mark = "→ " if settings == c.recommended else ""
        table.add_row(
            f"{mark}{settings.step:.3g}",
            f"{settings.gamma:g}",
            "—" if result is None else f"{result.llc:.4g}",
            "—" if result is None else f"{result.std:.2g}",
            "; ".join(row_warnings) or "none",
        )
    notes = [f"loss: {loss}"]
    notes += [f"warning: {w}" for w in warnings]
    notes.append(
        f"every row: {base.chains} chains × ({base.burn_in:,} + {base.draws:,}) steps, "
        f"batch {'full' if base.batch_size is None else base.batch_size}, "
        f"nβ {'n / ln n' if base.n_beta is None else f'{base.n_beta:g}'}, {base.sampler}; "
        f"d/2 = {d / 2:g}" + ("" if true_llc is None else f"; true λ = {true_llc:g}")
    )
    if c.recommended is None:
        notes.append(f"no setting recommended: {c.reason}")
    else:
        notes.append(
            f"recommended: --step {c.recommended.step:g} --gamma "
            f"{c.recommended.gamma:g} ({c.reason})"
        )
    return Report(table, tuple(notes))
