"""Recipe: how many bits does a dataset's labels take? Every code side by side.

Codes the labels of the training split (the receiver has the inputs) with the uniform, two-part,
prequential, switching and variational codes, and prints a table like Blier & Ollivier's Table 1:
length in bits (kbit beside it for reading), ratio to uniform, and test accuracy of the model
each code ends with. Online codes are decoded back (re-running their training) before they are
reported, unless ``verify=False``. Plots: cumulative length against samples transmitted, and
bits per sample per block.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import OnlineCode, decode_online, encode_online, switching_code
from mdlkit.codes.schedules import doubling_schedule, fraction_schedule
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.codes.variational import variational_code
from mdlkit.data import Splits, check_dataset, image_shape, is_regression, load_dataset
from mdlkit.devices import resolve_device
from mdlkit.errors import MdlkitError
from mdlkit.heads import evaluate
from mdlkit.models import ModelSpec, check_model, is_image_model, model_spec
from mdlkit.models.factory import (
    check_factory_options,
    factory_spec,
    is_factory_reference,
    parse_model_args,
)
from mdlkit.recipes.fit import FitConfig, run_fit
from mdlkit.report import Report
from mdlkit.report.codelength import codelength_table, plot_codelengths
from mdlkit.runs import RunFolder
from mdlkit.stopping import LossSaturation
from mdlkit.training.loop import TrainConfig

__all__ = ["CODES", "CodelengthConfig", "CodelengthResult", "run_codelength"]

CODES = ("uniform", "two-part", "prequential", "switching", "variational")


@dataclass(frozen=True)
class CodelengthConfig:
    """What to code and how."""

    dataset: str = "digits"
    """class labels: digits | mnist | sklearn:NAME | a FILE (.npz, .csv, .parquet)"""
    target: str | None = None
    """target column of a .csv/.parquet file"""
    mnist_path: str | None = None
    """MNIST .npz file (default: $MDLKIT_MNIST)"""
    n_train: int | None = None
    """use a stratified subset of the training set"""
    model: str = "mlp"
    """model: mlp | lenet-300-100 | lenet5-caffe | small-cnn | a factory module:name"""
    model_args: str | None = None
    """a --model factory's keyword arguments as a JSON object, e.g. '{"width": 64}'"""
    images: bool = False
    """give a --model factory images (channels, height, width) instead of flat vectors"""
    hidden: tuple[int, ...] = (64,)
    """MLP hidden layer sizes, comma-separated"""
    codes: tuple[str, ...] = CODES
    """codes, comma-separated: uniform, two-part, prequential, switching, variational"""
    schedule: Literal["doubling", "fractions"] = "doubling"
    """blocks of the online codes: doubling sizes, or fixed fractions of the data"""
    first_block: int = 10
    """size of the first block (sent with the uniform code)"""
    mode: Literal["scratch", "continue"] = "scratch"
    """per-block training: from scratch, or continuing the previous block's model"""
    calibrate: bool = False
    """temperature-calibrate each block"""
    members: int = 1
    """online codes: networks averaged per block (an ensemble, members × the training)"""
    anneal: int = 0
    """online codes: extra training phases per block, each at a tenth of the learning rate"""
    anneal_from: int = 0
    """online codes: --anneal only once this many labels have been seen"""
    shift: int = 0
    """online codes: train on images shifted by up to this many pixels (0: no augmentation)"""
    rotate: int = 0
    """online codes, with --shift: also rotate training images by up to this many degrees"""
    scale: int = 0
    """online codes, with --shift: also scale training images by up to this many percent"""
    threads: int | None = None
    """online codes: torch threads each network trains with (default: this process's count)"""
    workers: int = 1
    """online codes: processes that train the --members at once (the bits do not change)"""
    epochs: int = 100
    """per-block training epochs cap of the online codes"""
    batch_size: int = 64
    """samples per step"""
    lr: float = 1e-3
    """Adam learning rate"""
    variational_epochs: int = 200
    """training epochs of the variational code"""
    verify: bool = True
    """decode the online codes back (--no-verify skips it)"""
    seed: int = 0
    """random seed: data split, initial weights, batch order"""
    device: str = "cpu"
    """where online codes' learners train: cpu (decodes anywhere) | auto | cuda | cuda:N | mps"""

    def validate(self, n: int | None = None) -> None:
        """Raise :class:`MdlkitError` on a bad setting; with ``n`` (the number of training
        labels) also on blocks that do not fit the data."""
        resolve_device(self.device)
        unknown = [c for c in self.codes if c not in CODES]
        if unknown or not self.codes:
            raise MdlkitError(
                f"unknown code {unknown[0] if unknown else ''!r}; choose from {', '.join(CODES)}"
            )
        if self.schedule not in ("doubling", "fractions"):
            raise MdlkitError(f"schedule must be doubling or fractions, got {self.schedule!r}")
        if self.mode not in ("scratch", "continue"):
            raise MdlkitError(f"mode must be scratch or continue, got {self.mode!r}")
        if self.first_block < 1:
            raise MdlkitError(f"the first block needs at least one sample, got {self.first_block}")
        if n is not None and self.first_block > n:
            raise MdlkitError(
                f"the first block ({self.first_block}) is larger than the data ({n} samples)"
            )
        check_dataset(
            self.dataset, mnist_path=self.mnist_path, n_train=self.n_train, target=self.target
        )
        if is_regression(self.dataset, target=self.target):
            raise MdlkitError(
                f"codelength codes class labels; {self.dataset} has a real-valued target "
                "(mdlkit fit codes it with a Gaussian)"
            )
        check_factory_options(self.model, self.model_args, self.images)
        check_model(self.model, hidden=self.hidden, image_shape=image_shape(self.dataset))
        if self.members < 1:
            raise MdlkitError(f"--members must be >= 1 networks per block, got {self.members}")
        if self.threads is not None and self.threads < 1:
            raise MdlkitError(f"--threads must be >= 1 torch threads, got {self.threads}")
        if self.workers < 1:
            raise MdlkitError(f"--workers must be >= 1 processes, got {self.workers}")
        if self.anneal < 0 or self.anneal_from < 0:
            raise MdlkitError(
                f"--anneal counts learning-rate phases, --anneal-from labels: give both >= 0, "
                f"got {self.anneal} and {self.anneal_from}"
            )
        if self.shift < 0 or self.rotate < 0 or not 0 <= self.scale < 100:
            raise MdlkitError("--shift and --rotate must be >= 0 and --scale 0–99 (percent)")
        images = is_image_model(self.model) or self.images
        if (self.rotate or self.scale or self.shift) and not (self.shift and images):
            raise MdlkitError("--rotate, --scale need --shift 1+; --shift needs image inputs")
        if self.epochs < 1 or self.variational_epochs < 1 or self.batch_size < 1:
            raise MdlkitError("epochs and the batch size must be >= 1")
        if not self.lr > 0:
            raise MdlkitError(f"learning rate must be > 0, got {self.lr}")


