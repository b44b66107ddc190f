"""A fit's settings and what they resolve to: the data, the model sized for it, α, the
pipeline's phases (:class:`FitConfig`, :func:`fit_data`, :func:`fit_spec`, :func:`fit_alpha`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from torch import nn

from mdlkit.data import Splits, check_dataset, image_shape, load_dataset
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.models import ModelSpec, check_model, is_image_model, model_spec
from mdlkit.models.factory import (
    Factories,
    check_factory_options,
    factory_spec,
    is_factory_reference,
    parse_model_args,
)
from mdlkit.regularizers import REGULARIZE, LinearWarmup, Regularizer, RegularizerSpec, restrict
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.training import (
    PipelineConfig,
    PruneConfig,
    TrainConfig,
    codec_bits_per_nonzero,
    description_length_alpha,
)

__all__ = ["FitConfig", "fit_alpha", "fit_data", "fit_spec"]


@dataclass(frozen=True)
class FitConfig:
    """Everything one fit depends on. Strengths are per sample (they scale the MEAN loss).

    With ``teacher`` (a finished fit run folder) every training phase minimises, in nats per
    example (Hinton et al. 2015; :mod:`mdlkit.training.distill`),

        (1 − W) · CE(y, softmax(s)) + W · T² · KL(softmax(t / T) ‖ softmax(s / T))

    with the teacher's logits t on the training split (computed once, float32, on the CPU),
    T = ``temperature`` (default 4) and W = ``teacher_weight`` (default 0.9; 0 is plain
    training). The code length still codes the TRUE labels: the teacher is a training aid, not
    part of the code (a decoder never needs it).
    """

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
    """model: mlp | lenet-300-100 | lenet5-caffe | small-cnn | student | a factory module:name"""
    model_args: str | None = None
    """a --model factory's keyword arguments as a JSON object, e.g. '{"width": 64}'"""
    images: bool = False
    """give a --model factory images (channels, height, width) instead of flat vectors"""
    hidden: tuple[int, ...] = (32,)
    """MLP hidden layer sizes, comma-separated"""
    activation: str = "relu"
    """MLP activation: relu | tanh | gelu"""
    method: str = "drr"
    """method: none | drr | l1 | pmmp"""
    regularize: Literal["all", "layers"] = "all"
    """what the method pulls to zero: all parameters | layers (Linear/Conv/Embedding weights)"""
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
    teacher: str | None = None
    """a finished fit run folder whose model's soft labels the model also trains on"""
    temperature: float = 4.0
    """distillation temperature T > 0 of the teacher's and the model's softmax"""
    teacher_weight: float = 0.9
    """W in [0, 1]: the soft labels' share of the loss, (1 − W) the true labels'"""
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
        check_factory_options(self.model, self.model_args, self.images)
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
        if self.regularize not in REGULARIZE:
            raise MdlkitError(f"regularize must be all or layers, got {self.regularize!r}")
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
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise MdlkitError(f"temperature must be a finite number > 0, got {self.temperature}")
        if not 0 <= self.teacher_weight <= 1:
            raise MdlkitError(f"teacher weight must lie in [0, 1], got {self.teacher_weight}")
        if self.teacher is not None and not Path(self.teacher).is_dir():
            raise MdlkitError(f"teacher run folder not found: {self.teacher}")
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

    def pipeline(self) -> PipelineConfig:
        """The phases of :func:`mdlkit.training.shortest_model`: pruning only with a method,
        fine-tuning on the grid if ``grid_epochs`` > 0."""
        window = self.window

        def phase(epochs: int, seed: int, min_epochs: int, keep_best: bool = True) -> TrainConfig:
            stopping = LossSaturation(window=window, min_epochs=min_epochs)
            return TrainConfig(
                max_epochs=epochs, batch_size=self.batch_size, lr=self.lr, seed=seed,
                stopping=stopping, keep_best=keep_best,
            )  # fmt: skip

        prune = PruneConfig(
            mode=self.prune_mode,
            delta=self.tolerance,
            max_accuracy_drop=self.max_accuracy_drop,
            seed=self.seed,
        )
        return PipelineConfig(
            train=phase(self.epochs, self.seed, self.warmup_epochs + window),
            finetune=phase(self.finetune_epochs, self.seed + 1, window)
            if self.method != "none"
            else None,
            prune=prune,
            quant_mode=self.quant_mode,
            quant_tolerance=self.quant_tolerance,
            grid=phase(self.grid_epochs, self.seed + 2, window, keep_best=False)
            if self.grid_epochs > 0
            else None,
        )

    def build_regularizer(
        self, alpha: float, n_train: int, model: nn.Module | None = None
    ) -> Regularizer | None:
        """The method at strength ``alpha``, reached linearly over the warm-up epochs (of
        ``n_train`` samples in batches of ``batch_size``), on the parameters of ``model`` that
        ``regularize`` names (``model`` is needed for ``"layers"``); ``None`` for
        ``method="none"``."""
        batch = self.batch_size or n_train
        steps_per_epoch = -(-n_train // batch)
        schedule = LinearWarmup(alpha, warmup_steps=self.warmup_epochs * steps_per_epoch)
        regularizer = self.regularizer(alpha).build(schedule)
        if regularizer is None or self.regularize == "all":
            return regularizer
        if model is None:
            raise MdlkitError("regularize=layers needs the model to pick its layers from")
        return restrict(regularizer, model, self.regularize)

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


def fit_data(config: FitConfig) -> Splits:
    """The dataset of ``config``: images for image models, flat vectors otherwise."""
    return load_dataset(
        config.dataset,
        seed=config.seed,
        mnist_path=config.mnist_path,
        n_train=config.n_train,
        noise=config.noise,
        images=is_image_model(config.model) or config.images,
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


def fit_spec(config: FitConfig, splits: Splits, factories: Factories | None = None) -> ModelSpec:
    """The model of ``config`` sized for the data; a factory's (``config.model`` a reference
    ``module:name``) with ``config.model_args`` as they are, the factory taken from
    ``factories`` or else imported (the user named it)."""
    if is_factory_reference(config.model):
        return factory_spec(config.model, parse_model_args(config.model_args), factories=factories)
    return model_spec(
        config.model,
        input_shape=splits.input_shape,
        n_outputs=splits.n_classes or splits.train.y.shape[1],
        hidden=config.hidden,
        activation=config.activation,
    )
