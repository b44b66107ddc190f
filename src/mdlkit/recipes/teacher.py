"""A fit's teacher: the model of a finished fit run, decoded, and its soft labels on the
student's training split (``mdlkit fit --teacher RUN_DIR``).

The teacher is read with mdlkit's own weight-file reader (:func:`~mdlkit.recipes.fit_run.
read_fit_model`; nothing is unpickled), checked against the student's data (it must take its
inputs and give one logit per class) and run once over the training split, float32 on the CPU:
the soft labels of :class:`~mdlkit.training.Distillation`. A resumed fit computes them again
from the same folder and gets the same labels.
"""

from __future__ import annotations

import torch

from mdlkit.data import Splits
from mdlkit.errors import MdlkitError
from mdlkit.models.factory import Factories
from mdlkit.recipes.fit_config import FitConfig
from mdlkit.recipes.fit_run import read_fit_model
from mdlkit.training import Distillation, teacher_log_probs

__all__ = ["fit_teacher"]


def fit_teacher(
    config: FitConfig, splits: Splits, factories: Factories | None = None
) -> Distillation | None:
    """The soft labels of ``config.teacher`` on ``splits.train`` at ``config.temperature`` with
    weight ``config.teacher_weight``; ``None`` without a teacher.

    Raises :class:`MdlkitError` in one line when the folder is missing, unfinished or damaged,
    when the data is not class labels, or when the teacher does not take the training inputs or
    gives another number of classes than the data has."""
    if config.teacher is None:
        return None
    where = config.teacher
    if splits.n_classes is None or splits.vocab_size is not None:
        raise MdlkitError(
            f"--teacher needs class labels; {splits.name} has "
            f"{'real-valued targets' if splits.n_classes is None else 'token sequences'}"
        )
    teacher = read_fit_model(where, factories=factories).model
    try:
        with torch.no_grad():
            probe = teacher(splits.train.x[:2])
    except RuntimeError as error:  # another input shape than the student's data
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MdlkitError(
            f"the teacher in {where} does not take inputs of shape "
            f"{list(splits.input_shape)} ({first}); give a teacher fitted on the same data"
        ) from None
    expected = [len(splits.train.x[:2]), splits.n_classes]
    if list(probe.shape) != expected:
        raise MdlkitError(
            f"the teacher in {where} gives outputs of shape {list(probe.shape[1:])} per row, "
            f"the data has {splits.n_classes} classes; give a teacher fitted on the same data"
        )
    log_probs = teacher_log_probs(teacher, splits.train.x, config.temperature)
    return Distillation(log_probs, config.temperature, config.teacher_weight)
