"""Models by name: which a user can choose, checking that one fits the data, and the
:class:`ModelSpec` of one sized for the data.

>>> model_spec("mlp", input_shape=(64,), n_outputs=10, hidden=(32,)).to_dict()
{'kind': 'mlp', 'kwargs': {'sizes': [64, 32, 10], 'activation': 'relu'}}
>>> check_model("small-cnn", image_shape=None, data="teacher-student")
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: small-cnn is an image model; teacher-student needs an MLP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mdlkit.errors import MdlkitError
from mdlkit.models.mlp import ACTIVATIONS
from mdlkit.models.spec import ModelSpec, is_factory_reference
from mdlkit.models.teacher_student import STUDENT_SIZES

__all__ = [
    "IMAGE_MODELS",
    "MODELS",
    "SEQUENCE_MODELS",
    "check_model",
    "is_image_model",
    "model_spec",
]

MODELS = ("mlp", "lenet-300-100", "lenet5-caffe", "small-cnn", "student")
IMAGE_MODELS = ("lenet5-caffe", "small-cnn")
# Next-token models over token ids (B, T), built by ModelSpec like the others but trained on
# windows of a byte stream (mdlkit.data.sequence_splits, mdlkit.training.train_byte_model),
# not on the datasets the models above take.
SEQUENCE_MODELS = ("byte_transformer", "byte_rnn")


def is_image_model(name: str) -> bool:
    """Whether the model takes (1, H, W) images rather than flat vectors."""
    return name in IMAGE_MODELS


def check_model(
    name: str,
    *,
    hidden: Sequence[int] = (32,),
    activation: str = "relu",
    image_shape: tuple[int, ...] | None = (1, 28, 28),
    data: str = "this dataset",
) -> None:
    """Raise :class:`MdlkitError` unless the model exists and fits data whose images have
    ``image_shape`` (None: the inputs are points, not images; ``data`` names them)."""
    if is_factory_reference(name):  # a user's factory: its own business (models.factory)
        return
    if name in SEQUENCE_MODELS:
        raise MdlkitError(
            f"{name} is a byte sequence model; {data} has no byte stream "
            "(train it with mdlkit.training.train_byte_model)"
        )
    if name not in MODELS:
        raise MdlkitError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if name == "lenet5-caffe" and tuple(image_shape or ()) != (1, 28, 28):
        raise MdlkitError("lenet5-caffe needs 28×28 images: use --dataset mnist")
    if is_image_model(name) and image_shape is None:
        raise MdlkitError(f"{name} is an image model; {data} needs an MLP")
    if name == "mlp" and any(h < 1 for h in hidden):  # no hidden layer: a linear model
        raise MdlkitError(f"hidden layer sizes must be >= 1, got {list(hidden)}")
    if name == "mlp" and activation not in ACTIVATIONS:
        raise MdlkitError(
            f"unknown activation {activation!r}; choose one of {', '.join(sorted(ACTIVATIONS))}"
        )


def model_spec(
    name: str,
    *,
    input_shape: tuple[int, ...],
    n_outputs: int,
    hidden: Sequence[int] = (32,),
    activation: str = "relu",
) -> ModelSpec:
    """The spec of model ``name`` for inputs of ``input_shape`` and ``n_outputs`` outputs
    (classes, or regression targets). ``hidden`` and ``activation`` apply to ``mlp``."""
    if name == "lenet-300-100":
        return ModelSpec(
            "lenet-300-100", {"n_inputs": math.prod(input_shape), "n_classes": n_outputs}
        )
    if name == "lenet5-caffe":
        return ModelSpec("lenet5-caffe", {"n_classes": n_outputs})
    if name == "small-cnn":
        return ModelSpec("small-cnn", {"image_size": input_shape[-1], "n_classes": n_outputs})
    if name == "student":
        if tuple(input_shape) != (STUDENT_SIZES[0],) or n_outputs != STUDENT_SIZES[-1]:
            raise MdlkitError(
                f"student is the {list(STUDENT_SIZES)} teacher-student network: it needs 2 inputs "
                f"and 1 target, the data has inputs {list(input_shape)} and {n_outputs} outputs; "
                "use --dataset teacher-student or --model mlp"
            )
        return ModelSpec("student")
    if name != "mlp":
        check_model(name)
    sizes = [math.prod(input_shape), *hidden, n_outputs]
    return ModelSpec("mlp", {"sizes": sizes, "activation": activation})
