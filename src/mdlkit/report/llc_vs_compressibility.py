"""Fits and tables of the llc-vs-compressibility experiment
(:mod:`mdlkit.recipes.llc_vs_compressibility`), from its studies as ``results.json`` holds them.

Each compressibility measure at each tolerance ε is fitted against λ̂ by least squares over the
checkpoints, and set beside llc.md's heuristic for the bit measures:

    critical bits per weight ≈ log2(2m) + (λ/d)·log2(1/ε),   slope log2(1/ε)/d
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mdlkit.report.least_squares import LinearFit, linear_fit

__all__ = [
    "MEASURES",
    "fit_study",
    "healthy",
    "heuristic_slope",
    "llc_vs_compressibility_table",
]

MEASURES: tuple[tuple[str, str], ...] = (
    ("bits", "critical quantization bits n_q (per weight)"),
    ("codec_bits_per_weight", "weight codec bits within ε, per weight"),
    ("rank_fraction", "critical rank fraction removed"),
    ("pruned_fraction", "critical pruned fraction"),
)
"""The measures fitted against λ̂: key in a checkpoint's per-ε record, and what it is."""

_BIT_MEASURES = ("bits", "codec_bits_per_weight")  # the heuristic slope applies to these


def heuristic_slope(tolerance: float, d: int) -> float:
    """llc.md's slope of critical bits per weight against λ: log2(1/ε) / d."""
    return math.log2(1 / tolerance) / d


def healthy(record: Mapping[str, Any]) -> bool:
    """A checkpoint whose λ̂ is usable: positive, and its chains raised no warning."""
    return record["llc"]["llc"] > 0 and not record["llc"]["warnings"]


def fit_study(
    checkpoints: Sequence[Mapping[str, Any]], tolerances: Sequence[float], d: int
) -> list[dict[str, Any]]:
    """Each measure at each ε against λ̂: the fit over the healthy checkpoints
    (:func:`healthy`), the fit over all, and the heuristic slope for the bit measures."""
    fits = []
    good = [r for r in checkpoints if healthy(r)]
    for tolerance in tolerances:
        key = f"{tolerance:g}"
        for measure, label in MEASURES:

            def fit(
                rows: Sequence[Mapping[str, Any]], measure: str = measure, key: str = key
            ) -> LinearFit:
                return linear_fit(
                    [r["llc"]["llc"] for r in rows], [r["tolerances"][key][measure] for r in rows]
                )

            fits.append(
                {
                    "tolerance": tolerance,
                    "measure": measure,
                    "label": label,
                    "healthy": fit(good).to_dict(),
                    "all": fit(checkpoints).to_dict(),
                    "heuristic_slope": (
                        heuristic_slope(tolerance, d) if measure in _BIT_MEASURES else None
                    ),
                }
            )
    return fits


def _number(value: float | None, fmt: str) -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, fmt)


def _checkpoint_table(study: Mapping[str, Any], tolerances: Sequence[float]) -> str:
    eps = " / ".join(f"{t:g}" for t in tolerances)
    lines = [
        f"| epoch | step | L_n(w*) | val loss | λ̂ ± std | n_q at ε = {eps} | "
        f"codec bits/weight | rank fraction removed | pruned fraction | λ̂ warnings |",
        "|---:|---:|---:|---:|---:|---|---|---|---|---|",
    ]
    for r in study["checkpoints"]:
        per = [r["tolerances"][f"{t:g}"] for t in tolerances]
        warnings = "; ".join(r["llc"]["warnings"]) or "—"
        lines.append(
            f"| {r['epoch']} | {r['step']:,} | {r['reference_loss']:.4f} | {r['val_loss']:.4f} | "
            f"{r['llc']['llc']:.1f} ± {r['llc']['std']:.1f} | "
            + " / ".join(str(p["bits"]) for p in per)
            + " | "
            + " / ".join(_number(p["codec_bits_per_weight"], ".3f") for p in per)
            + " | "
            + " / ".join(f"{p['rank_fraction']:.3f}" for p in per)
            + " | "
            + " / ".join(f"{p['pruned_fraction']:.3f}" for p in per)
            + f" | {warnings} |"
        )
    return "\n".join(lines)


def _fit_table(study: Mapping[str, Any]) -> str:
    lines = [
        "| ε | measure | slope per unit λ̂ | intercept | R² (healthy λ̂) | R² (all) | "
        "heuristic slope log2(1/ε)/d | slope / heuristic |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in study["fits"]:
        h, a, heuristic = f["healthy"], f["all"], f["heuristic_slope"]
        ratio = h["slope"] / heuristic if heuristic else None
        lines.append(
            f"| {f['tolerance']:g} | {f['label']} | {_number(h['slope'], '.3g')} | "
            f"{_number(h['intercept'], '.3g')} | {_number(h['r2'], '.3f')} (n = {h['n']}) | "
            f"{_number(a['r2'], '.3f')} (n = {a['n']}) | {_number(heuristic, '.3g')} | "
            f"{_number(ratio, '.3g')} |"
        )
    return "\n".join(lines)


def llc_vs_compressibility_table(
    studies: Sequence[Mapping[str, Any]], tolerances: Sequence[float]
) -> str:
    """The Markdown report: per study its λ̂ settings, one row per checkpoint (λ̂ and every
    measure at each ε) and the fits of :func:`fit_study`."""
    parts = []
    for s in studies:
        settings = s["llc_settings"]
        parts.append(
            f"### {s['title']} (d = {s['d']:,})\n\n"
            f"λ̂ settings: step {settings['step']:g}, γ {settings['gamma']:g}, "
            f"nβ {s['n_beta']:.1f} (n / ln n, n = {s['n_train']:,} training samples), "
            f"{settings['chains']} chains × ({settings['burn_in']} burn-in + "
            f"{settings['draws']} draws), minibatch {settings['batch_size'] or 'full'}, "
            f"seed {settings['seed']}. Tolerances ε in nats (per token for the byte model); "
            "measures on the training samples.\n\n"
            f"{_checkpoint_table(s, tolerances)}\n\n"
            "Least-squares fits against λ̂ (over the checkpoints whose λ̂ is positive and "
            "warning-free; R² over all checkpoints beside it):\n\n"
            f"{_fit_table(s)}\n"
        )
    return "\n".join(parts)
