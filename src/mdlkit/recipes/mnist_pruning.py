"""Recipe: pruning MNIST networks with each method, against global magnitude pruning.

For each network (LeNet-300-100; LeNet-5-Caffe is slow), train the unregularized baseline, then
each method with its α (regularize → prune → fine-tune). Report the compression rate
CR = parameters / nonzero and the error increase EI = accuracy(baseline) − accuracy(final), in
points, beside the paper's figures. As the baseline a user would pick instead, the trained dense
network is pruned by global magnitude pruning (all weight matrices and kernels at once,
:func:`~mdlkit.pruning.prune_to_compression_rate`) to several compression rates and fine-tuned
with the same budget as the methods; the table gives the largest CR it reaches within each
method's EI (:mod:`mdlkit.report.mnist_pruning`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Unpack

from mdlkit.data import Splits
from mdlkit.heads import evaluate
from mdlkit.pruning import count_nonzero, count_parameters, prune_to_compression_rate
from mdlkit.recipes.fit import FitConfig, fit_spec
from mdlkit.recipes.sweep import job_data, run_sweep, share_data, shared_for
from mdlkit.report.mnist_pruning import mnist_pruning_table, plot_ei_vs_cr
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.sweeps import Executor, JobOutput, Task, Where, job_checkpoints, open_sweep, run_jobs
from mdlkit.training.checkpoint import load_checkpoint
from mdlkit.training.loop import TrainConfig, train

__all__ = ["PAPER", "MnistPruningExperiment", "run_mnist_pruning"]

# methods.md: (EI in points, CR) published for each method.
PAPER = {
    "lenet-300-100": {"drr": (0.16, 92), "l1": (0.23, 68), "pmmp": (0.19, 11), "CPA": (-0.04, 85)},
    "lenet5-caffe": {
        "drr": (0.16, 342),
        "l1": (0.08, 246),
        "pmmp": (0.17, 77),
        "CPA": (-0.02, 317),
    },
}


@dataclass(frozen=True)
class MnistPruningExperiment:
    """Networks, per-method strengths and the shared training budget (paper: Adam 1e-3,
    batch 500, 45k/5k/10k)."""

    mnist_path: str | None = None
    models: tuple[str, ...] = ("lenet-300-100",)
    alphas: tuple[tuple[str, float], ...] = (("drr", 3e-5), ("l1", 5e-5), ("pmmp", 3e-5))
    magnitude_crs: tuple[float, ...] = (5, 10, 20, 40, 80)
    epochs: int = 300
    finetune_epochs: int = 100
    n_train: int | None = 45000
    batch_size: int = 500
    lr: float = 1e-3
    tolerance: float = 0.01
    window: int = 50
    seed: int = 0

    @classmethod
    def quick(cls, mnist_path: str | None) -> MnistPruningExperiment:
        """A minutes-long version on 5,000 training images, for checking the recipe."""
        return cls(
            mnist_path=mnist_path,
            magnitude_crs=(5, 20),
            epochs=3,
            finetune_epochs=2,
            n_train=5000,
            window=4,
            alphas=(("drr", 1e-4), ("l1", 1e-5), ("pmmp", 1e-5)),
        )

    def base(self, model: str) -> FitConfig:
        return FitConfig(
            dataset="mnist",
            mnist_path=self.mnist_path,
            n_train=self.n_train,
            model=model,
            batch_size=self.batch_size,
            lr=self.lr,
            epochs=self.epochs,
            finetune_epochs=self.finetune_epochs,
            prune_mode="relative",
            tolerance=self.tolerance,
            quant_mode="tolerance",
            grid_epochs=0,
            window=self.window,
            warmup_epochs=min(10, self.epochs),
            seed=self.seed,
        )

    def jobs(self) -> list[tuple[str, FitConfig]]:
        jobs = []
        for model in self.models:
            jobs.append((f"{model}-none", replace(self.base(model), method="none")))
            for method, alpha in self.alphas:
                jobs.append(
                    (f"{model}-{method}", replace(self.base(model), method=method, alpha=alpha))
                )
        return jobs


def _magnitude_key(model_name: str, cr: float) -> str:
    return f"{model_name}-magnitude-cr{cr:g}"


def _magnitude_job(
    exp: MnistPruningExperiment,
    model_name: str,
    cr: float,
    baseline: bytes,
    baseline_accuracy: float,
    folder: str,
    key: str,
    splits: Splits | None,
) -> JobOutput:
    """Global magnitude pruning of the trained baseline (``baseline``: the bytes of its
    ``plain.pt`` checkpoint) to compression rate ``cr``, fine-tuned like the methods."""
    started = time.perf_counter()
    config = exp.base(model_name)
    splits = job_data(config, splits)
    model = fit_spec(config, splits).build()
    with tempfile.TemporaryDirectory(prefix="mdlkit-job-") as tmp:
        saved_path = Path(tmp) / "plain.pt"
        saved_path.write_bytes(baseline)
        model.load_state_dict(load_checkpoint(saved_path)["model"])
    mask = prune_to_compression_rate(model, cr)
    total = count_parameters(model)
    finetune = TrainConfig(
        max_epochs=exp.finetune_epochs,
        batch_size=exp.batch_size,
        lr=exp.lr,
        seed=exp.seed + 1,
        stopping=LossSaturation(window=exp.window, min_epochs=exp.window),
    )
    files: dict[str, bytes] = {}
    with job_checkpoints(folder, key, files) as checkpoints:
        train(
            model,
            splits.train,
            splits.val,
            finetune,
            mask=mask,
            checkpoint=checkpoints / "finetune.pt",
        )
    test = evaluate(model, splits.test)
    row = {
        "target_cr": cr,
        "nonzero": count_nonzero(model),
        "params": total,
        "compression_rate": total / count_nonzero(model),
        "test_accuracy": test.accuracy,
        "ei_points": 100 * (baseline_accuracy - test.accuracy),
    }
    return JobOutput(row, files, time.perf_counter() - started)


def _magnitude_tasks(
    exp: MnistPruningExperiment,
    folder: RunFolder,
    runs: dict[str, dict[str, Any]],
    executor: Executor,
) -> list[Task]:
    """One job per network and target CR, each from its trained baseline's checkpoint."""
    tasks: list[Task] = []
    for model_name in exp.models:
        keys = [_magnitude_key(model_name, cr) for cr in exp.magnitude_crs]
        config = exp.base(model_name)
        # A network whose magnitude runs have all finished needs neither its baseline nor data.
        needed = [config] if any(folder.record(key) is None for key in keys) else []
        plain = folder.checkpoints / f"{model_name}-none" / "plain.pt"
        baseline = plain.read_bytes() if needed else b""
        accuracy = runs[f"{model_name}-none"]["test_accuracy"]
        splits = shared_for(share_data(executor, needed), config)
        for key, cr in zip(keys, exp.magnitude_crs, strict=True):
            args = (exp, model_name, cr, baseline, accuracy, str(folder.path), key, splits)
            tasks.append((key, _magnitude_job, args))
    return tasks


