"""The table of ``mdlkit`` commands: each command's name, help and recipe.

A command reaches its recipe's config and run function through :mod:`mdlkit.recipes`, whose
names are imported on first use: only the command that runs (or shows its help) imports its
recipe. Most recipes need torch or scikit-learn, and ``mdlkit --version`` or ``mdlkit compress``
must not wait for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mdlkit import recipes
from mdlkit.errors import MdlkitError

if TYPE_CHECKING:
    from mdlkit.runs import RunFolder

__all__ = ["COMMANDS", "DATA_PARALLEL", "Command", "Recipe"]

Recipe = tuple[type[Any], Callable[..., Any]]
"""A recipe's config dataclass and its function ``run(config, *, folder, [progress])``."""

DATA_PARALLEL = frozenset({"fit", "compress"})
"""The commands that train data-parallel when started by torchrun."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``recipe()`` gives its config dataclass (whose fields become the options)
    and its recipe function ``run(config, *, folder, [progress])``, importing them when called;
    ``help`` and ``description`` are how its help reads.

    ``resume`` (if the command continues killed runs) gives the config to continue a folder
    with, from the folder and the config of the options. ``kind`` names the default run folder
    ``runs/<kind>-<time>``; ``aliases`` adds option names to fields.
    """

    recipe: Callable[[], Recipe]
    help: str
    description: str
    resume: Callable[[RunFolder, Any], Any] | None = None
    progress: bool = True
    kind: Callable[[Any], str] | None = None
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    folder: bool = True  # False: no run folder; run() returns a line for stderr
    positional: tuple[str, ...] = ()  # fields with a default given as optional positionals

    @property
    def config(self) -> type[Any]:
        """The config dataclass (its module is imported on first use)."""
        return self.recipe()[0]

    @property
    def run(self) -> Callable[..., Any]:
        """The recipe function (its module is imported on first use)."""
        return self.recipe()[1]


def _stored_fit(folder: RunFolder, given: Any) -> recipes.FitConfig:
    """The folder's own settings; an option given with --resume that would change them is
    refused rather than silently ignored."""
    stored, default = recipes.FitConfig.from_folder(folder), recipes.FitConfig()
    changed = [
        f.name
        for f in dataclasses.fields(recipes.FitConfig)
        if f.name != "device"  # a run may continue on another device
        and getattr(given, f.name) != getattr(default, f.name)
        and getattr(given, f.name) != getattr(stored, f.name)
    ]
    if changed:
        options = ", ".join("--" + name.replace("_", "-") for name in changed)
        raise MdlkitError(
            f"--resume continues with the folder's own settings; drop {options} "
            "(or start a new run)"
        )
    return dataclasses.replace(stored, device=given.device)


def _given(folder: RunFolder, given: Any) -> Any:
    return given  # the recipe checks that the folder was started with the same settings


