"""Recipe: Blier & Ollivier's MNIST table (their Table 2 column), mdlkit's codes beside it.

Every row codes the labels of the first ``n`` MNIST training images (all 60,000 by default) in
the file's order; the receiver has the images. Rows, each a resumable job of the run folder:

- ``uniform``: n · log2 K.
- ``online``: the switching code over a small CNN and the main network, each learner's own
  prequential code, both decoded back by retraining (:func:`~mdlkit.codes.run_online_codes`),
  and the float32 two-part code of the last block's main model. Learners train on the labels
  already sent, with random shifts of the images (augmentation), continue from the previous
  block's weights with replay of all seen data, and code with a temperature posterior learned on
  the last 10 % of the seen data. Each block's models are cached, so a killed run resumes.
- ``receivers``: the receiver's models of the online codes, trained from the labels in a
  second process at the same time as ``online`` codes them
  (:func:`~mdlkit.codes.train_receivers_ahead`); ``online``'s decoding waits for it and finds
  each model under the labels it decoded. Only in a local pool of several workers (serially it
  would only find ``online``'s models); if it fails, ``online`` trains what it misses.
- ``two-part``: mdlkit's codec — a DRR-trained LeNet-300-100, pruned, quantized and entropy
  coded, then the labels under the decoded weights (the pipeline of ``mdlkit fit``).
- ``variational``: the bits-back code with a diagonal Gaussian posterior (an MLP, a learned
  prior scale per tensor, charged), written on an ANS stack and decoded back by retraining q
  on the decoded labels; its length is the stream's net size (final − borrowed words).

The paper's figures are printed beside ours; they did not charge their per-block choice of
architecture and hyperparameters, which mdlkit's switching code does.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Unpack

import torch

from mdlkit.codes import (
    TorchLearner,
    doubling_schedule,
    run_online_codes,
    train_receivers_ahead,
    variational_code,
)
from mdlkit.data import Splits, read_mnist
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate
from mdlkit.models import ModelSpec
from mdlkit.recipes.fit import FitConfig
from mdlkit.recipes.sweep import run_fit_job
from mdlkit.report.blier_ollivier import PAPER, blier_ollivier_table, plot_block_bits
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.sweeps import (
    JobOutput,
    Task,
    Where,
    default_workers,
    job_checkpoints,
    open_sweep,
    run_jobs,
)
from mdlkit.training.loop import TrainConfig

__all__ = ["PAPER", "BlierOllivierExperiment", "run_blier_ollivier"]


@dataclass(frozen=True)
class BlierOllivierExperiment:
    """The data, the online codes' learners and the other codes' budgets. ``threads`` and
    ``workers`` go to both learners (:class:`~mdlkit.codes.TorchLearner`): torch threads per
    network (None: the job's count; the run folder's config keeps the value), and processes
    training the main learner's ``members`` at once (never changes a bit)."""

    mnist_path: str
    n: int | None = None
    first_block: int = 10
    model: str = "small-cnn"
    channels: int = 32
    hidden: int = 128
    small_channels: int = 4
    shift: int = 2
    rotate: int = 0
    scale: int = 0
    epochs: int = 100
    window: int = 20
    members: int = 1
    anneal: int = 0
    anneal_from: int = 0
    threads: int | None = None
    workers: int = 1
    batch_size: int = 128
    two_part_model: str = "lenet-300-100"
    two_part_hidden: tuple[int, ...] = (32,)
    two_part_epochs: int = 40
    variational_hidden: int = 64
    variational_epochs: int = 100
    decode: bool = True
    seed: int = 0

    @classmethod
    def quick(cls, mnist_path: str) -> BlierOllivierExperiment:
        """About a minute: 2,000 labels, narrow networks, a few epochs."""
        return cls(
            mnist_path,
            n=2000,
            channels=8,
            hidden=16,
            small_channels=2,
            epochs=8,
            window=6,
            two_part_model="mlp",
            two_part_hidden=(16,),
            two_part_epochs=8,
            variational_hidden=16,
            variational_epochs=10,
        )

    def data(self) -> tuple[torch.Tensor, torch.Tensor, Split, int]:
        """Images (n, 1, 28, 28) in [0, 1], labels, the test split and K (largest label + 1)."""
        arrays = read_mnist(self.mnist_path)

        def images(a: Any) -> torch.Tensor:
            return torch.from_numpy(a.astype("float32") / 255.0)[:, None]

        n = self.n if self.n is not None else len(arrays["y_train"])
        if not 1 <= n <= len(arrays["y_train"]) or self.first_block > n:
            raise MdlkitError(
                f"n = {n}: give 1 ≤ n ≤ {len(arrays['y_train'])} labels, at least the first "
                f"block ({self.first_block})"
            )
        x = images(arrays["x_train"][:n])
        y = torch.from_numpy(arrays["y_train"][:n].astype("int64"))
        test = Split(images(arrays["x_test"]), torch.from_numpy(arrays["y_test"].astype("int64")))
        k = max(2, int(y.max()) + 1, int(test.y.max()) + 1)
        return x, y, test, k

    def learners(self, side: int, k: int) -> list[TorchLearner]:
        """The switching code's candidates: a narrow CNN that learns fast, the main network."""
        config = TrainConfig(
            max_epochs=self.epochs,
            batch_size=self.batch_size,
            stopping=LossSaturation(window=self.window, min_epochs=self.window),
        )
        base = {"image_size": side, "n_classes": k}
        small = ModelSpec("small-cnn", {**base, "channels": self.small_channels})
        if self.model == "vgg-cnn":
            main = ModelSpec("vgg-cnn", {**base, "channels": self.channels, "hidden": self.hidden})
        else:
            main = ModelSpec("small-cnn", {**base, "channels": self.channels})
        return [
            TorchLearner(
                spec,
                config,
                mode="continue",
                calibrate=True,
                seed=self.seed,
                shift=self.shift,
                rotate=self.rotate,
                scale=self.scale,
                members=members,
                anneal=self.anneal,
                anneal_from=self.anneal_from,
                threads=self.threads,
                workers=self.workers,
            )
            for spec, members in ((small, 1), (main, self.members))
        ]