def run_mnist_pruning(
    exp: MnistPruningExperiment,
    folder: RunFolder,
    *,
    progress: bool = False,
    **where: Unpack[Where],
) -> str:
    """Run the experiment into ``folder`` (new, or resumed after a kill); write
    ``results.json``, ``table.md`` and the plot ``ei_vs_cr.png``; return the table.

    Two waves of jobs, each where ``where`` says (:class:`~mdlkit.sweeps.Where`: ``workers``
    local processes, None: one per core, 1: serially here; or the Ray cluster at ``ray``): the
    methods' runs and the baselines, then magnitude pruning of each trained baseline."""
    with open_sweep(folder, {"experiment": asdict(exp)}, where) as executor:
        device = where.get("device")
        runs = run_sweep(folder, exp.jobs(), executor=executor, progress=progress, device=device)
        tasks = _magnitude_tasks(exp, folder, runs, executor)
        magnitude_records = run_jobs(folder, tasks, executor, progress=progress)
    magnitude = {
        model_name: [magnitude_records[_magnitude_key(model_name, cr)] for cr in exp.magnitude_crs]
        for model_name in exp.models
    }
    methods = [method for method, _ in exp.alphas]
    for model_name in exp.models:  # EI: test accuracy lost against the unregularized baseline
        acc0 = runs[f"{model_name}-none"]["test_accuracy"]
        for method in methods:
            s = runs[f"{model_name}-{method}"]
            s["ei_points"] = 100 * (acc0 - s["test_accuracy"])
    table = mnist_pruning_table(runs, magnitude, methods, PAPER)
    folder.write_text("table.md", table)
    plot_ei_vs_cr(runs, magnitude, methods, folder.file("ei_vs_cr.png"))
    folder.write_results({"runs": runs, "magnitude": magnitude})
    return table
