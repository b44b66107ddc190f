"""One rank of the data-parallel equivalence check, or the one-process reference.

``torchrun --nproc_per_node 2 tests/training/ddp_worker.py OUT`` trains the same small models on
every rank — plain (regression, a learned σ), DRR and PMMP (classification), a byte transformer with
DRR (:func:`~mdlkit.training.train_byte_model`) — for
:data:`EPOCHS` epochs of batch :data:`BATCH` shared between the ranks, then prunes the DRR model
and fine-tunes it (pruning on rank 0, broadcast), and saves each rank's weights, PMMP state, mask
and σ to ``OUT/rank<r>.pt``. :func:`run` with ``parallel=None`` is the reference: one process,
the whole batch. ``tests/training/test_distributed.py`` and ``benchmarks/ddp.py`` compare the two.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from mdlkit.data import Split, Splits
from mdlkit.heads import CategoricalHead, GaussianHead
from mdlkit.models import ModelSpec
from mdlkit.regularizers import DRR, PMMP
from mdlkit.training import TrainConfig, train, train_byte_model
from mdlkit.training.distributed import DataParallel, init_from_environment
from mdlkit.training.pruning import PruneConfig, prune_and_finetune

N, INPUTS, CLASSES, BATCH, EPOCHS = 256, 8, 3, 64, 3


def _data(regression: bool) -> Splits:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2 * N, INPUTS, generator=g)
    teacher = torch.randn(INPUTS, CLASSES, generator=g)
    logits = x @ teacher
    y = logits[:, :1] + 0.1 * torch.randn(2 * N, 1, generator=g) if regression else logits.argmax(1)
    train, val = Split(x[:N], y[:N]), Split(x[N:], y[N:])
    return Splits("ddp", train, val, val, None if regression else CLASSES)


def _model(outputs: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(INPUTS, 16), nn.Tanh(), nn.Linear(16, outputs))


def run(parallel: DataParallel | None) -> dict[str, torch.Tensor]:
    """Every model's final tensors under one flat name each."""
    config = TrainConfig(max_epochs=EPOCHS, batch_size=BATCH, lr=1e-2, stopping=None)
    out: dict[str, torch.Tensor] = {}

    splits = _data(regression=True)
    model, head = _model(1), GaussianHead(sigma_init=0.5, epsilon=1e-3)
    train(model, splits.train, splits.val, config, loss_fn=head, parallel=parallel)
    out |= {f"plain.{k}": v for k, v in model.state_dict().items()}
    out |= {f"plain.head.{k}": v for k, v in head.state_dict().items()}

    splits = _data(regression=False)
    model = _model(CLASSES)
    train(
        model, splits.train, splits.val, config,
        regularizer=DRR(1e-3), loss_fn=CategoricalHead(), parallel=parallel,
    )  # fmt: skip
    out |= {f"drr.{k}": v for k, v in model.state_dict().items()}
    pruned, _ = prune_and_finetune(
        model, splits, config, PruneConfig(delta=0.05), loss_fn=CategoricalHead(),
        parallel=parallel,
    )  # fmt: skip
    out |= {f"pruned.{k}": v for k, v in model.state_dict().items()}
    out |= {f"mask.{k}": v for k, v in pruned.mask.keep.items()}

    model, pmmp = _model(CLASSES), PMMP(3e-3, u_init=0.5)
    train(
        model, splits.train, splits.val, config,
        regularizer=pmmp, loss_fn=CategoricalHead(), parallel=parallel,
    )  # fmt: skip
    out |= {f"pmmp.{k}": v for k, v in model.state_dict().items()}
    out |= {f"pmmp.state.{k}": v for k, v in pmmp.state_dict().items()}

    spec = ModelSpec(
        "byte_transformer", {"context": 16, "d_model": 16, "n_heads": 2, "n_layers": 1}
    )
    text = b"the quick brown fox jumps over the lazy dog; " * 12
    trained = train_byte_model(
        text, spec, method="drr", alpha=1e-4, epochs=EPOCHS, batch_size=8, lr=3e-3,
        stopping=None, parallel=parallel,
    )  # fmt: skip
    out |= {f"byte.{k}": v for k, v in trained.model.state_dict().items()}
    return {k: v.detach().clone() for k, v in out.items()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    parallel = init_from_environment(torch.device("cpu"))
    assert parallel is not None, "run me with torchrun --nproc_per_node 2"
    torch.save(run(parallel), Path(sys.argv[1]) / f"rank{parallel.rank}.pt")
    # No rank may tear the group down while another still waits on it (gloo aborts then).
    parallel.barrier()
    torch.distributed.destroy_process_group()