COMMANDS: dict[str, Command] = {
    "demo": Command(
        lambda: (recipes.DemoConfig, recipes.run_demo),
        help="the main job: plain vs DRR-trained MLP on digits, as a table of bits",
        description="Train an MLP on scikit-learn's digits plainly and with DRR (then prune and "
        "fine-tune it), encode both models and the training labels for real, decode them back, "
        "and print accuracy, sparsity and two-part code lengths. Needs no download; takes under "
        "a minute on 2 cores.",
    ),
    "fit": Command(
        lambda: (recipes.FitConfig, recipes.run_fit),
        help="train (none | drr | l1 | pmmp) → prune → fine-tune → encode, with options",
        description="The demo's pipeline on one configuration. Lengths are in bits; alpha is "
        "per sample (it scales a penalty added to the mean batch loss). Checkpoints after every "
        "epoch: a killed run continues with --resume DIR (with its own settings).",
        resume=_stored_fit,
        aliases={"dataset": ("--data",)},
    ),
    "select": Command(
        lambda: (recipes.SelectConfig, recipes.run_select),
        help="choose α (and width, method) by the shortest two-part code, the choice charged",
        description="Run fit over a grid of strengths (default α·2^k, k = -2…2, α = auto: "
        "c·ln2/n), optionally widths and methods; the model with every weight pruned is "
        "always a candidate. Picks the shortest two-part code, adds log2(number of candidates) "
        "bits for the choice, and prints a table and plot beside the uniform and prequential "
        "codes. A killed run continues with --resume DIR; --workers N runs N candidates at once.",
        resume=_given,
        aliases={"dataset": ("--data",)},
    ),
    "codelength": Command(
        lambda: (recipes.CodelengthConfig, recipes.run_codelength),
        help="the description length of a dataset's labels under every code",
        description="Code the training labels with the uniform, two-part, prequential, "
        "switching and variational codes; print lengths in bits, ratios to uniform and test "
        "accuracy; decode the online codes back; plot cumulative lengths and bits per block.",
        progress=False,
        aliases={"dataset": ("--data",)},
    ),
    "probe": Command(
        lambda: (recipes.ProbeConfig, recipes.run_probe),
        help="MDL probing: the online codelength of labels given a model's features, vs a control",
        description="Voita & Titov's MDL probe: code the labels of FEATURES (an .npz with x and "
        "y) online in portions of 0.1 … 50, 100 % with a linear or MLP probe, and the same "
        "labels shuffled (the control); print bits, compression = uniform / online and test "
        "accuracy; decode both streams back; plot cumulative bits per portion.",
        progress=False,
        positional=("features",),
    ),
    "experiment": Command(
        lambda: (recipes.ExperimentConfig, recipes.run_experiment),
        help="reproduce the paper's experiments: teacher-student | mnist-pruning | lm-compression"
        " | llc-vs-compressibility",
        description="Sweeps that write a run folder with results.json, a table beside the "
        "paper's figures, and plots. A killed sweep continues with --resume DIR.",
        resume=_given,
        kind=lambda config: str(config.name),
    ),
    "llc": Command(
        lambda: (recipes.LLCConfig, recipes.run_llc),
        help="the local learning coefficient λ̂ of a fit run's model (or a toy with known λ)",
        description="Estimate λ̂ by SGLD on a localized tempered posterior around the trained "
        "weights: the weight file of a finished fit (or demo, select) run, decoded, on the "
        "run's training split rebuilt from its settings, with the run's loss; or a toy with "
        "known λ (--toy). Prints λ̂ ± std over chains, every setting, d/2 (λ ≤ d/2 always), "
        "the diagnostics in words, and plots the loss traces. --calibrate sweeps the step "
        "instead and recommends one.",
        positional=("run_dir",),
    ),
    "compress": Command(
        lambda: (recipes.CompressConfig, recipes.run_compress),
        help="compress a file losslessly into a .mdlz archive (online or two-part mode)",
        description="Online mode (default): a context-mixing predictor that learns as it codes; "
        "nothing is stored but the bits. Two-part mode: a byte transformer trained with DRR, "
        "pruned and quantized, stored in the archive and used to code the data. The archive is "
        "decoded back and compared before it is kept (--no-verify skips that); an existing "
        "output is never overwritten without --force. - is standard input or output.",
        aliases={"output": ("-o",)},
        folder=False,
    ),
    "decompress": Command(
        lambda: (recipes.DecompressConfig, recipes.run_decompress),
        help="decode a .mdlz archive back to the original bytes",
        description="Every record's checksum and the original's checksum are checked; a "
        "damaged, truncated or foreign archive is refused and nothing is written.",
        aliases={"output": ("-o",)},
        folder=False,
    ),
    "bench-compress": Command(
        lambda: (recipes.BenchCompressConfig, recipes.run_bench_compress),
        help="bits per byte, speed and memory of mdlkit's modes and classical compressors",
        description="One table, everything measured in the same run: gzip -9, bzip2 -9, "
        "xz -9e, zstd -19, brotli -11 and PPMd (best of several orders) beside mdlkit's modes, "
        "each in a fresh process; plus a plot of bits per byte vs speed. zstd, brotli and PPMd "
        "need pip install 'mdlkit[bench]'.",
        progress=False,
    ),
    "predict": Command(
        lambda: (recipes.PredictConfig, recipes.run_predict),
        help="a fitted model's predictions on new rows (CSV, parquet, npz), written as CSV",
        description="Decode the model of a finished fit or select run on a table, standardize "
        "the new rows with the run's scaling.json (the feature columns by name, checked as fit "
        "checks them) and write one CSV line per row: the predicted class and every class's "
        "probability, or the predicted values in the target's units. If the file holds the "
        "target column (or y), the accuracy (RMSE, MAE) on it is printed. An existing output "
        "is never overwritten without --force.",
        aliases={"output": ("-o",)},
        folder=False,
    ),
    "export": Command(
        lambda: (recipes.ExportConfig, recipes.run_export),
        help="a fit run's model without its dead neurons and channels, for PyTorch users",
        description="Remove the neurons and channels whose incoming or outgoing weights are "
        "all zero from the decoded model of a finished fit run (MLPs and CNNs; a user's own "
        "module is exported whole, named by its factory: --allow-factory) or the dead heads "
        "and feed-forward units of a two-part archive's transformer, optionally store its "
        "weights as int8, and write it as safetensors plus architecture.json (and a "
        "torch.export program; --onnx: model.onnx), checked to give the decoded model's "
        "outputs on the run's test split (an archive: windows of the original); prints "
        "parameters, file bytes, latency at batch 1 and 256 and peak memory "
        "against the dense model.",
        progress=False,
    ),
}
