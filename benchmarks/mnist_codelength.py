"""MNIST labels (60,000): the prequential code, its decoder, the variational code, and the
preqtorch package on the same model, data and blocks.

Needs the MNIST file (``MDLKIT_MNIST`` or ../shared/data/mnist.npz) and, for the comparison,
``pip install preqtorch`` (not a dependency of mdlkit). Blier & Ollivier's best prequential
length is 4.10 kbit with a deep CNN; this runs on 2 CPU cores, so the model is a small one.

Run: ``.venv/bin/python benchmarks/mnist_codelength.py [--model mlp|cnn] [--decode N]``;
writes ``results/mnist_codelength_<model>.md``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _publish import publish
from torch.nn import functional as F

from mdlkit.codes.learners import TorchLearner
from mdlkit.codes.online import decode_online, encode_online, prequential_code
from mdlkit.codes.schedules import doubling_schedule
from mdlkit.codes.variational import variational_code
from mdlkit.models import ModelSpec
from mdlkit.training import LossSaturation, TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def load(
    path: Path, flatten: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    with np.load(path) as f:
        xs = [torch.from_numpy(f[k].astype(np.float32) / 255.0) for k in ("x_train", "x_test")]
        ys = [torch.from_numpy(f[k].astype(np.int64)) for k in ("y_train", "y_test")]
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)
    return xs[0].reshape(shape), ys[0], xs[1].reshape(shape), ys[1]


def spec_for(model: str, channels: int = 16) -> ModelSpec:
    if model == "cnn":
        return ModelSpec("small-cnn", {"image_size": 28, "channels": channels})
    return ModelSpec("mlp", {"sizes": [784, 256, 10]})


def preqtorch_run(
    spec: ModelSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    bounds: list[int],
    epochs: int,
    batch: int,
    patience: int,
) -> tuple[float, float]:
    """The same blocks with preqtorch's BlockEncoder (fresh weights per block, Adam 1e-3).

    Its ``patience`` counts training BATCHES without a new best batch loss, not epochs.
    """
    import preqtorch
    from torch.utils.data import DataLoader, TensorDataset

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = spec.build()

        def forward(self, batch_: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return self.net(batch_[0])

    def loss_fn(batch_: tuple[torch.Tensor, torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, batch_[1], reduction="none")

    blocks = list(itertools.pairwise(bounds))
    trains = [
        DataLoader(TensorDataset(x[:e], y[:e]), batch_size=batch, shuffle=True) for _, e in blocks
    ]
    evals = [DataLoader(TensorDataset(x[s:e], y[s:e]), batch_size=1024) for s, e in blocks]
    encoder = preqtorch.BlockEncoder(
        model_class=preqtorch.ModelClass(Wrapped, device="cpu"), device="cpu"
    )
    start = time.perf_counter()
    result = encoder.encode(
        train_dataloader=trains,
        eval_dataloaders=evals,
        set_name="mnist",
        seed=0,
        loss_fn=loss_fn,
        learning_rate=1e-3,
        epochs=epochs,
        patience=patience,
    )
    seconds = time.perf_counter() - start
    return float(result.code_length) / math.log(2), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--decode",
        type=int,
        default=10000,
        help="decode the prequential code of the first N labels (0: skip)",
    )
    parser.add_argument("--mode", default="scratch", choices=["scratch", "continue"])
    parser.add_argument("--channels", type=int, default=16, help="small-cnn width")
    parser.add_argument("--skip-preqtorch", action="store_true")
    parser.add_argument(
        "--preqtorch-epochs",
        type=int,
        default=10,
        help="epochs of the preqtorch run without early stopping",
    )
    parser.add_argument("--skip-variational", action="store_true")
    args = parser.parse_args()
    path = Path(os.environ.get("MDLKIT_MNIST", SHARED))
    x, y, x_test, y_test = load(path, flatten=args.model == "mlp")
    n = len(x)
    spec = spec_for(args.model, args.channels)
    bounds = doubling_schedule(n, first=10)
    config = TrainConfig(
        max_epochs=args.epochs, batch_size=128, stopping=LossSaturation(window=6, min_epochs=6)
    )
    learner = TorchLearner(spec, config, mode=args.mode)
    lines = [
        f"# MNIST labels ({n:,}): code lengths",
        "",
        f"Model {spec.to_dict()}; blocks 10·2^k ({len(bounds) - 1} blocks); per block at "
        f"most {args.epochs} epochs, Adam 1e-3, batch 128, early stopping on the last 10 % "
        f"of the seen data. Machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. Command: `.venv/bin/python "
        f"benchmarks/mnist_codelength.py --model {args.model} --epochs {args.epochs} "
        f"--mode {args.mode} --channels {args.channels}`",
        "",
        f"Uniform: {n * math.log2(10) / 1000:.1f} kbit.",
        "",
    ]
    start = time.perf_counter()
    result = prequential_code(x, y, 10, learner, bounds)
    seconds = time.perf_counter() - start
    encoded = encode_online(result)
    final = result.fitted[-1]
    assert final is not None
    with torch.no_grad():
        final.model.eval()
        acc = float((final.model(x_test).argmax(1) == y_test).float().mean())
    lines.append(
        f"- mdlkit prequential: ideal {result.length.total / 1000:.2f} kbit, range-coded "
        f"{encoded.coded_bits / 1000:.2f} kbit, {seconds:.0f} s; last block's model "
        f"test accuracy {100 * acc:.2f} %"
    )
    lines.append("  - bits per block: " + ", ".join(f"{b:.0f}" for b in result.block_bits))
    if args.decode:
        m = args.decode
        sub_bounds = doubling_schedule(m, first=10)
        sub = prequential_code(x[:m], y[:m], 10, learner, sub_bounds)
        t = time.perf_counter()
        decoded = decode_online(encode_online(sub), x[:m], 10, [learner], sub_bounds)
        ok = np.array_equal(decoded, y[:m].numpy())
        lines.append(
            f"- decoder on the first {m:,} labels: {'exact' if ok else 'FAILED'} "
            f"({time.perf_counter() - t:.0f} s, re-running the training)"
        )
    if not args.skip_preqtorch:
        try:
            # Its patience counts batches: 5 stops almost at once; 10^9 trains every epoch.
            for epochs, patience in ((args.epochs, 5), (args.preqtorch_epochs, 10**9)):
                bits, t_pre = preqtorch_run(spec, x, y, bounds, epochs, 128, patience)
                lines.append(
                    f"- preqtorch 0.2 BlockEncoder, same model and blocks, {epochs} epochs, "
                    f"patience {patience} batches (its block 0 is coded by the untrained model, "
                    f"not uniformly): {bits / 1000:.2f} kbit, {t_pre:.0f} s — mdlkit / "
                    f"preqtorch: length {result.length.total / bits:.3f}, time "
                    f"{seconds / t_pre:.3f}"
                )
        except ImportError:
            lines.append("- preqtorch: not installed (pip install preqtorch)")
    if not args.skip_variational:
        t = time.perf_counter()
        var = variational_code(
            x, y, 10, ModelSpec("mlp", {"sizes": [784, 256, 10]}), epochs=20, batch_size=128
        )
        lines.append(
            f"- variational (MLP 784-256-10, ideal, no bits-back stream): "
            f"{var.length.total / 1000:.1f} kbit "
            f"({', '.join(f'{k} {v / 1000:.1f}' for k, v in var.length.parts.items())}), "
            f"{time.perf_counter() - t:.0f} s"
        )
    text = "\n".join(lines) + "\n"
    publish(f"mnist_codelength_{args.model}_{args.mode}.md", text)


if __name__ == "__main__":
    main()
