"""The main pipeline as one function: train → (prune → fine-tune) → encode → verify → report.

Reads top to bottom: load data, build the model from a seed, train plainly or with a
regularizer then prune and fine-tune, choose a quantization step by tolerance, encode the weights
and the training targets, decode both, and measure everything in bits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from torch import nn

from mdlkit.bits import LN2, CodeLength
from mdlkit.codes.selection import codec_bits_per_nonzero, description_length_alpha, two_part_bits
from mdlkit.codes.two_part import TwoPartCode, two_part_code
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.data import Splits, check_dataset, image_shape, load_dataset
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, Evaluation, GaussianHead, Head, evaluate
from mdlkit.models import ModelSpec, check_model, is_image_model, model_spec
from mdlkit.pruning import cheapest_step, choose_step, count_nonzero, count_parameters
from mdlkit.regularizers import LinearWarmup, RegularizerSpec
from mdlkit.report import Report
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.training.distributed import DataParallel, init_from_environment
from mdlkit.training.loop import TrainConfig, TrainResult, train
from mdlkit.training.pipeline import (
    PruneConfig,
    PruneResult,
    regularize_prune_finetune,
)
from mdlkit.training.quantized import QuantizedForward

T = TypeVar("T")

__all__ = [
    "FitConfig",
    "FitResult",
    "fit_alpha",
    "fit_data",
    "fit_spec",
    "run_fit",
    "step_chooser",
]


@dataclass(frozen=True)
class FitConfig:
    """Everything one fit depends on. Strengths are per sample (they scale the MEAN loss)."""

    dataset: str = "digits"
    """data: digits | mnist | teacher-student | sklearn:NAME | a FILE (.npz, .csv, .parquet)"""
    target: str | None = None
    """target column of a .csv/.parquet file"""
    task: Literal["auto", "classification", "regression"] = "auto"
    """auto: text and integer targets are classes, real numbers regression"""
    mnist_path: str | None = None
    """MNIST .npz file (default: $MDLKIT_MNIST)"""
    n_train: int | None = None
    """training samples: teacher-student N (default 300) or an MNIST subset"""
    noise: float = 0.01
    """teacher-student noise σ"""
    epsilon: float = 1e-3
    """precision regression targets are coded at"""
    model: str = "mlp"
    """model: mlp | lenet-300-100 | lenet5-caffe | small-cnn | student"""
    hidden: tuple[int, ...] = (32,)
    """MLP hidden layer sizes, comma-separated"""
    activation: str = "relu"
    """MLP activation: relu | tanh | gelu"""
    method: str = "drr"
    """method: none | drr | l1 | pmmp"""
    alpha: float | Literal["auto"] = "auto"
    """strength α ≥ 0 per sample; auto = c·ln2/n, c the codec's bits per nonzero weight"""
    beta: float = 5.0
    """DRR sharpness β > 0"""
    proximal: bool = False
    """R-L1 by proximal steps"""
    fictitious_play: bool = False
    """PMMP with FPP averaging"""
    gamma_init: float = 1.0
    """PMMP γ₀ in [0, 1]"""
    u_init: float = 0.0
    """PMMP u₀ ≥ 0"""
    warmup_epochs: int = 10
    """epochs over which α ramps up from 0"""
    prune_mode: Literal["codelength", "relative", "absolute"] = "codelength"
    """threshold: shortest two-part code, or TAMADE on the validation loss/accuracy"""
    tolerance: float = 0.01
    """TAMADE relative loss tolerance δ"""
    max_accuracy_drop: float = 0.002
    """TAMADE absolute mode: accuracy drop allowed (0.002 = 0.2 points)"""
    quant_mode: Literal["codelength", "tolerance"] = "codelength"
    """quantization step: shortest two-part code, or the largest within quant-tolerance"""
    quant_tolerance: float = 0.005
    """relative loss tolerance of quantization (quant-mode tolerance)"""
    epochs: int = 300
    """max epochs of training"""
    finetune_epochs: int = 200
    """max epochs of fine-tuning"""
    grid_epochs: int = 100
    """max epochs of fine-tuning on the quantization grid (straight-through), 0: none"""
    batch_size: int | None = 64
    """samples per step; 0 or null = full batch"""
    lr: float = 1e-3
    """Adam learning rate"""
    window: int = 20
    """epochs the stopping rule looks back (≥ 4)"""
    seed: int = 0
    """random seed: data split, initial weights, batch order"""
    device: str = "auto"
    """where to train: auto | cpu | cuda | cuda:N | mps (coding always runs on the CPU)"""

    def __post_init__(self) -> None:
        if self.batch_size == 0:  # the command line's spelling of "full batch"
            object.__setattr__(self, "batch_size", None)

    def validate(self, *, data: bool = True) -> None:
        """Raise :class:`MdlkitError` on any bad setting, before anything runs or is written.

        ``data=False`` skips the dataset's checks (its file's existence among them): for a fit
        given its data already loaded, e.g. a sweep job on a machine without the file."""
        if data:
            check_dataset(
                self.dataset,
                mnist_path=self.mnist_path,
                n_train=self.n_train,
                noise=self.noise,
                target=self.target,
                task=self.task,
            )
        check_model(
            self.model,
            hidden=self.hidden,
            activation=self.activation,
            image_shape=image_shape(self.dataset),
            data=self.dataset,
        )
        if not self.lr > 0:
            raise MdlkitError(f"learning rate must be > 0, got {self.lr}")
        if self.alpha != "auto" and not (isinstance(self.alpha, int | float) and self.alpha >= 0):
            raise MdlkitError(f"alpha must be >= 0, got {self.alpha!r}")
        self.regularizer(0.0 if self.alpha == "auto" else float(self.alpha)).validate()
        if self.prune_mode not in ("codelength", "relative", "absolute"):
            raise MdlkitError(
                f"prune mode must be codelength, relative or absolute, got {self.prune_mode!r}"
            )
        if self.quant_mode not in ("codelength", "tolerance"):
            raise MdlkitError(
                f"quant mode must be codelength or tolerance, got {self.quant_mode!r}"
            )
        if not (self.tolerance >= 0 and self.quant_tolerance >= 0 and self.max_accuracy_drop >= 0):
            raise MdlkitError("tolerances must be >= 0")
        if self.epochs < 1 or self.finetune_epochs < 1 or self.warmup_epochs < 0:
            raise MdlkitError("epochs must be >= 1 and warm-up epochs >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise MdlkitError(f"batch size must be >= 1, got {self.batch_size}")
        if self.window < 4:
            raise MdlkitError(f"the stopping window must be >= 4 epochs, got {self.window}")
        if not self.epsilon > 0:
            raise MdlkitError(f"epsilon must be > 0, got {self.epsilon}")
        resolve_device(self.device)

    def regularizer(self, alpha: float) -> RegularizerSpec:
        """The method and its options at strength ``alpha`` (R-L1's proximal step is the
        learning rate)."""
        return RegularizerSpec(
            self.method,
            alpha=alpha,
            beta=self.beta,
            proximal=self.proximal,
            step_size=self.lr,
            gamma_init=self.gamma_init,
            u_init=self.u_init,
            fictitious_play=self.fictitious_play,
        )

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

    @classmethod
    def from_folder(cls, folder: RunFolder) -> FitConfig:
        """The config a fit run folder was started with (to continue it)."""
        data = folder.read_config()
        runs = data.get("runs")
        if not isinstance(runs, dict):
            raise MdlkitError(f"{folder.path}/config.json is damaged or not written by mdlkit")
        if len(runs) != 1:
            raise MdlkitError(
                f"{folder.path} holds {len(runs)} runs; --resume continues a single fit run"
            )
        try:
            return cls.from_dict(next(iter(runs.values())))
        except (TypeError, AttributeError):
            raise MdlkitError(
                f"{folder.path}/config.json is damaged or not written by mdlkit"
            ) from None


@dataclass
class FitResult:
    """The outcome of :func:`run_fit`: accuracy, sparsity and the verified code lengths."""

    config: FitConfig
    spec: ModelSpec
    test: Evaluation
    nonzero: int
    n_params: int
    two_part: TwoPartCode
    uniform: CodeLength | None
    phases: dict[str, TrainResult]
    pruning: PruneResult | None
    seconds: float
    alpha: float = 0.0
    bits_per_nonzero: float | None = None

    @property
    def compression_rate(self) -> float:
        """CR = total parameters / nonzero parameters (biases included)."""
        return self.n_params / max(self.nonzero, 1)

    def summary(self) -> dict[str, Any]:
        """The figures of one table row, all lengths in bits."""
        tp = self.two_part
        regression = not tp.head.is_classification
        return {
            "method": self.config.method,
            "alpha": self.alpha,
            "alpha_setting": self.config.alpha,
            "codec_bits_per_nonzero": self.bits_per_nonzero,
            "task": "regression" if regression else "classification",
            "test_accuracy": None if regression else self.test.accuracy,
            "test_mse": 2 * self.test.loss if regression else None,
            "test_loss_bits": None if regression else self.test.loss / LN2,
            "sigma": tp.sigma,
            "sigma_trained": tp.sigma_trained,
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

    def report(self) -> Report:
        """The table of this run, as ``mdlkit fit`` prints it."""
        from mdlkit.recipes.output import fit_report

        title = f"mdlkit fit: {self.config.dataset}, {self.config.model}, {self.config.method}"
        return fit_report([(self.config.method, self)], title)


def fit_data(config: FitConfig) -> Splits:
    """The dataset of ``config``: images for image models, flat vectors otherwise."""
    return load_dataset(
        config.dataset,
        seed=config.seed,
        mnist_path=config.mnist_path,
        n_train=config.n_train,
        noise=config.noise,
        images=is_image_model(config.model),
        target=config.target,
        task=config.task,
    )


def fit_alpha(config: FitConfig, model: nn.Module, spec: ModelSpec, n: int) -> tuple[float, float]:
    """The strength α of ``config`` and the codec's bits per nonzero weight c it rests on.

    ``alpha="auto"`` gives α = c · ln 2 / n (:func:`~mdlkit.codes.description_length_alpha`)
    with c measured on the initialised ``model``; a number is used as it is (c still reported).
    """
    c = codec_bits_per_nonzero(model, spec)
    if config.alpha == "auto":
        return description_length_alpha(n, c), c
    return float(config.alpha), c


def step_chooser(
    config: FitConfig, spec: ModelSpec, head: Head, splits: Splits
) -> Callable[[nn.Module], tuple[float, float]]:
    """How ``config`` picks the quantization step of a model, with the model's two-part length
    (bits, :func:`~mdlkit.codes.two_part_bits`, training targets) at that step: the step of the
    shortest code, or the largest step within the validation-loss tolerance."""

    def bits_at(m: nn.Module, step: float) -> float:
        return two_part_bits(m, spec, step, head, splits.train)

    if config.quant_mode == "codelength":
        return lambda model: cheapest_step(model, bits_at)

    def within_tolerance(model: nn.Module) -> tuple[float, float]:
        step = choose_step(model, lambda m: evaluate(m, splits.val), delta=config.quant_tolerance)
        return step, bits_at(model, step)

    return within_tolerance


def fit_spec(config: FitConfig, splits: Splits) -> ModelSpec:
    """The model of ``config`` sized for the data."""
    return model_spec(
        config.model,
        input_shape=splits.input_shape,
        n_outputs=splits.n_classes or splits.train.y.shape[1],
        hidden=config.hidden,
        activation=config.activation,
    )


def run_fit(
    config: FitConfig,
    *,
    folder: RunFolder | None = None,
    progress: bool = False,
    splits: Splits | None = None,
    checkpoint_dir: str | Path | None = None,
) -> FitResult:
    """Run the whole pipeline for ``config`` and return verified results.

    Every phase checkpoints into ``checkpoint_dir`` (a second call resumes). With ``folder``,
    the run records its config there first (and ``scaling.json``: the feature scaling fitted on
    the training rows of a user's table), checkpoints into it, and ends by writing
    ``results.json``, ``<method>.mdlw``, ``table.txt`` and ``training.png``.

    Training runs on ``config.device``. Started by ``torchrun`` with several ranks, every phase
    trains data-parallel (:mod:`mdlkit.training.distributed`); rank 0 alone writes the folder,
    prunes, picks the quantization step and codes, and every rank returns its result.
    """
    config.validate(data=splits is None)
    start = time.perf_counter()
    device = resolve_device(config.device)
    parallel = init_from_environment(device)
    if parallel is not None:
        device = parallel.device
    # Data and model first: a model that does not fit the data is refused before anything is
    # written.
    splits = splits if splits is not None else fit_data(config)
    spec = fit_spec(config, splits)
    if folder is not None:
        if parallel is None or parallel.rank == 0:
            folder.start({"runs": {config.method: config.to_dict()}})
            if splits.scaling is not None:  # how to prepare new inputs for the decoded model
                folder.write_text("scaling.json", json.dumps(splits.scaling.to_dict(), indent=1))
        if parallel is not None:
            parallel.barrier()
        checkpoint_dir = folder.checkpoints
    torch.manual_seed(config.seed)
    model = spec.build()
    # Measured before training draws any random number, so the weights are as before.
    alpha, bits_per_nonzero = fit_alpha(config, model, spec, len(splits.train))
    # The head is the loss of training and the distribution of the data part alike.
    head: Head = (
        GaussianHead(sigma_init=0.1, epsilon=config.epsilon)
        if splits.n_classes is None
        else CategoricalHead()
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
    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None else None
    choose_step_of = step_chooser(config, spec, head, splits)
    pruning: PruneResult | None = None
    regularizer = config.regularizer(alpha).build(
        LinearWarmup(alpha, warmup_steps=config.warmup_epochs * steps_per_epoch)
    )
    if regularizer is not None:
        finetune_config = TrainConfig(
            max_epochs=config.finetune_epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            seed=config.seed + 1,
            stopping=LossSaturation(window=window, min_epochs=window),
        )
        prune_config = PruneConfig(
            mode=config.prune_mode,
            delta=config.tolerance,
            max_accuracy_drop=config.max_accuracy_drop,
            seed=config.seed,
        )
        pipeline = regularize_prune_finetune(
            model,
            splits,
            regularizer,
            train_config,
            finetune_config,
            prune_config,
            loss_fn=head,
            checkpoint_dir=checkpoints,
            progress=progress,
            # each pruned version at the step that suits IT: one step chosen on the unpruned
            # model would be far too coarse for a model with a few weights left
            cost=lambda m: choose_step_of(m)[1],
            device=device,
            parallel=parallel,
        )
        phases = {"regularized": pipeline.regularized, "finetuned": pipeline.finetuned}
        pruning = pipeline.pruning
    else:
        phases = {
            "plain": train(
                model,
                splits.train,
                splits.val,
                train_config,
                loss_fn=head,
                checkpoint=checkpoints / "plain.pt" if checkpoints else None,
                progress=progress,
                description="plain",
                device=device,
                parallel=parallel,
            )
        }
    step = _on_main(parallel, lambda: choose_step_of(model)[0])
    if config.grid_epochs > 0:
        # The step is often coarse; fine-tuning through the rounding recovers what it costs.
        phases["grid"] = train(
            model,
            splits.train,
            splits.val,
            TrainConfig(
                max_epochs=config.grid_epochs,
                batch_size=config.batch_size,
                lr=config.lr,
                seed=config.seed + 2,
                stopping=LossSaturation(window=window, min_epochs=window),
                keep_best=False,
            ),
            mask=pruning.mask if pruning is not None else None,
            loss_fn=head,
            checkpoint=checkpoints / "grid.pt" if checkpoints else None,
            progress=progress,
            description="on the grid",
            wrap_model=lambda m: QuantizedForward(m, step),
            device=device,
            parallel=parallel,
        )
    return _on_main(
        parallel,
        lambda: _code_and_write(
            config, spec, model, splits, step, head, phases, pruning, alpha, bits_per_nonzero,
            start, folder,
        ),
    )  # fmt: skip


def _on_main(parallel: DataParallel | None, compute: Callable[[], T]) -> T:
    """``compute()`` here, or on rank 0 of a data-parallel run with the result broadcast."""
    return compute() if parallel is None else parallel.on_main(compute)


def _code_and_write(
    config: FitConfig,
    spec: ModelSpec,
    model: nn.Module,
    splits: Splits,
    step: float,
    head: Head,
    phases: dict[str, TrainResult],
    pruning: PruneResult | None,
    alpha: float,
    bits_per_nonzero: float,
    start: float,
    folder: RunFolder | None,
) -> FitResult:
    """The trained ``model`` coded at ``step`` (two-part, decoded back) and the run's outputs
    written to ``folder``."""
    # Regression sends σ refit on the decoded model (shorter than the trained one; both are
    # recorded in the result).
    code = two_part_code(model, spec, splits.train, step, splits.n_classes, head=head)
    uniform = (
        uniform_codelength(len(splits.train), splits.n_classes)
        if splits.n_classes is not None
        else None
    )
    decoded = code.decoded_model
    result = FitResult(
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
        alpha=alpha,
        bits_per_nonzero=bits_per_nonzero,
    )
    if folder is not None:
        from mdlkit.recipes.output import write_fit_outputs

        write_fit_outputs(folder, [(config.method, result)], result.report())
    return result