@dataclass(frozen=True)
class CodelengthResult:
    """Every requested code's length (bits; kbit = bits / 1000 for display; ratio to uniform),
    test accuracy and time.

    ``result["codes"]`` and the like read the fields as ``results.json`` holds them.
    """

    config: CodelengthConfig
    n: int
    classes: int
    boundaries: list[int]
    codes: dict[str, dict[str, Any]]

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "n": self.n,
            "classes": self.classes,
            "boundaries": self.boundaries,
            "codes": self.codes,
        }

    def report(self) -> Report:
        """A table like Blier & Ollivier's Table 1."""
        title = (
            f"description length of {self.n:,} {self.config.dataset} labels "
            f"({self.classes} classes)"
        )
        return Report(codelength_table(title, self.codes))


def _learner(config: CodelengthConfig, spec: ModelSpec) -> TorchLearner:
    train_config = TrainConfig(
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        stopping=LossSaturation(window=10, min_epochs=10),
    )
    return TorchLearner(
        spec,
        train_config,
        mode=config.mode,
        calibrate=config.calibrate,
        seed=config.seed,
        device=str(resolve_device(config.device)),
        members=config.members,
        anneal=config.anneal,
        anneal_from=config.anneal_from,
        shift=config.shift,
        rotate=config.rotate,
        scale=config.scale,
        threads=config.threads,
        workers=config.workers,
    )


def _switch_specs(config: CodelengthConfig, splits: Splits, spec: ModelSpec) -> list[ModelSpec]:
    """The candidates of the switching code: a small model that learns fast, the chosen model,
    and (for MLPs) a wider one that catches up late."""
    k = splits.n_classes or 1
    if len(splits.input_shape) > 1:  # images: a narrow CNN beside the chosen network
        small = ModelSpec(
            "small-cnn", {"image_size": splits.input_shape[-1], "n_classes": k, "channels": 4}
        )
        return [small, spec]
    n_in = math.prod(splits.input_shape)
    linear = ModelSpec("mlp", {"sizes": [n_in, k]})
    if spec.kind != "mlp":
        return [linear, spec]
    wider = ModelSpec("mlp", {"sizes": [n_in, *(4 * h for h in config.hidden), k]})
    return [linear, spec, wider]


def _test_accuracy(result: OnlineCode, splits: Splits) -> float:
    fitted = result.fitted[-1] if result.fitted else None
    if fitted is None:
        return float("nan")
    return evaluate(fitted.model, splits.test, fitted.coding_head()).accuracy


