"""Model builders: MLPs, LeNet-300-100, LeNet-5-Caffe, a small CNN, teacher and student MLPs,
and the JSON-able :class:`ModelSpec`."""

from mdlkit.models.cnn import lenet5_caffe, small_cnn
from mdlkit.models.mlp import ACTIVATIONS, lenet_300_100, mlp
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec
from mdlkit.models.teacher_student import STUDENT_SIZES, TEACHER_SIZES, student_mlp, teacher_mlp

__all__ = [
    "ACTIVATIONS",
    "MODEL_BUILDERS",
    "STUDENT_SIZES",
    "TEACHER_SIZES",
    "ModelSpec",
    "lenet5_caffe",
    "lenet_300_100",
    "mlp",
    "small_cnn",
    "student_mlp",
    "teacher_mlp",
]
