"""Recipe: does λ̂ track compressibility along training? (llc.md, "Reproduction at CPU scale")

Train a model once, keep its weights at log-spaced epochs, and at each checkpoint measure

- λ̂ ± std (:func:`~mdlkit.complexity.estimate_llc`), always with the ONE :class:`LLCSettings`
  of the study — λ̂ is only comparable at identical settings;
- L_n(w*), the mean training loss (nats per sample; per token for the byte model);
- at each tolerance ε (nats, absolute: L ≤ L_n(w*) + ε on the training data) the critical
  quantization bits n_q, the critical rank fraction removed, the critical pruned fraction and
  the weight codec's size within ε (:mod:`mdlkit.complexity.checkpoint_measures`).

Then fit each measure against λ̂ by least squares (slope, intercept, R²) and set the heuristic
of llc.md beside the bit measures (:mod:`mdlkit.report.llc_vs_compressibility`):

    critical bits per weight ≈ log2(2m) + (λ/d)·log2(1/ε),   slope log2(1/ε)/d

(d the number of parameters). The studies: an MLP on a stratified MNIST subset (always), and a
one-block byte-level transformer on a prefix of a text file (when one is given), trained like
lm-compression's models (windows of :func:`~mdlkit.data.sequence_splits`, the categorical
head, Adam) with no penalty.

Every checkpoint's weights are a safetensors file under ``checkpoints/<study>/`` and its
measurements a record under ``runs/``; a resumed run skips finished checkpoints (and training,
once every weight file exists).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mdlkit.complexity import LLCSettings
from mdlkit.complexity.checkpoint_measures import measure_checkpoint
from mdlkit.data import load_mnist, sequence_splits
from mdlkit.data.splits import Splits
from mdlkit.devices import torch_threads
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead
from mdlkit.models import ModelSpec
from mdlkit.report.compressibility import plot_llc_vs_compressibility
from mdlkit.report.llc_vs_compressibility import fit_study, llc_vs_compressibility_table
from mdlkit.runs import RunFolder
from mdlkit.training import TrainConfig, train
from mdlkit.training.checkpoint import load_weights, save_weights
from mdlkit.training.state import EpochLog

__all__ = [
    "LM_LLC",
    "MNIST_LLC",
    "LLCVsCompressibilityExperiment",
    "measure_checkpoint",
    "run_llc_vs_compressibility",
]

# The one setting per study, chosen once with calibrate_llc while developing (2 chains of
# 1000 + 2000 draws, steps 3e-5 … 3e-3, γ ∈ {0.3, 1, 3}) on the epoch-20 checkpoint of the full
# MNIST MLP (784-64-10 on 5,000 images): at γ = 0.3 λ̂ was 169 (not settled), 297, 377, 383,
# 413 at steps 3e-5, 1e-4, 3e-4, 1e-3, 3e-3; the flattest healthy pair is 3e-4 → 1e-3 (+1.7 %),
# the localizer's share of equipartition 16 %. γ = 1 gave 349 and γ = 3 288 at the same step
# (the localizer confines more; at γ = 3 it dominates from 1e-3 on). Minibatches of 500: a full
# batch of 5,000 costs ten times as much per step and would not fit 12 checkpoints in the time,
# and minibatch noise raises λ̂ (llc docs: +20 % at batch 256 on the 5×5 map) — the same at every
# checkpoint, so the comparison along training stands, the absolute value does not.
MNIST_LLC = LLCSettings(step=3e-4, gamma=0.3, chains=4, burn_in=1000, draws=2000, batch_size=500)
"""λ̂ settings of the MNIST study (nβ = n / ln n with n = 5,000 training images: 587)."""

# Chosen the same way on the epoch-12 checkpoint of the full byte model (a 16,000-byte prefix of
# tinyshakespeare, 399 training windows of 32 bytes; 2 chains of 1000 + 2000, batches of 32
# windows): at γ = 0.3 λ̂ was 89, 101, 107, 112 at steps 3e-5, 1e-4, 3e-4, 1e-3, all healthy;
# the flattest pair is 3e-4 → 1e-3 (+4.5 %), the localizer's share 17 %. A sample is a window
# and L_n its mean loss per token, so nβ = n / ln n counts windows (67). Counted in tokens
# (nβ ≈ 1,650 on a 20 KB prefix) no step gave a plateau: λ̂ rose 354 → 516 → 689 → 894 over
# steps 1e-5 … 3e-4 — the minibatch noise, scaled by nβ, heats the chain.
LM_LLC = LLCSettings(step=3e-4, gamma=0.3, chains=4, burn_in=1000, draws=2000, batch_size=32)
"""λ̂ settings of the byte-model study (nβ = n / ln n over training windows)."""


@dataclass(frozen=True)
class LLCVsCompressibilityExperiment:
    """Sizes, checkpoints (epochs, log-spaced), tolerances and the λ̂ settings of each study.

    MNIST study: an MLP ``784 → mnist_hidden → 10`` (ReLU) on a stratified subset of
    ``mnist_train`` training images (``mnist_val`` more for the validation log), Adam at
    ``mnist_lr``, minibatches of ``mnist_batch_size``. Byte study (only with ``text_path``): a
    :class:`~mdlkit.models.ByteTransformer` of one block (``lm_d_model``, ``lm_heads``,
    ``lm_d_ff``, context ``lm_context``) on the first ``lm_bytes`` bytes of the file, of which
    the last 20 % are held out (10 % validation, 10 % test) as in lm-compression. Measurements
    use the training samples only. Torch runs on ``threads`` threads (one: on a shared 2-core
    machine more threads make these small kernels slower, not faster).
    """

    mnist_path: str | None = None
    text_path: str | None = None
    tolerances: tuple[float, ...] = (0.01, 0.05, 0.1)
    mnist_train: int = 5000
    mnist_val: int = 1000
    mnist_hidden: tuple[int, ...] = (64,)
    mnist_batch_size: int = 100
    mnist_lr: float = 1e-3
    mnist_checkpoints: tuple[int, ...] = (1, 2, 3, 5, 8, 13, 20, 32, 50, 80, 128, 200)
    mnist_llc: LLCSettings = field(default_factory=lambda: MNIST_LLC)
    lm_bytes: int = 16_000
    lm_context: int = 32
    lm_d_model: int = 16
    lm_heads: int = 2
    lm_d_ff: int = 32
    lm_batch_size: int = 16
    lm_lr: float = 1e-2
    lm_checkpoints: tuple[int, ...] = (1, 2, 4, 7, 12, 20, 35, 60)
    lm_llc: LLCSettings = field(default_factory=lambda: LM_LLC)
    threads: int = 1
    seed: int = 0

    @classmethod
    def quick(
        cls, mnist_path: str | None, text_path: str | None = None
    ) -> LLCVsCompressibilityExperiment:
        """Seconds: 500 images, a 16-unit MLP, 3 checkpoints; a 4 KB text, 2 checkpoints;
        short chains (λ̂ is then only a smoke test)."""
        short = LLCSettings(step=3e-4, gamma=0.3, chains=2, burn_in=50, draws=100, batch_size=100)
        return cls(
            mnist_path=mnist_path,
            text_path=text_path,
            mnist_train=500,
            mnist_val=200,
            mnist_hidden=(16,),
            mnist_batch_size=50,
            mnist_checkpoints=(1, 3, 9),
            mnist_llc=short,
            lm_bytes=4000,
            lm_d_model=8,
            lm_d_ff=16,
            lm_context=16,
            lm_checkpoints=(1, 4),
            lm_llc=LLCSettings(
                step=3e-4, gamma=0.3, chains=2, burn_in=50, draws=100, batch_size=16
            ),
        )

    def validate(self) -> None:
        """Raise :class:`MdlkitError` on settings that cannot run."""
        if not self.tolerances or any(not (math.isfinite(e) and e > 0) for e in self.tolerances):
            raise MdlkitError(f"tolerances must be > 0 nats, got {self.tolerances}")
        for name, epochs in (("mnist", self.mnist_checkpoints), ("lm", self.lm_checkpoints)):
            if not epochs or list(epochs) != sorted(set(epochs)) or epochs[0] < 1:
                raise MdlkitError(
                    f"{name}_checkpoints must be distinct epochs >= 1 in increasing order, "
                    f"got {epochs}"
                )
        self.mnist_llc.validate()
        self.lm_llc.validate()
        if self.threads < 1:
            raise MdlkitError(f"threads must be >= 1, got {self.threads}")


# --- the studies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Study:
    """What differs between the two models; the procedure is the same."""

    name: str
    title: str
    spec: ModelSpec
    splits: Splits
    checkpoints: tuple[int, ...]
    config: TrainConfig
    llc: LLCSettings
    head: CategoricalHead | None  # None: the split's own head


def _mnist_study(exp: LLCVsCompressibilityExperiment) -> _Study:
    splits = load_mnist(exp.mnist_path, seed=exp.seed, n_val=exp.mnist_val, n_train=exp.mnist_train)
    sizes = [int(np.prod(splits.input_shape)), *exp.mnist_hidden, 10]
    return _Study(
        name="mnist-mlp",
        title=f"MNIST MLP {'-'.join(map(str, sizes))} on {len(splits.train):,} images",
        spec=ModelSpec("mlp", {"sizes": sizes, "activation": "relu"}),
        splits=splits,
        checkpoints=exp.mnist_checkpoints,
        config=_train_config(exp.mnist_checkpoints, exp.mnist_batch_size, exp.mnist_lr, exp.seed),
        llc=exp.mnist_llc,
        head=None,
    )


def _text_study(exp: LLCVsCompressibilityExperiment, path: str) -> _Study:
    text = Path(path).read_bytes()[: exp.lm_bytes]
    splits = sequence_splits(text, exp.lm_context, val_fraction=0.1, test_fraction=0.1)
    if len(splits.train) < 2 or len(splits.val) < 1:
        raise MdlkitError(
            f"{path}: {len(text):,} bytes give too few windows of {exp.lm_context} bytes; "
            "use a longer text or a larger lm_bytes"
        )
    spec = ModelSpec(
        "byte_transformer",
        {
            "context": exp.lm_context,
            "d_model": exp.lm_d_model,
            "n_layers": 1,
            "n_heads": exp.lm_heads,
            "d_ff": exp.lm_d_ff,
        },
    )
    return _Study(
        name="byte-lm",
        title=(
            f"byte transformer d{exp.lm_d_model} on {Path(path).name} "
            f"({len(splits.train) * exp.lm_context:,} training bytes)"
        ),
        spec=spec,
        splits=splits,
        checkpoints=exp.lm_checkpoints,
        config=_train_config(exp.lm_checkpoints, exp.lm_batch_size, exp.lm_lr, exp.seed),
        llc=exp.lm_llc,
        head=CategoricalHead(),
    )


def _train_config(checkpoints: Sequence[int], batch_size: int, lr: float, seed: int) -> TrainConfig:
    # Every epoch to the last checkpoint, the last weights kept: a trajectory, not a best model.
    return TrainConfig(
        max_epochs=max(checkpoints),
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        stopping=None,
        keep_best=False,
    )


def _weights_path(folder: RunFolder, study: _Study, epoch: int) -> Path:
    return folder.checkpoints / study.name / f"epoch-{epoch:04d}.safetensors"


def _train(study: _Study, folder: RunFolder, seed: int, progress: bool) -> dict[str, Any]:
    """The training log; trains (again) unless every checkpoint's weights are already saved.

    Training is deterministic under the seed and the thread count, so a run killed half way
    trains again to the same weights (seconds to a minute here)."""
    key = f"{study.name}-training"
    record = folder.record(key)
    if record is not None and all(
        _weights_path(folder, study, e).is_file() for e in study.checkpoints
    ):
        return record
    torch.manual_seed(seed)
    model = study.spec.build()
    wanted = set(study.checkpoints)

    def keep(log: EpochLog) -> None:
        if log.epoch + 1 in wanted:
            save_weights(model, _weights_path(folder, study, log.epoch + 1))

    started = time.perf_counter()
    result = train(
        model,
        study.splits.train,
        study.splits.val,
        study.config,
        loss_fn=study.head,
        on_epoch=keep,
        progress=progress,
        description=f"training {study.name}",
    )
    record = {
        "steps_per_epoch": result.steps // len(result.history),
        "history": [e.to_dict() for e in result.history],
        "seconds": time.perf_counter() - started,
    }
    folder.write_record(key, record)
    return record


def _run_study(
    study: _Study,
    exp: LLCVsCompressibilityExperiment,
    folder: RunFolder,
    progress: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    training = _train(study, folder, exp.seed, progress)
    history = {e["epoch"] + 1: e for e in training["history"]}
    model = study.spec.build()
    d = sum(p.numel() for p in model.parameters())
    rows = []
    for i, epoch in enumerate(study.checkpoints, 1):
        key = f"{study.name}-epoch{epoch:04d}"
        record = folder.record(key)
        if record is None:
            load_weights(model, _weights_path(folder, study, epoch))
            record = {
                "epoch": epoch,
                "step": epoch * training["steps_per_epoch"],
                "train_loss_epoch": history[epoch]["train_loss"],
                "val_loss": history[epoch]["val_loss"],
                "val_accuracy": history[epoch]["val_accuracy"],
                **measure_checkpoint(
                    model,
                    study.splits.train,
                    exp.tolerances,
                    study.spec,
                    study.llc,
                    progress=progress,
                ),
            }
            folder.write_record(key, record)
            state = "measured"
        else:
            state = "done already"
        bits = " / ".join(str(t["bits"]) for t in record["tolerances"].values())
        say(
            f"{study.name} [{i}/{len(study.checkpoints)}] epoch {epoch}: "
            f"λ̂ = {record['llc']['llc']:.1f} ± {record['llc']['std']:.1f}, "
            f"L_n(w*) = {record['reference_loss']:.4f}, n_q = {bits} "
            f"({state}, {record['seconds']:.0f} s)"
        )
        rows.append(record)
    return {
        "name": study.name,
        "title": study.title,
        "spec": study.spec.to_dict(),
        "d": d,
        "n_train": len(study.splits.train),
        "n_beta": rows[0]["llc"]["n_beta"],
        "llc_settings": asdict(study.llc),
        "training_seconds": training["seconds"],
        "checkpoints": rows,
        "fits": fit_study(rows, exp.tolerances, d),
    }


# --- the recipe ------------------------------------------------------------------------------


def run_llc_vs_compressibility(
    exp: LLCVsCompressibilityExperiment, folder: RunFolder, *, progress: bool = False
) -> str:
    """Run (or continue) the experiment in ``folder``: weights and one record per checkpoint,
    then ``results.json``, ``table.md`` and ``llc_vs_compressibility.png``; return the table.
    One line per checkpoint goes to stderr; ``progress`` adds training and sampling bars."""
    exp.validate()
    # before start(): config.json records the count used
    with torch_threads(exp.threads):
        folder.start({"experiment": asdict(exp)})

        def say(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        studies = [_mnist_study(exp)]
        if exp.text_path is not None:
            studies.append(_text_study(exp, exp.text_path))
        results = [_run_study(s, exp, folder, progress, say) for s in studies]
    table = llc_vs_compressibility_table(results, exp.tolerances)
    folder.write_text("table.md", table)
    plot_llc_vs_compressibility(results, exp.tolerances, folder.file("llc_vs_compressibility.png"))
    folder.write_results({"tolerances": list(exp.tolerances), "studies": results})
    return table