def run_codelength(
    config: CodelengthConfig, *, folder: RunFolder | None = None
) -> CodelengthResult:
    """Compute (and verify) every requested code. With ``folder`` (started once the inputs are
    checked): ``config.json``, ``results.json``, ``table.txt`` and the plot ``codelength.png``."""
    config.validate()
    splits = load_dataset(
        config.dataset,
        seed=config.seed,
        mnist_path=config.mnist_path,
        n_train=config.n_train,
        images=is_image_model(config.model) or config.images,
        target=config.target,
    )
    assert splits.n_classes is not None  # validate() refused regression data
    k = splits.n_classes
    x, y = splits.train.x, splits.train.y
    n = len(x)
    config.validate(n)
    if folder is not None:
        folder.start({"config": asdict(config)})
    spec = (
        factory_spec(config.model, parse_model_args(config.model_args))
        if is_factory_reference(config.model)
        else model_spec(
            config.model, input_shape=splits.input_shape, n_outputs=k, hidden=config.hidden
        )
    )
    boundaries = (
        doubling_schedule(n, config.first_block)
        if config.schedule == "doubling"
        else fraction_schedule(n)
    )
    uniform = uniform_codelength(n, k).total
    rows: dict[str, dict[str, Any]] = {}
    online: dict[str, OnlineCode] = {}

    def add(name: str, bits: float, accuracy: float, seconds: float, **extra: Any) -> None:
        rows[name] = {
            "bits": bits,
            "kbit": bits / 1000,
            "ratio_to_uniform": bits / uniform,
            "test_accuracy": accuracy,
            "seconds": seconds,
            **extra,
        }

    if "uniform" in config.codes:
        add("uniform", uniform, 1.0 / k, 0.0)
    if "two-part" in config.codes:
        t = time.perf_counter()
        two_part = FitConfig(
            dataset=config.dataset,
            target=config.target,
            mnist_path=config.mnist_path,
            n_train=config.n_train,
            model=config.model,
            model_args=config.model_args,
            images=config.images,
            hidden=config.hidden,
            method="drr",
            batch_size=config.batch_size,
            lr=config.lr,
            seed=config.seed,
        )
        fit = run_fit(two_part, splits=splits)
        add(
            "two-part",
            fit.two_part.length.total,
            fit.test.accuracy,
            time.perf_counter() - t,
            parts=dict(fit.two_part.length.parts),
            verified=True,
        )
    if "prequential" in config.codes or "switching" in config.codes:
        t = time.perf_counter()
        specs = _switch_specs(config, splits, spec) if "switching" in config.codes else [spec]
        learners = [_learner(config, s) for s in specs]
        mixed = switching_code(x, y, k, learners, boundaries)
        seconds = time.perf_counter() - t
        main = specs.index(spec)
        if "prequential" in config.codes:
            preq = mixed.learner_result(main) if len(learners) > 1 else mixed
            verified = _verify(preq, x, k, [learners[main]], boundaries, config.verify)
            online["prequential"] = preq
            add(
                "prequential",
                preq.length.total,
                _test_accuracy(preq, splits),
                seconds,
                block_bits=preq.block_bits,
                verified=verified,
            )
        if "switching" in config.codes:
            verified = _verify(mixed, x, k, learners, boundaries, config.verify)
            online["switching"] = mixed
            add(
                "switching",
                mixed.length.total,
                _test_accuracy(mixed.learner_result(main), splits),
                seconds,
                block_bits=mixed.block_bits,
                verified=verified,
                candidates=[s.to_dict() for s in specs],
                final_weights=mixed.weights[-1].tolist(),
            )
    if "variational" in config.codes:
        t = time.perf_counter()
        var = variational_code(
            x,
            y,
            k,
            spec,
            epochs=config.variational_epochs,
            batch_size=config.batch_size,
            lr=config.lr,
            seed=config.seed,
            verify=config.verify,
        )
        bits = var.coded_bits if var.coded_bits is not None else var.length.total
        add(
            "variational",
            bits,
            float("nan"),
            time.perf_counter() - t,
            parts=dict(var.length.parts),
            ideal_bits=var.length.total,
            data_bits_stderr=var.data_bits_stderr,
            verified=var.decoded,
            note="net bits-back stream" if var.decoded else "ideal length (--no-verify)",
        )
    result = CodelengthResult(config, n, k, boundaries, rows)
    if folder is not None:
        curves = {name: (r.bits, r.block_bits) for name, r in online.items()}
        plot_codelengths(curves, uniform / n, boundaries, folder.file("codelength.png"))
        folder.write_text("table.txt", result.report().text())
        folder.write_results(result.to_dict())
    return result


def _verify(
    result: OnlineCode,
    x: torch.Tensor,
    k: int,
    learners: list[TorchLearner],
    boundaries: list[int],
    verify: bool,
) -> bool:
    if not verify:
        return False
    encoded = encode_online(result)
    decoded = decode_online(encoded, x, k, learners, boundaries)
    if not np.array_equal(decoded, result.labels):
        raise RuntimeError(f"{result.name}: decoded labels differ from the originals (a bug)")
    return True
