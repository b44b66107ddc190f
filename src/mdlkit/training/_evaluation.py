"""The one place training reaches model evaluation: mean loss in nats and accuracy on a split."""

from mdlkit.evaluation import DataLoss, Evaluation, evaluate

__all__ = ["DataLoss", "Evaluation", "evaluate"]
