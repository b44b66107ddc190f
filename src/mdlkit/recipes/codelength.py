"""Recipe: how many bits does a dataset's labels take? Every code side by side.

Codes the labels of the training split (the receiver has the inputs) with the uniform, two-part,
prequential, switching and variational codes, and prints a table like Blier & Ollivier's Table 1:
length in kbit, ratio to uniform, and test accuracy of the model each code ends with. Online
codes are decoded back (re-running their training) before they are reported, unless
``verify=False``. Plots: cumulative length against samples transmitted, and bits per sample per
block.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from mdlkit.codes.learners import TorchLearner, block_probabilities
from mdlkit.codes.online import OnlineResult, decode_online, encode_online, switching_code
from mdlkit.codes.schedules import doubling_schedule, fraction_schedule
from mdlkit.codes.uniform import uniform_codelength
from mdlkit.codes.variational import variational_code
from mdlkit.data.splits import Splits
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec
from mdlkit.recipes.fit import FitConfig, load_fit_data, model_spec, run_fit
from mdlkit.runs import environment, make_run_dir, write_json
from mdlkit.training.loop import TrainConfig
from mdlkit.training.stopping import LossSaturation

__all__ = ["CODES", "CodelengthConfig", "run_codelength"]

CODES = ("uniform", "two-part", "prequential", "switching", "variational")


@dataclass(frozen=True)
class CodelengthConfig:
    """What to code and how. ``epochs`` is the per-block training cap of the online codes."""

    dataset: str = "digits"
    mnist_path: str | None = None
    n_train: int | None = None
    model: str = "mlp"
    hidden: tuple[int, ...] = (64,)
    codes: tuple[str, ...] = CODES
    schedule: str = "doubling"
    first_block: int = 10
    mode: str = "scratch"
    calibrate: bool = False
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    variational_epochs: int = 200
    verify: bool = True
    seed: int = 0

    def validate(self, n: int | None = None) -> None:
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
        self.fit_config().validate()

    def fit_config(self) -> FitConfig:
        return FitConfig(
            dataset=self.dataset,
            mnist_path=self.mnist_path,
            n_train=self.n_train,
            model=self.model,
            hidden=self.hidden,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
        )


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
        mode="continue" if config.mode == "continue" else "scratch",
        calibrate=config.calibrate,
        seed=config.seed,
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
    if config.model != "mlp":
        return [linear, spec]
    wider = ModelSpec("mlp", {"sizes": [n_in, *(4 * h for h in config.hidden), k]})
    return [linear, spec, wider]


def _test_accuracy(result: OnlineResult, splits: Splits) -> float:
    fitted = result.fitted[-1] if result.fitted else None
    if fitted is None:
        return float("nan")
    probs = block_probabilities(fitted, splits.test.x)
    return float((probs.argmax(1) == splits.test.y.numpy()).mean())


def run_codelength(config: CodelengthConfig, out: Path | None = None) -> dict[str, Any]:
    """Compute (and verify) every requested code. With ``out`` (a new folder, created once the
    inputs are checked): ``config.json`` and the plot ``codelength.png``."""
    splits = load_fit_data(config.fit_config())
    if splits.n_classes is None:
        raise MdlkitError("codelength codes class labels; choose a classification dataset")
    k = splits.n_classes
    x, y = splits.train.x, splits.train.y
    n = len(x)
    config.validate(n)
    if out is not None:
        make_run_dir(out)
        write_json(out / "config.json", {"config": asdict(config), "environment": environment()})
    spec = model_spec(config.fit_config(), splits)
    boundaries = (
        doubling_schedule(n, config.first_block)
        if config.schedule == "doubling"
        else fraction_schedule(n)
    )
    uniform = uniform_codelength(n, k).total
    rows: dict[str, dict[str, Any]] = {}
    online: dict[str, OnlineResult] = {}

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
        fit = run_fit(replace(config.fit_config(), method="drr"), splits=splits)
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
        )
        add(
            "variational",
            var.length.total,
            float("nan"),
            time.perf_counter() - t,
            parts=dict(var.length.parts),
            data_bits_stderr=var.data_bits_stderr,
            verified=False,
            note="ideal length; no bits-back bitstream",
        )
    report = {
        "config": asdict(config),
        "n": n,
        "classes": k,
        "boundaries": boundaries,
        "codes": rows,
    }
    if out is not None:
        _plots(online, uniform / n, boundaries, out)
    return report


def _verify(
    result: OnlineResult,
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


def _plots(
    online: dict[str, OnlineResult], uniform_per_sample: float, boundaries: list[int], out: Path
) -> None:
    fig, (ax_cum, ax_block) = plt.subplots(1, 2, figsize=(11, 4))
    for name, result in online.items():
        bits = result.bits
        ax_cum.plot(np.arange(1, len(bits) + 1), np.cumsum(bits) / 1000, label=name)
        sizes = np.diff(boundaries)
        ax_block.step(boundaries[1:], np.array(result.block_bits) / sizes, where="pre", label=name)
    n = boundaries[-1]
    ax_cum.plot([0, n], [0, n * uniform_per_sample / 1000], "k--", label="uniform")
    ax_cum.set(
        xlabel="samples transmitted",
        ylabel="cumulative code length (kbit)",
        title="cumulative code length",
    )
    ax_block.axhline(uniform_per_sample, color="k", ls="--", label="uniform")
    ax_block.set(
        xscale="log",
        xlabel="end of block (samples)",
        ylabel="bits per sample",
        title="bits per sample in each block",
    )
    ax_cum.legend()
    ax_block.legend()
    fig.tight_layout()
    fig.savefig(out / "codelength.png", dpi=100)
    plt.close(fig)
