"""The main pipeline as one function: train (plain or DRR) → prune → fine-tune → encode → report.

Reads top to bottom: load data, build the model from a seed, train, prune and fine-tune (DRR),
choose a quantization step by tolerance, encode the weights and the training labels, decode both,
and measure everything in bits.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from mdlkit.bits import CodeLength
from mdlkit.codes.two_part import TwoPartCode, two_part_code
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.coding.weights import choose_step
from mdlkit.data import DATASETS, Splits, load_digits, load_mnist, resolve_mnist_path
from mdlkit.errors import MdlkitError
from mdlkit.evaluation import Evaluation, evaluate
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.masks import count_nonzero, count_parameters
from mdlkit.regularizers.drr import DRR
from mdlkit.regularizers.schedules import LinearWarmup
from mdlkit.training.loop import TrainConfig, TrainResult, train
from mdlkit.training.pipeline import PruneConfig, PruneResult, regularize_prune_finetune
from mdlkit.training.stopping import LossSaturation

__all__ = ["METHODS", "MODELS", "FitConfig", "FitResult", "load_fit_data", "run_fit"]

METHODS = ("none", "drr")
MODELS = ("mlp", "lenet-300-100")
CLASSIFICATION_DATASETS = ("digits", "mnist")


@dataclass(frozen=True)
class FitConfig:
    """Everything one fit depends on. Strengths are per sample (they scale the MEAN loss)."""

    dataset: str = "digits"
    mnist_path: str | None = None
    model: str = "mlp"
    hidden: tuple[int, ...] = (32,)
    method: str = "drr"
    alpha: float = 3e-3
    beta: float = 5.0
    warmup_epochs: int = 10
    tolerance: float = 0.01
    quant_tolerance: float = 0.005
    epochs: int = 300
    finetune_epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on any bad setting, before anything runs or is written."""
        if self.dataset not in DATASETS:
            raise MdlkitError(
                f"unknown dataset {self.dataset!r}; choose one of "
                f"{', '.join(CLASSIFICATION_DATASETS)}"
            )
        if self.dataset not in CLASSIFICATION_DATASETS:
            raise MdlkitError(
                f"fit codes class labels; {self.dataset!r} is a regression dataset "
                f"(use the Python API); choose one of "
                f"{', '.join(CLASSIFICATION_DATASETS)}"
            )
        if self.dataset == "mnist":
            resolve_mnist_path(self.mnist_path)
        if self.model not in MODELS:
            raise MdlkitError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.method not in METHODS:
            raise MdlkitError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.alpha >= 0:
            raise MdlkitError(f"alpha must be >= 0, got {self.alpha}")
        if self.method == "drr" and not self.beta > 0:
            raise MdlkitError(f"DRR needs beta > 0 (beta = 0 switches it off), got {self.beta}")
        if not (self.tolerance >= 0 and self.quant_tolerance >= 0):
            raise MdlkitError("tolerances must be >= 0")
        if (
            self.epochs < 1
            or self.finetune_epochs < 1
            or self.batch_size < 1
            or self.warmup_epochs < 0
        ):
            raise MdlkitError("epochs and batch size must be >= 1 and warm-up epochs >= 0")
        if not self.lr > 0:
            raise MdlkitError(f"learning rate must be > 0, got {self.lr}")
        if any(h < 1 for h in self.hidden):
            raise MdlkitError(f"hidden layer sizes must be >= 1, got {list(self.hidden)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """The outcome of :func:`run_fit`: accuracy, sparsity and the verified code lengths."""

    config: FitConfig
    spec: ModelSpec
    test: Evaluation
    nonzero: int
    n_params: int
    two_part: TwoPartCode
    uniform: CodeLength
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
        return {
            "method": self.config.method,
            "test_accuracy": self.test.accuracy,
            "test_loss_bits": self.test.loss / 0.6931471805599453,
            "nonzero": self.nonzero,
            "params": self.n_params,
            "compression_rate": self.compression_rate,
            "model_bits": dict(tp.model_conventions),
            "model_codec_parts_bits": dict(tp.encoded_model.length.parts),
            "quantization_step": tp.encoded_model.step,
            "data_ideal_bits": tp.data_ideal_bits,
            "data_coded_bits": tp.data_coded_bits,
            "two_part_bits": tp.length.total,
            "uniform_bits": self.uniform.total,
            "seconds": self.seconds,
        }


def load_fit_data(config: FitConfig) -> Splits:
    if config.dataset == "mnist":
        return load_mnist(config.mnist_path, seed=config.seed)
    return load_digits(seed=config.seed)


def _spec(config: FitConfig, splits: Splits) -> ModelSpec:
    n_in, n_out = int(torch.tensor(splits.input_shape).prod()), int(splits.n_classes or 1)
    if config.model == "lenet-300-100":
        return ModelSpec("lenet-300-100", {"n_inputs": n_in, "n_classes": n_out})
    return ModelSpec("mlp", {"sizes": [n_in, *config.hidden, n_out], "activation": "relu"})


def run_fit(
    config: FitConfig, *, progress: bool = False, splits: Splits | None = None
) -> FitResult:
    """Run the whole pipeline for ``config`` and return verified results (nothing is written)."""
    config.validate()
    start = time.perf_counter()
    splits = splits if splits is not None else load_fit_data(config)
    assert splits.n_classes is not None
    spec = _spec(config, splits)
    torch.manual_seed(config.seed)
    model = spec.build()
    steps_per_epoch = -(-len(splits.train) // config.batch_size)
    window = 20
    stopping = LossSaturation(window=window, min_epochs=config.warmup_epochs + window)
    train_config = TrainConfig(
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        stopping=stopping,
    )
    phases: dict[str, TrainResult] = {}
    pruning: PruneResult | None = None
    if config.method == "drr":
        regularizer = DRR(
            LinearWarmup(config.alpha, warmup_steps=config.warmup_epochs * steps_per_epoch),
            beta=config.beta,
        )
        finetune_config = TrainConfig(
            max_epochs=config.finetune_epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            seed=config.seed + 1,
            stopping=LossSaturation(window=window, min_epochs=window),
        )
        result = regularize_prune_finetune(
            model,
            splits,
            regularizer,
            train_config,
            finetune_config,
            PruneConfig(delta=config.tolerance, seed=config.seed),
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
                progress=progress,
                description="plain",
            )
        }
    step = choose_step(model, lambda m: evaluate(m, splits.val), delta=config.quant_tolerance)
    code = two_part_code(model, spec, splits.train, step, splits.n_classes)
    decoded = code.decoded_model
    return FitResult(
        config=config,
        spec=spec,
        test=evaluate(decoded, splits.test),
        nonzero=count_nonzero(decoded),
        n_params=count_parameters(decoded),
        two_part=code,
        uniform=uniform_codelength(len(splits.train), splits.n_classes),
        phases=phases,
        pruning=pruning,
        seconds=time.perf_counter() - start,
    )
