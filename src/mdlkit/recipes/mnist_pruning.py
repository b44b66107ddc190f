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
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate
from mdlkit.pruning import count_nonzero, count_parameters, prune_to_compression_rate
from mdlkit.recipes.fit import FitConfig, fit_spec
from mdlkit.recipes.sweep import fit_tasks, job_data, share_data, shared_for
from mdlkit.report.mnist_pruning import mnist_pruning_table, plot_ei_vs_cr
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.sweeps import Executor, JobOutput, Task, Where, job_checkpoints, open_sweep, run_jobs
from mdlkit.training.checkpoint import load_checkpoint
from mdlkit.training.loop import TrainConfig, train

__all__ = [
    "BUDGETS",
    "PAPER",
    "MnistPruningExperiment",
    "NetworkBudget",
    "run_mnist_pruning",
]

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
class NetworkBudget:
    """One network's method strengths α (per sample) and its training budget in epochs: at most
    ``epochs`` regularized and ``finetune_epochs`` fine-tuning, each phase stopped earlier once
    the validation loss has not fallen for ``window`` epochs (:class:`LossSaturation`); global
    magnitude pruning of the baseline to each of ``magnitude_crs``."""

    alphas: tuple[tuple[str, float], ...]
    epochs: int
    finetune_epochs: int
    window: int
    magnitude_crs: tuple[float, ...]


# LeNet-300-100: the paper's schedule (≤ 300 + 100 epochs, window 50); about 30 minutes on 2 cores.
LENET_300_100 = NetworkBudget(
    alphas=(("drr", 3e-5), ("l1", 5e-5), ("pmmp", 3e-5)),
    epochs=300,
    finetune_epochs=100,
    window=50,
    magnitude_crs=(5, 10, 20, 40, 80),
)
# LeNet-5-Caffe: an epoch costs ~20 s on one core (30× LeNet-300-100), and its validation loss is
# lowest after ~5 epochs, so the paper's schedule would take ~6 hours here. A window of 20 and
# 150 + 40 epochs at most kept the whole experiment to about 2 h 17 min on 2 cores here. DRR's
# α is from a scan with this schedule (results/mnist_pruning.md, "LeNet-5-Caffe": 1e-4 gives
# CR 348 at EI 0.19, 2e-4 CR 503 at EI 0.34, 3e-5 CR 169 at EI 0.07). R-L1's and PMMP's were
# not scanned: guesses, stronger than LeNet-300-100's by DRR's factor and more (on LeNet-300-100
# both prune less than DRR at the same α).
LENET5_CAFFE = NetworkBudget(
    alphas=(("drr", 1e-4), ("l1", 2e-4), ("pmmp", 5e-4)),
    epochs=150,
    finetune_epochs=40,
    window=20,
    magnitude_crs=(10, 20, 40, 80, 160),
)
BUDGETS = {"lenet-300-100": LENET_300_100, "lenet5-caffe": LENET5_CAFFE}


