"""Recipe: MDL probing of a model's representations (Voita & Titov 2020).

How well do features x (a model's representations, one row per sample) carry labels y? The
online (prequential) codelength of the labels given x, with a small probe retrained on the labels
sent so far, answers in bits. The training labels are sent in portions ending at 0.1, 0.2, 0.4,
0.8, 1.6, 3.2, 6.25, 12.5, 25, 50 and 100 % of the data; the first portion goes with the uniform
code, portion k with the probe trained on portions < k (``codes.fraction_schedule``):

    L_online = t1·log2 K + Σ_k Σ_{i in portion k} −log2 p_{θ(t_k)}(y_i | x_i)   bits
    compression = n·log2 K / L_online   (> 1: the features make the labels cheaper)

The control task codes the same labels shuffled with a fixed seed: any dependence on x is gone,
so an honest code stays at the uniform length (compression ≈ 1, at most a few bits below
uniform). Both streams are range-coded and, unless ``verify=False``, decoded back by retraining.

Outputs (with a run folder): ``table.txt``, ``probe.png`` (cumulative bits against the portion
sent, both tasks and uniform) and ``results.json``:

- ``config``: the settings; ``n`` labels coded (the training split); ``classes`` K;
  ``n_test`` rows of the test split; ``boundaries`` t_0..t_S; ``portions_percent`` 100·t_k/n;
  ``uniform_bits`` n·log2 K.
- ``tasks``: ``labels`` and ``control``, each with ``online_bits`` (ideal Σ −log2 p, bits),
  ``coded_bits`` (length of the range-coded stream), ``kbit`` (online_bits / 1000, display
  only), ``compression`` (uniform_bits / online_bits), ``portion_bits`` (bits of each portion)
  and ``cumulative_bits`` (after each portion), ``test_accuracy`` of the final probe (trained on
  all n labels of its task; the control's probe is scored on the real test labels), ``decoded``
  (whether the stream was decoded back) and ``seconds``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import prequential_code
from mdlkit.codes.schedules import fraction_schedule
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.data import Split, check_dataset, is_regression, load_dataset
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate
from mdlkit.models import ModelSpec
from mdlkit.report import Report
from mdlkit.report.probe import plot_probe, probe_table
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.training.loop import TrainConfig

__all__ = ["PROBES", "ProbeConfig", "ProbeResult", "run_probe"]

PROBES = ("linear", "mlp")


@dataclass(frozen=True)
class ProbeConfig:
    """Which features to probe, with which probe."""

    features: str | None = None
    """the representations: FILE.npz with x (n, d) and y (n,), or x_train, y_train, x_test…"""
    probe: Literal["linear", "mlp"] = "linear"
    """the probe: linear (softmax regression) | mlp (one hidden layer of --hidden units)"""
    hidden: int = 64
    """hidden units of the mlp probe"""
    control: bool = True
    """also code the control task: the labels shuffled with the seed (--no-control skips it)"""
    n_train: int | None = None
    """code a stratified subset of the training split"""
    epochs: int = 100
    """training epochs cap per portion (early stopping on a held-out tenth of the seen data)"""
    batch_size: int = 64
    """samples per step"""
    lr: float = 1e-3
    """Adam learning rate"""
    verify: bool = True
    """decode both streams back (--no-verify skips it)"""
    seed: int = 0
    """random seed: data split, control shuffle, initial weights, batch order"""

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on a bad setting, reading at most the file's header."""
        if self.features is None:
            raise MdlkitError("give the features: mdlkit probe FEATURES.npz")
        if self.probe not in PROBES:
            raise MdlkitError(f"probe must be linear or mlp, got {self.probe!r}")
        if self.hidden < 1 or self.epochs < 1 or self.batch_size < 1:
            raise MdlkitError("hidden units, epochs and the batch size must be >= 1")
        if not self.lr > 0:
            raise MdlkitError(f"learning rate must be > 0, got {self.lr}")
        check_dataset(self.features, n_train=self.n_train)
        if is_regression(self.features):
            raise MdlkitError(
                f"{self.features}: probing codes class labels; y holds real numbers "
                "(save integer or text labels)"
            )


