"""Model builders: MLPs, LeNet-300-100, LeNet-5-Caffe, a small CNN, teacher and student MLPs,
byte-level next-token models (a transformer, an LSTM/GRU); the JSON-able :class:`ModelSpec`;
models by name through :func:`model_spec`."""

from mdlkit.models.cnn import lenet5_caffe, small_cnn
from mdlkit.models.ensemble import ProbabilityAverage
from mdlkit.models.mlp import ACTIVATIONS, lenet_300_100, mlp
from mdlkit.models.registry import (
    IMAGE_MODELS,
    MODELS,
    SEQUENCE_MODELS,
    check_model,
    is_image_model,
    model_spec,
)
from mdlkit.models.sequence import (
    CELLS,
    POSITIONS,
    ByteRNN,
    ByteTransformer,
    RNNState,
    norm_parameter_names,
)
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec
from mdlkit.models.teacher_student import STUDENT_SIZES, TEACHER_SIZES, student_mlp, teacher_mlp

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "IMAGE_MODELS",
    "MODELS",
    "MODEL_BUILDERS",
    "POSITIONS",
    "SEQUENCE_MODELS",
    "STUDENT_SIZES",
    "TEACHER_SIZES",
    "ByteRNN",
    "ByteTransformer",
    "ModelSpec",
    "ProbabilityAverage",
    "RNNState",
    "check_model",
    "is_image_model",
    "lenet5_caffe",
    "lenet_300_100",
    "mlp",
    "model_spec",
    "norm_parameter_names",
    "small_cnn",
    "student_mlp",
    "teacher_mlp",
]
