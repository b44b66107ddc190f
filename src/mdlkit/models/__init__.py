"""Model builders: MLP, LeNet-300-100, and the JSON-able :class:`ModelSpec`."""

from mdlkit.models.mlp import ACTIVATIONS, lenet_300_100, mlp
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec

__all__ = ["ACTIVATIONS", "MODEL_BUILDERS", "ModelSpec", "lenet_300_100", "mlp"]
