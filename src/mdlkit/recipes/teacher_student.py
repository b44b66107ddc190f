"""Recipe: the teacher-student experiment of Barth & von Petersenn.

For each training size N and noise level, train the unregularized student and each method at
each α; report test loss against nonzero parameters (the U-curve), description lengths as model
bits against data bits (isolines of equal total), and a table of the best description length per
setting beside the unregularized student and the paper's figures.

Description lengths here are two-part codes with the targets coded at precision ε; the model
part is mdlkit's codec. The paper's convention (4 bytes per nonzero parameter, plus data) is
given beside it. The paper does not state its ε, so absolute data bits are only comparable at
equal ε; the model bits are.

Choosing the best α in hindsight needs no charge here: a two-part code sends the weights
themselves, so the receiver never needs to know how they were found.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mdlkit.coding.model_size import paper_model_bits
from mdlkit.recipes.executors import make_executor
from mdlkit.recipes.fit import FitConfig
from mdlkit.recipes.sweep import run_sweep
from mdlkit.runs import RunFolder

__all__ = ["PAPER_BYTES", "TeacherStudentExperiment", "run_teacher_student"]

# methods.md: best description lengths (bytes, low noise) and the unregularized student.
PAPER_BYTES = {30: (180, 3111), 300: (1586, 4199), 2000: (8600, 10860)}


@dataclass(frozen=True)
class TeacherStudentExperiment:
    """The sweep's grid and training settings.

    The reference uses Adam 5e-4, full batch; the default here is 2e-3 with a cap of 10,000
    full-batch steps, which converges in a fraction of the time (2 CPU cores).
    """

    n_trains: tuple[int, ...] = (30, 300, 2000)
    noises: tuple[float, ...] = (0.01, 0.1)
    methods: tuple[str, ...] = ("drr", "l1", "pmmp")
    alphas: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    epochs: int = 10000
    finetune_epochs: int = 3000
    lr: float = 2e-3
    window: int = 200
    warmup_epochs: int = 100
    epsilon: float = 1e-4
    threads: int = 1
    seed: int = 0

    @classmethod
    def quick(cls) -> TeacherStudentExperiment:
        """A minutes-long version for checking the recipe end to end."""
        return cls(
            n_trains=(30,),
            noises=(0.01,),
            alphas=(1e-2,),
            epochs=400,
            finetune_epochs=100,
            window=50,
            warmup_epochs=20,
        )

    def jobs(self) -> list[tuple[str, FitConfig]]:
        base = FitConfig(
            dataset="teacher-student",
            model="student",
            batch_size=None,
            lr=self.lr,
            epochs=self.epochs,
            finetune_epochs=self.finetune_epochs,
            window=self.window,
            warmup_epochs=self.warmup_epochs,
            epsilon=self.epsilon,
            seed=self.seed,
            prune_mode="relative",
            quant_mode="tolerance",
            grid_epochs=0,
        )
        jobs = []
        for n in self.n_trains:
            for noise in self.noises:
                setting = replace(base, n_train=n, noise=noise)
                jobs.append((f"N{n}-noise{noise}-none", replace(setting, method="none")))
                for method in self.methods:
                    for alpha in self.alphas:
                        jobs.append(
                            (
                                f"N{n}-noise{noise}-{method}-a{alpha:g}",
                                replace(setting, method=method, alpha=alpha),
                            )
                        )
        return jobs


def _paper_convention_bits(s: dict[str, Any]) -> float:
    """4 bytes per nonzero plus the coded data (with σ and side info)."""
    return paper_model_bits(s["nonzero"]) + s["two_part_bits"] - s["model_bits"]["codec"]


def _best_rows(exp: TeacherStudentExperiment, runs: dict[str, dict[str, Any]]) -> list[dict]:
    rows = []
    for n in exp.n_trains:
        for noise in exp.noises:
            prefix = f"N{n}-noise{noise}-"
            plain = runs[prefix + "none"]
            row: dict[str, Any] = {
                "N": n,
                "noise": noise,
                "unregularized": {
                    "test_mse": plain["test_mse"],
                    "nonzero": plain["nonzero"],
                    "dl_bytes": plain["two_part_bits"] / 8,
                    "dl_bytes_4B": _paper_convention_bits(plain) / 8,
                },
                "paper_bytes_low_noise": PAPER_BYTES.get(n) if noise == min(exp.noises) else None,
            }
            for method in exp.methods:
                candidates = [
                    (k, s) for k, s in runs.items() if k.startswith(f"{prefix}{method}-a")
                ]
                _, best = min(candidates, key=lambda ks: ks[1]["two_part_bits"])
                row[method] = {
                    "alpha": best["config"]["alpha"],
                    "test_mse": best["test_mse"],
                    "nonzero": best["nonzero"],
                    "dl_bytes": best["two_part_bits"] / 8,
                    "dl_bytes_4B": _paper_convention_bits(best) / 8,
                }
            rows.append(row)
    return rows


def _table(exp: TeacherStudentExperiment, rows: list[dict]) -> str:
    lines = [
        f"Description lengths in bytes (targets at ε = {exp.epsilon:g}); 'codec' = mdlkit's "
        "weight file + coded data, '4B' = the paper's convention (4 bytes per nonzero + data). "
        "Test loss is MSE on 5,000 test points.",
        "",
        "| N | noise | run | α | nonzero | test MSE | DL codec | DL 4B | paper best / unreg. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = row["paper_bytes_low_noise"]
        paper_text = f"{paper[0]:,} / {paper[1]:,}" if paper else "—"
        u = row["unregularized"]
        lines.append(
            f"| {row['N']} | {row['noise']:g} | unregularized | — | {u['nonzero']} | "
            f"{u['test_mse']:.3g} | {u['dl_bytes']:,.0f} | {u['dl_bytes_4B']:,.0f} | "
            f"{paper_text} |"
        )
        for method in exp.methods:
            m = row[method]
            lines.append(
                f"| {row['N']} | {row['noise']:g} | {method} | {m['alpha']:g} | "
                f"{m['nonzero']} | {m['test_mse']:.3g} | {m['dl_bytes']:,.0f} | "
                f"{m['dl_bytes_4B']:,.0f} | |"
            )
    return "\n".join(lines) + "\n"


def _plots(exp: TeacherStudentExperiment, runs: dict[str, dict[str, Any]], out: Path) -> None:
    settings = [(n, noise) for noise in exp.noises for n in exp.n_trains]
    colors = {"drr": "C0", "l1": "C1", "pmmp": "C2"}
    for kind in ("u_curve", "isolines"):
        fig, axes = plt.subplots(
            len(exp.noises),
            len(exp.n_trains),
            squeeze=False,
            figsize=(4.2 * len(exp.n_trains), 3.6 * len(exp.noises)),
        )
        for ax, (n, noise) in zip(axes.flat, settings, strict=True):
            prefix = f"N{n}-noise{noise}-"
            for key, s in runs.items():
                if not key.startswith(prefix):
                    continue
                method = s["config"]["method"]
                style = {
                    "color": colors.get(method, "k"),
                    "marker": "*" if method == "none" else "o",
                    "s": 90 if method == "none" else 25,
                }
                model_bits = s["model_bits"]["codec"]
                data_bits = s["two_part_bits"] - model_bits
                if kind == "u_curve":
                    ax.scatter(s["nonzero"], s["test_mse"], **style)
                else:
                    ax.scatter(model_bits, data_bits, **style)
            if kind == "u_curve":
                ax.set(
                    xscale="log",
                    yscale="log",
                    xlabel="nonzero parameters",
                    ylabel="test MSE",
                    title=f"N={n}, noise {noise:g}",
                )
            else:
                lo, hi = ax.get_xlim()
                ylo, yhi = ax.get_ylim()
                top = hi + yhi
                for total in [top * f for f in (0.2, 0.4, 0.6, 0.8, 1.0)]:
                    ax.plot([0, total], [total, 0], color="0.8", lw=0.8, zorder=0)
                ax.set(
                    xlim=(lo, hi),
                    ylim=(ylo, yhi),
                    xlabel="model bits (codec)",
                    ylabel="data bits (+σ, side)",
                    title=f"N={n}, noise {noise:g}",
                )
        handles = [
            plt.Line2D([], [], color=c, marker="o", ls="", label=m)
            for m, c in colors.items()
            if m in exp.methods
        ]
        handles.append(plt.Line2D([], [], color="k", marker="*", ls="", label="unregularized"))
        fig.legend(handles=handles, loc="upper right")
        fig.suptitle(
            "test loss vs nonzero parameters"
            if kind == "u_curve"
            else "description length: model vs data bits (grey: equal total)"
        )
        fig.tight_layout()
        fig.savefig(out / f"{kind}.png", dpi=100)
        plt.close(fig)


def run_teacher_student(
    exp: TeacherStudentExperiment,
    folder: RunFolder,
    *,
    progress: bool = False,
    workers: int | None = None,
    ray: str | None = None,
    device: str | None = None,
) -> str:
    """Run the sweep into ``folder`` (new, or resumed after a kill), write ``results.json``,
    ``table.md`` and the plots; return the table.

    The runs go to ``workers`` local processes (None: one per core; 1: serially here) or to
    the Ray cluster at ``ray`` (:func:`~mdlkit.recipes.executors.make_executor`); the results
    are the same either way."""
    # A 751-parameter network gains nothing from more threads, and several threads spinning on
    # microsecond-sized kernels slow each step down by orders of magnitude on a busy machine:
    # every run gets exp.threads.
    with make_executor(workers, ray, threads=exp.threads) as executor:
        folder.start({"experiment": asdict(exp)})
        runs = run_sweep(folder, exp.jobs(), executor=executor, progress=progress, device=device)
    rows = _best_rows(exp, runs)
    table = _table(exp, rows)
    folder.write_text("table.md", table)
    _plots(exp, runs, folder.path)
    folder.write_results({"best": rows, "runs": runs})
    return table
