"""The main pipeline as one function: train → (prune → fine-tune) → encode → verify → report.

Reads top to bottom: load data, build the model from a seed, train plainly or with a
regularizer then prune and fine-tune, choose a quantization step by tolerance, encode the weights
and the training targets, decode both, and measure everything in bits.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mdlkit.bits import LN2, CodeLength
from mdlkit.codes.two_part import (
    RegressionTwoPartCode,
    TwoPartCode,
    two_part_code,
    two_part_regression_code,
)
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.coding.weights import choose_step
from mdlkit.data import (
    DATASETS,
    Splits,
    load_digits,
    load_mnist,
    resolve_mnist_path,
    teacher_student,
)
from mdlkit.errors import MdlkitError
from mdlkit.evaluation import Evaluation, evaluate
from mdlkit.losses import GaussianCodelength
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.masks import count_nonzero, count_parameters
from mdlkit.regularizers import DRR, L1, PMMP, LinearWarmup, Regularizer
from mdlkit.training.loop import TrainConfig, TrainResult, train
from mdlkit.training.pipeline import PruneConfig, PruneResult, regularize_prune_finetune
from mdlkit.training.stopping import LossSaturation

__all__ = ["METHODS", "MODELS", "FitConfig", "FitResult", "load_fit_data", "run_fit"]

METHODS = ("none", "drr", "l1", "pmmp")
MODELS = ("mlp", "lenet-300-100", "lenet5-caffe", "small-cnn", "student")
CNN_MODELS = ("lenet5-caffe", "small-cnn")


@dataclass(frozen=True)
class FitConfig:
    """Everything one fit depends on. Strengths are per sample (they scale the MEAN loss).

    ``batch_size=None`` is full batch. ``n_train`` is N for teacher-student and an optional
    subset size for MNIST. ``epsilon`` is the precision regression targets are coded at.
    """

    dataset: str = "digits"
    mnist_path: str | None = None
    n_train: int | None = None
    noise: float = 0.01
    epsilon: float = 1e-3
    model: str = "mlp"
    hidden: tuple[int, ...] = (32,)
    activation: str = "relu"
    method: str = "drr"
    alpha: float = 3e-3
    beta: float = 5.0
    proximal: bool = False
    fictitious_play: bool = False
    gamma_init: float = 1.0
    u_init: float = 0.0
    warmup_epochs: int = 10
    prune_mode: str = "relative"
    tolerance: float = 0.01
    max_accuracy_drop: float = 0.002
    quant_tolerance: float = 0.005
    epochs: int = 300
    finetune_epochs: int = 200
    batch_size: int | None = 64
    lr: float = 1e-3
    window: int = 20
    seed: int = 0

    @property
    def is_regression(self) -> bool:
        return self.dataset == "teacher-student"

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on any bad setting, before anything runs or is written."""
        if self.dataset not in DATASETS:
            raise MdlkitError(
                f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}"
            )
        if self.dataset == "mnist":
            resolve_mnist_path(self.mnist_path)
        if self.model not in MODELS:
            raise MdlkitError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.model == "lenet5-caffe" and self.dataset != "mnist":
            raise MdlkitError("lenet5-caffe needs 28×28 images: use --dataset mnist")
        if self.model in CNN_MODELS and self.is_regression:
            raise MdlkitError(f"{self.model} is an image model; teacher-student needs an MLP")
        if self.method not in METHODS:
            raise MdlkitError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.alpha >= 0:
            raise MdlkitError(f"alpha must be >= 0, got {self.alpha}")
        if self.method == "drr" and not self.beta > 0:
            raise MdlkitError(f"DRR needs beta > 0 (beta = 0 switches it off), got {self.beta}")
        if self.method == "pmmp" and not 0.0 <= self.gamma_init <= 1.0:
            raise MdlkitError(f"PMMP's gamma init must lie in [0, 1], got {self.gamma_init}")
        if self.method == "pmmp" and not self.u_init >= 0:
            raise MdlkitError(f"PMMP's u init must be >= 0, got {self.u_init}")
        if self.prune_mode not in ("relative", "absolute"):
            raise MdlkitError(f"prune mode must be relative or absolute, got {self.prune_mode!r}")
        if not (self.tolerance >= 0 and self.quant_tolerance >= 0 and self.max_accuracy_drop >= 0):
            raise MdlkitError("tolerances must be >= 0")
        if self.epochs < 1 or self.finetune_epochs < 1 or self.warmup_epochs < 0:
            raise MdlkitError("epochs must be >= 1 and warm-up epochs >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise MdlkitError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise MdlkitError(f"learning rate must be > 0, got {self.lr}")
        if self.window < 4:
            raise MdlkitError(f"the stopping window must be >= 4 epochs, got {self.window}")
        if any(h < 1 for h in self.hidden):
            raise MdlkitError(f"hidden layer sizes must be >= 1, got {list(self.hidden)}")
        if self.n_train is not None and self.n_train < 1:
            raise MdlkitError(f"n_train must be >= 1, got {self.n_train}")
        if not self.noise >= 0 or not self.epsilon > 0:
            raise MdlkitError("noise must be >= 0 and epsilon > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise MdlkitError(f"unknown fit settings {sorted(unknown)}; was it written by mdlkit?")
        values = dict(data)
        if "hidden" in values:
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)


@dataclass
class FitResult:
    """The outcome of :func:`run_fit`: accuracy, sparsity and the verified code lengths."""

    config: FitConfig
    spec: ModelSpec
    test: Evaluation
    nonzero: int
    n_params: int
    two_part: TwoPartCode | RegressionTwoPartCode
    uniform: CodeLength | None
    phases: dict[str, TrainResult]
    pruning: PruneResult | None
    seconds: float

    @property
    def compression_rate(self) -> float:
        """CR = total parameters / nonzero parameters (biases included)."""
        return self.n_params / max(self.nonzero, 1)

    def summary(self) -> dict[str, Any]:
        """The figures of one table row, all lengths in bits."""
        tp = self.two_part
        regression = isinstance(tp, RegressionTwoPartCode)
        return {
            "method": self.config.method,
            "task": "regression" if regression else "classification",
            "test_accuracy": None if regression else self.test.accuracy,
            "test_mse": 2 * self.test.loss if regression else None,
            "test_loss_bits": None if regression else self.test.loss / LN2,
            "sigma": tp.sigma if isinstance(tp, RegressionTwoPartCode) else None,
            "nonzero": self.nonzero,
            "params": self.n_params,
            "compression_rate": self.compression_rate,
            "model_bits": dict(tp.model_conventions),
            "model_codec_parts_bits": dict(tp.encoded_model.length.parts),
            "two_part_parts_bits": dict(tp.length.parts),
            "quantization_step": tp.encoded_model.step,
            "data_ideal_bits": tp.data_ideal_bits,
            "data_coded_bits": tp.data_coded_bits,
            "two_part_bits": tp.length.total,
            "uniform_bits": self.uniform.total if self.uniform is not None else None,
            "tamade_threshold": self.pruning.tamade.threshold if self.pruning else None,
            "seconds": self.seconds,
        }


def load_fit_data(config: FitConfig) -> Splits:
    """The dataset of ``config``, as images for CNNs and flat vectors otherwise."""
    flatten = config.model not in CNN_MODELS
    if config.dataset == "mnist":
        return load_mnist(
            config.mnist_path, seed=config.seed, n_train=config.n_train, flatten=flatten
        )
    if config.dataset == "teacher-student":
        return teacher_student(config.n_train or 300, noise=config.noise, seed=config.seed)
    return load_digits(seed=config.seed, flatten=flatten)


def model_spec(config: FitConfig, splits: Splits) -> ModelSpec:
    """The model of ``config`` sized for the data."""
    n_out = splits.n_classes if splits.n_classes is not None else splits.train.y.shape[1]
    if config.model == "lenet-300-100":
        return ModelSpec("lenet-300-100", {"n_inputs": math.prod(splits.input_shape)})
    if config.model == "lenet5-caffe":
        return ModelSpec("lenet5-caffe", {"n_classes": n_out})
    if config.model == "small-cnn":
        return ModelSpec("small-cnn", {"image_size": splits.input_shape[-1], "n_classes": n_out})
    if config.model == "student":
        return ModelSpec("student")
    sizes = [math.prod(splits.input_shape), *config.hidden, n_out]
    return ModelSpec("mlp", {"sizes": sizes, "activation": config.activation})


def make_regularizer(config: FitConfig, steps_per_epoch: int) -> Regularizer | None:
    """The regularizer of ``config``; α ramps up over the warm-up epochs."""
    alpha = LinearWarmup(config.alpha, warmup_steps=config.warmup_epochs * steps_per_epoch)
    if config.method == "drr":
        return DRR(alpha, beta=config.beta)
    if config.method == "l1":
        return L1(alpha, proximal=config.proximal, step_size=config.lr)
    if config.method == "pmmp":
        return PMMP(
            alpha,
            gamma_init=config.gamma_init,
            u_init=config.u_init,
            fictitious_play=config.fictitious_play,
        )
    return None


def run_fit(
    config: FitConfig,
    *,
    progress: bool = False,
    splits: Splits | None = None,
    checkpoint_dir: str | Path | None = None,
) -> FitResult:
    """Run the whole pipeline for ``config`` and return verified results.

    With ``checkpoint_dir``, every phase checkpoints there and a second call resumes.
    """
    config.validate()
    start = time.perf_counter()
    splits = splits if splits is not None else load_fit_data(config)
    spec = model_spec(config, splits)
    torch.manual_seed(config.seed)
    model = spec.build()
    loss_fn: nn.Module | None = (
        GaussianCodelength(sigma_init=0.1, epsilon=config.epsilon) if config.is_regression else None
    )
    batch = config.batch_size or len(splits.train)
    steps_per_epoch = -(-len(splits.train) // batch)
    window = config.window
    stopping = LossSaturation(window=window, min_epochs=config.warmup_epochs + window)
    train_config = TrainConfig(
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        stopping=stopping,
    )
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    pruning: PruneResult | None = None
    regularizer = make_regularizer(config, steps_per_epoch)
    if regularizer is not None:
        finetune_config = TrainConfig(
            max_epochs=config.finetune_epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            seed=config.seed + 1,
            stopping=LossSaturation(window=window, min_epochs=window),
        )
        prune_config = PruneConfig(
            mode="absolute" if config.prune_mode == "absolute" else "relative",
            delta=config.tolerance,
            max_accuracy_drop=config.max_accuracy_drop,
            seed=config.seed,
        )
        result = regularize_prune_finetune(
            model,
            splits,
            regularizer,
            train_config,
            finetune_config,
            prune_config,
            loss_fn=loss_fn,
            checkpoint_dir=folder,
            progress=progress,
        )
        phases = {"regularized": result.regularized, "finetuned": result.finetuned}
        pruning = result.pruning
    else:
        phases = {
            "plain": train(
                model,
                splits.train,
                splits.val,
                train_config,
                loss_fn=loss_fn,
                checkpoint=folder / "plain.pt" if folder else None,
                progress=progress,
                description="plain",
            )
        }
    step = choose_step(model, lambda m: evaluate(m, splits.val), delta=config.quant_tolerance)
    code: TwoPartCode | RegressionTwoPartCode
    if isinstance(loss_fn, GaussianCodelength):
        code = two_part_regression_code(
            model, spec, splits.train, step, sigma=None, epsilon=config.epsilon
        )
        uniform = None
    else:
        assert splits.n_classes is not None
        code = two_part_code(model, spec, splits.train, step, splits.n_classes)
        uniform = uniform_codelength(len(splits.train), splits.n_classes)
    decoded = code.decoded_model
    return FitResult(
        config=config,
        spec=spec,
        test=evaluate(decoded, splits.test),
        nonzero=count_nonzero(decoded),
        n_params=count_parameters(decoded),
        two_part=code,
        uniform=uniform,
        phases=phases,
        pruning=pruning,
        seconds=time.perf_counter() - start,
    )