@dataclass(frozen=True)
class ProbeResult:
    """The probe's codelengths; :meth:`to_dict` is ``results.json`` (module docstring)."""

    config: ProbeConfig
    n: int
    classes: int
    n_test: int
    boundaries: list[int]
    uniform_bits: float
    tasks: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "n": self.n,
            "classes": self.classes,
            "n_test": self.n_test,
            "boundaries": self.boundaries,
            "portions_percent": [100 * t / self.n for t in self.boundaries[1:]],
            "uniform_bits": self.uniform_bits,
            "tasks": self.tasks,
        }

    def report(self) -> Report:
        title = (
            f"MDL probe ({self.config.probe}) on {self.config.features}: {self.n:,} labels, "
            f"{self.classes} classes"
        )
        return Report(probe_table(title, self.uniform_bits, self.tasks))


def _learner(config: ProbeConfig, n_inputs: int, k: int) -> TorchLearner:
    hidden = [config.hidden] if config.probe == "mlp" else []
    train = TrainConfig(
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        stopping=LossSaturation(window=10, min_epochs=10),
    )
    spec = ModelSpec("mlp", {"sizes": [n_inputs, *hidden, k]})
    return TorchLearner(spec, train, seed=config.seed)


def _code_task(
    config: ProbeConfig,
    learner: TorchLearner,
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    boundaries: list[int],
    test: tuple[torch.Tensor, torch.Tensor] | None,
    uniform: float,
) -> dict[str, Any]:
    """One task's row of ``results.json`` (see the module docstring)."""
    t = time.perf_counter()
    code = prequential_code(x, y, k, learner, boundaries, verify=config.verify)
    accuracy = float("nan")
    if test is not None:
        final = learner.fit(x, y, code.fitted[-1], len(boundaries) - 1)  # on all n labels
        accuracy = evaluate(final.model, Split(*test), final.coding_head()).accuracy
    online = code.length.total
    return {
        "online_bits": online,
        "coded_bits": code.coded_bits,
        "kbit": online / 1000,
        "compression": uniform / online,
        "portion_bits": code.block_bits,
        "cumulative_bits": np.cumsum(code.block_bits).tolist(),
        "test_accuracy": accuracy,
        "decoded": code.decoded,
        "seconds": time.perf_counter() - t,
    }


def run_probe(config: ProbeConfig, *, folder: RunFolder | None = None) -> ProbeResult:
    """Code the labels (and the control's) given the features; with ``folder`` write
    ``config.json``, ``results.json``, ``table.txt`` and ``probe.png``."""
    config.validate()
    assert config.features is not None
    splits = load_dataset(config.features, seed=config.seed, n_train=config.n_train)
    assert splits.n_classes is not None  # validate() refused real-valued targets
    k, (x, y) = splits.n_classes, (splits.train.x, splits.train.y)
    n = len(x)
    boundaries = fraction_schedule(n)
    if folder is not None:
        folder.start({"config": asdict(config)})
    uniform = uniform_codelength(n, k).total
    learner = _learner(config, math.prod(splits.input_shape), k)
    test = (splits.test.x, splits.test.y) if len(splits.test) else None
    labels = {"labels": y}
    if config.control:
        shuffled = np.random.default_rng(config.seed).permutation(n)
        labels["control"] = y[torch.from_numpy(shuffled)]
    tasks = {
        name: _code_task(config, learner, x, targets, k, boundaries, test, uniform)
        for name, targets in labels.items()
    }
    result = ProbeResult(config, n, k, len(splits.test), boundaries, uniform, tasks)
    if folder is not None:
        curves = {name: row["cumulative_bits"] for name, row in tasks.items()}
        plot_probe(curves, uniform, boundaries, folder.file("probe.png"))
        folder.write_text("table.txt", result.report().text())
        folder.write_results(result.to_dict())
    return result
