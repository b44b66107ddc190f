"""Knowledge distillation (Hinton, Vinyals & Dean 2015): training on a teacher's soft labels
beside the true labels, as a setting of the one pipeline (``PipelineConfig.distill``).

The loss per example, in nats (student logits s, teacher logits t, true class y, temperature T,
teacher weight W):

    (1 − W) · CE(y, softmax(s)) + W · T² · KL(softmax(t / T) ‖ softmax(s / T))

The soft term's gradients scale as 1/T², so T² keeps its share of the gradient as T changes.
W = 0 is plain training, exactly (the soft term is not even computed); W = 1 learns from the
teacher alone. The hard term is the wrapped head's own loss (its temperature, if any, applies).

The teacher is a training aid, not part of any code: only the training phases see its labels;
the pruning threshold, the quantization step and every code length use the true labels.

How the soft labels reach the loss: the training split's targets become rows
``[y, log softmax(t / T)]`` (float32, K + 1 columns; class indices are exact in float32), so the
loop's batches carry them beside the inputs unchanged; :class:`DistillationLoss` reads such rows,
and plain labels (the validation split) as the head it wraps does.

>>> teacher = torch.zeros(2, 3)  # uniform soft labels
>>> d = Distillation(teacher_log_probs(torch.nn.Identity(), teacher, 2.0), 2.0, weight=1.0)
>>> loss = d.loss(CategoricalHead())
>>> round(float(loss(torch.zeros(2, 3), d.targets(Split(teacher, torch.tensor([0, 2]))).y)), 6)
0.0
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.coding.distributions import Categorical
from mdlkit.data.splits import Split
from mdlkit.errors import MdlkitError
from mdlkit.heads import CategoricalHead, Head, outputs

__all__ = [
    "Distillation",
    "DistillationLoss",
    "soft_label_loss",
    "teacher_log_probs",
]


def teacher_log_probs(teacher: nn.Module, x: torch.Tensor, temperature: float) -> torch.Tensor:
    """log softmax(t / T) of the teacher's logits t on ``x``: float32 on the CPU, in eval mode
    and fixed chunks (:func:`~mdlkit.heads.outputs`), so the same teacher gives the same soft
    labels every time (a resumed run trains on the labels it started with)."""
    teacher = teacher.to("cpu")
    logits = outputs(teacher, x.to("cpu")).to(torch.float32)
    return F.log_softmax(logits / temperature, dim=-1)


def soft_label_loss(
    logits: torch.Tensor, teacher_log_probs: torch.Tensor, temperature: float
) -> torch.Tensor:
    """T² · KL(p_t ‖ softmax(s / T)), the mean over rows in nats, with p_t = exp(log p_t).

    >>> round(float(soft_label_loss(torch.zeros(1, 2), torch.log(torch.tensor([[0.5, 0.5]])),
    ...                             3.0)), 6)
    0.0
    """
    student = F.log_softmax(logits / temperature, dim=-1)
    kl = (teacher_log_probs.exp() * (teacher_log_probs - student)).sum(dim=-1)
    return temperature**2 * kl.mean()


class DistillationLoss(Head):
    """``head``'s loss mixed with the soft-label loss (see the module docstring).

    Targets with K + 1 float columns are ``[y, log p_t]`` rows: the mixed loss. Class indices
    (int64, the validation split's) get ``head``'s own loss, so early stopping and the best
    snapshot are judged on the true labels. Distributions and symbols are ``head``'s.
    """

    is_classification = True

    def __init__(self, head: CategoricalHead, temperature: float, weight: float) -> None:
        super().__init__()
        self.head = head
        self.temperature = float(temperature)
        self.weight = float(weight)
        self.teacher_digest = ""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not target.is_floating_point():
            return self.head(output, target)
        labels, teacher = target[:, 0].to(torch.int64), target[:, 1:]
        # A term of weight 0 is not computed: W = 0 is the plain loss, bit for bit.
        loss = self.head(output, labels) if self.weight < 1 else None
        if self.weight == 0:
            assert loss is not None
            return loss
        soft = soft_label_loss(output, teacher, self.temperature)
        if loss is None:
            return soft
        return (1 - self.weight) * loss + self.weight * soft

    def data_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        labels = target[:, 0].to(torch.int64) if target.is_floating_point() else target
        return self.head.data_loss(output, labels)

    def distribution(self, output: torch.Tensor) -> Categorical:
        return self.head.distribution(output)

    def symbols(self, target: torch.Tensor | np.ndarray) -> np.ndarray:
        return self.head.symbols(target)

    def n_correct(self, output: torch.Tensor, target: torch.Tensor) -> int:
        labels = target[:, 0].to(torch.int64) if target.is_floating_point() else target
        return self.head.n_correct(output, labels)

    def checkpoint_key(self) -> str:
        return f"distill(T={self.temperature}, W={self.weight}, teacher={self.teacher_digest})"

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, weight={self.weight}"


class Distillation:
    """The teacher's soft labels on the training split and how much they weigh.

    Args:
        log_probs: log softmax(t / T) per training row, (n, K) float32
            (:func:`teacher_log_probs`).
        temperature: T > 0 the soft labels were made at (default 4).
        weight: W in [0, 1], the soft term's share of the loss (default 0.9: Hinton et al.
            found a considerably lower weight on the hard labels best).
    """

    def __init__(
        self, log_probs: torch.Tensor, temperature: float = 4.0, weight: float = 0.9
    ) -> None:
        if not temperature > 0:
            raise MdlkitError(f"the distillation temperature must be > 0, got {temperature}")
        if not 0 <= weight <= 1:
            raise MdlkitError(f"the teacher weight must lie in [0, 1], got {weight}")
        if log_probs.dim() != 2 or not torch.isfinite(log_probs).all():
            raise MdlkitError("the teacher's soft labels must be finite rows (n, classes)")
        self.log_probs = log_probs.detach().to("cpu", torch.float32).contiguous()
        self.temperature = float(temperature)
        self.weight = float(weight)
        self.digest = hashlib.sha256(self.log_probs.numpy().tobytes()).hexdigest()[:16]

    def targets(self, split: Split) -> Split:
        """``split`` with targets ``[y, log p_t]`` (float32): the rows a distilled phase trains
        on. ``split`` must be the training split the soft labels were made on."""
        n, k = self.log_probs.shape
        if len(split) != n or split.y.dim() != 1 or split.y.is_floating_point():
            raise MdlkitError(
                f"the teacher's soft labels cover {n} rows of {k} classes; the training split "
                f"has {len(split)} targets of shape {list(split.y.shape[1:])}"
            )
        packed = torch.cat([split.y.to(torch.float32)[:, None], self.log_probs], dim=1)
        return Split(split.x, packed)

    def loss(self, head: Head) -> DistillationLoss:
        """The loss of a distilled phase around the pipeline's ``head`` (a categorical one)."""
        if not isinstance(head, CategoricalHead):
            raise MdlkitError("distillation needs class labels: the data has real-valued targets")
        loss = DistillationLoss(head, self.temperature, self.weight)
        loss.teacher_digest = self.digest
        return loss

    def __repr__(self) -> str:
        n, k = self.log_probs.shape
        return (
            f"Distillation(temperature={self.temperature}, weight={self.weight}, rows={n}, "
            f"classes={k}, teacher={self.digest})"
        )