def online_job(exp: BlierOllivierExperiment, folder: str) -> JobOutput:
    """The online codes' rows (switching, prequential, float32 two-part, each learner's)."""
    x, y, test, k = exp.data()
    bounds = doubling_schedule(len(x), exp.first_block)
    start = time.perf_counter()

    def progress(block: int, begin: int, end: int, bits: float) -> None:
        print(
            f"online codes: block {block + 1}/{len(bounds) - 1} [{begin}, {end}) "
            f"{bits:,.0f} bits, {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    files: dict[str, bytes] = {}
    with job_checkpoints(folder, "online", files) as cache:
        rows = run_online_codes(
            x,
            y,
            k,
            exp.learners(x.shape[-1], k),
            bounds,
            test=test,
            cache=cache,
            decode=exp.decode,
            on_block=progress,
        )
    return JobOutput({"rows": rows, "boundaries": bounds}, files, time.perf_counter() - start)


def receivers_job(exp: BlierOllivierExperiment, folder: str) -> JobOutput:
    """The online codes' receiver models, trained ahead into the online job's cache."""
    x, y, _, k = exp.data()
    start = time.perf_counter()
    files: dict[str, bytes] = {}
    bounds = doubling_schedule(len(x), exp.first_block)
    try:
        with job_checkpoints(folder, "online", files) as cache:
            record: dict[str, Any] = dict(
                train_receivers_ahead(x, y, exp.learners(x.shape[-1], k), bounds, cache)
            )
    except Exception as error:  # a help, not a row: the online job trains what it misses
        record = {"error": f"{type(error).__name__}: {error}"}
    return JobOutput(record, files, time.perf_counter() - start)


def trains_ahead(exp: BlierOllivierExperiment, folder: RunFolder, where: Where) -> bool:
    """Whether the ``receivers`` job runs: only beside an online job still to run, in a local
    pool of several workers (serially it would only find the online job's models; a Ray
    worker may not see the run folder)."""
    workers = where.get("workers")
    return (
        exp.decode
        and folder.record("online") is None
        and (default_workers() if workers is None else workers) > 1
        and where.get("ray") is None
    )


def variational_job(exp: BlierOllivierExperiment) -> JobOutput:
    """The variational code as a bits-back stream, decoded back by retraining q."""
    x, y, test, k = exp.data()
    start = time.perf_counter()
    spec = ModelSpec("mlp", {"sizes": [x[0].numel(), exp.variational_hidden, k]})
    var = variational_code(
        x.flatten(1), y, k, spec, epochs=exp.variational_epochs, seed=exp.seed, verify=True
    )
    assert var.posterior is not None and var.bits_back is not None
    mean = spec.build()
    mean.load_state_dict(var.posterior.mu)
    seconds = time.perf_counter() - start
    row = {
        "bits": var.coded_bits,
        "coded_bits": var.coded_bits,
        "ideal_bits": var.length.total,
        "parts": dict(var.length.parts),
        "borrowed_bits": var.bits_back.borrowed_bits,
        "test_accuracy": evaluate(mean, Split(test.x.flatten(1), test.y)).accuracy,
        "decoded": var.decoded,
        "seconds": seconds,
        "note": "net bits-back stream (final − borrowed words); the mean network's accuracy",
    }
    return JobOutput({"rows": {"variational": row}}, seconds=seconds)


def _two_part_config(
    exp: BlierOllivierExperiment, x: torch.Tensor, y: torch.Tensor, test: Split, k: int
) -> tuple[FitConfig, Splits]:
    hold = max(1, len(x) // 10)  # early stopping watches the last 10 %; all n labels are coded
    flat = Split(x.flatten(1), y)
    splits = Splits(
        "mnist",
        flat,
        Split(flat.x[-hold:], flat.y[-hold:]),
        Split(test.x.flatten(1), test.y),
        k,
    )
    config = FitConfig(
        dataset="mnist",
        mnist_path=exp.mnist_path,
        model=exp.two_part_model,
        hidden=exp.two_part_hidden,
        method="drr",
        epochs=exp.two_part_epochs,
        finetune_epochs=max(1, exp.two_part_epochs // 4),
        grid_epochs=max(1, exp.two_part_epochs // 4),
        window=max(4, min(20, exp.two_part_epochs // 2)),
        batch_size=128,
        seed=exp.seed,
        device="cpu",
    )
    return config, splits


def run_blier_ollivier(
    exp: BlierOllivierExperiment,
    folder: RunFolder,
    *,
    progress: bool = False,
    **where: Unpack[Where],
) -> str:
    """Run (or resume) every row into ``folder``; write ``results.json``, ``table.md`` and
    ``bits_per_block.png``; return the table (Markdown)."""
    x, y, test, k = exp.data()  # refuses a bad file or n before the folder is written
    fit_config, splits = _two_part_config(exp, x, y, test, k)
    ahead = trains_ahead(exp, folder, where)
    tasks: list[Task] = [
        ("online", online_job, (exp, str(folder.path))),
        *([("receivers", receivers_job, (exp, str(folder.path)))] if ahead else []),
        ("two-part", run_fit_job, (fit_config, str(folder.path), "two-part", splits)),
        ("variational", variational_job, (exp,)),
    ]
    where = {**where, "device": None}
    with open_sweep(folder, {"experiment": asdict(exp)}, where) as executor:
        records = run_jobs(folder, tasks, executor, progress=progress)
    n = len(y)
    rows: dict[str, dict[str, Any]] = {
        "uniform": {"bits": n * math.log2(k), "test_accuracy": 1 / k, "decoded": True},
    }
    fit = records["two-part"]
    rows["two-part (mdlkit codec)"] = {
        "bits": fit["two_part_bits"],
        "test_accuracy": fit["test_accuracy"],
        "decoded": True,
        "seconds": fit.get("seconds", float("nan")),
    }
    rows.update(records["online"]["rows"])
    rows.update(records["variational"]["rows"])
    table = blier_ollivier_table(rows, n, k, PAPER if n == 60000 and k == 10 else {})
    folder.write_text("table.md", table)
    plot_block_bits(
        rows,
        records["online"]["boundaries"],
        n * math.log2(k) / n,
        folder.file("bits_per_block.png"),
    )
    folder.write_results({"experiment": asdict(replace(exp)), "n": n, "classes": k, "rows": rows})
    return table