@dataclass(frozen=True)
class MnistPruningExperiment:
    """Networks, each with its strengths and budget, and the settings they share (paper: Adam
    1e-3, batch 500, 45k/5k/10k)."""

    mnist_path: str | None = None
    networks: tuple[tuple[str, NetworkBudget], ...] = (("lenet-300-100", LENET_300_100),)
    n_train: int | None = 45000
    batch_size: int = 500
    lr: float = 1e-3
    tolerance: float = 0.01
    seed: int = 0

    @classmethod
    def quick(
        cls, mnist_path: str | None, models: tuple[str, ...] = ("lenet-300-100",)
    ) -> MnistPruningExperiment:
        """A minutes-long version on 5,000 training images, for checking the recipe."""
        budget = NetworkBudget(
            alphas=(("drr", 1e-4), ("l1", 1e-5), ("pmmp", 1e-5)),
            epochs=3,
            finetune_epochs=2,
            window=4,
            magnitude_crs=(5, 20),
        )
        return cls(mnist_path=mnist_path, networks=tuple((m, budget) for m in models), n_train=5000)

    @classmethod
    def of(cls, mnist_path: str | None, models: tuple[str, ...]) -> MnistPruningExperiment:
        """The experiment on these networks (:data:`BUDGETS`' names), each with its own budget."""
        return cls(mnist_path=mnist_path, networks=tuple((m, BUDGETS[m]) for m in models))

    @property
    def methods(self) -> list[str]:
        """Every network's methods, in order of first appearance."""
        seen = [method for _, budget in self.networks for method, _ in budget.alphas]
        return list(dict.fromkeys(seen))

    def budget(self, model: str) -> NetworkBudget:
        return dict(self.networks)[model]

    def base(self, model: str) -> FitConfig:
        budget = self.budget(model)
        return FitConfig(
            dataset="mnist",
            mnist_path=self.mnist_path,
            n_train=self.n_train,
            model=model,
            batch_size=self.batch_size,
            lr=self.lr,
            epochs=budget.epochs,
            finetune_epochs=budget.finetune_epochs,
            prune_mode="relative",
            tolerance=self.tolerance,
            quant_mode="tolerance",
            grid_epochs=0,
            window=budget.window,
            warmup_epochs=min(10, budget.epochs),
            seed=self.seed,
        )

    def jobs(self) -> list[tuple[str, FitConfig]]:
        jobs = []
        for model, budget in self.networks:
            jobs.append((f"{model}-none", replace(self.base(model), method="none")))
            for method, alpha in budget.alphas:
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
    budget = exp.budget(model_name)
    finetune = TrainConfig(
        max_epochs=budget.finetune_epochs,
        batch_size=exp.batch_size,
        lr=exp.lr,
        seed=exp.seed + 1,
        stopping=LossSaturation(window=budget.window, min_epochs=budget.window),
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
    model_name: str,
    baseline: dict[str, Any],
    executor: Executor,
) -> list[Task]:
    """One job per target CR of ``model_name``, each from its trained baseline's checkpoint
    (``baseline``: that run's record)."""
    budget = exp.budget(model_name)
    keys = [_magnitude_key(model_name, cr) for cr in budget.magnitude_crs]
    config = exp.base(model_name)
    # A network whose magnitude runs have all finished needs neither its baseline nor data.
    needed = [config] if any(folder.record(key) is None for key in keys) else []
    plain = folder.checkpoints / f"{model_name}-none" / "plain.pt"
    weights = plain.read_bytes() if needed else b""
    splits = shared_for(share_data(executor, needed), config)
    accuracy = baseline["test_accuracy"]
    tasks: list[Task] = []
    for key, cr in zip(keys, budget.magnitude_crs, strict=True):
        args = (exp, model_name, cr, weights, accuracy, str(folder.path), key, splits)
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

    The jobs run where ``where`` says (:class:`~mdlkit.sweeps.Where`: ``workers`` local
    processes, None: one per core, 1: serially here; or the Ray cluster at ``ray``): the
    methods' runs and the baselines, and magnitude pruning of each baseline as soon as it is
    trained (beside the methods' runs still going, so no worker waits for the slowest)."""
    if folder.resumed and "alphas" in folder.read_config().get("experiment", {}):
        raise MdlkitError(
            f"{folder.path} was started by an older mdlkit (one budget for every network); "
            "start the experiment in a new --out"
        )
    with open_sweep(folder, {"experiment": asdict(exp)}, where) as executor:
        baselines = {f"{model_name}-none": model_name for model_name, _ in exp.networks}

        def then(key: str, record: dict[str, Any]) -> list[Task]:
            if key not in baselines:
                return []
            return _magnitude_tasks(exp, folder, baselines[key], record, executor)

        tasks = fit_tasks(folder, exp.jobs(), executor, where.get("device"))
        records = run_jobs(folder, tasks, executor, progress=progress, then=then)
    runs = {key: records[key] for key, _ in exp.jobs()}
    magnitude = {
        model_name: [records[_magnitude_key(model_name, cr)] for cr in b.magnitude_crs]
        for model_name, b in exp.networks
    }
    methods = exp.methods
    for model_name, budget in exp.networks:  # EI: accuracy lost against the unregularized baseline
        acc0 = runs[f"{model_name}-none"]["test_accuracy"]
        for method, _ in budget.alphas:
            s = runs[f"{model_name}-{method}"]
            s["ei_points"] = 100 * (acc0 - s["test_accuracy"])
    table = mnist_pruning_table(runs, magnitude, methods, PAPER)
    folder.write_text("table.md", table)
    plot_ei_vs_cr(runs, magnitude, methods, folder.file("ei_vs_cr.png"))
    folder.write_results({"runs": runs, "magnitude": magnitude})
    return table
