"""Model specifications: a small JSON-able description from which a model is rebuilt.

The weight codec stores a spec in its header so that a file decodes into a working model without
any other information.

>>> spec = ModelSpec("mlp", {"sizes": [4, 3, 2], "activation": "relu"})
>>> ModelSpec.from_dict(spec.to_dict()) == spec
True
>>> sum(p.numel() for p in spec.build().parameters())
23
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.models.cnn import lenet5_caffe, small_cnn, vgg_cnn
from mdlkit.models.mlp import lenet_300_100, mlp
from mdlkit.models.sequence import ByteRNN, ByteTransformer
from mdlkit.models.teacher_student import student_mlp, teacher_mlp

__all__ = ["MODEL_BUILDERS", "ModelSpec"]

MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "lenet-300-100": lenet_300_100,
    "lenet5-caffe": lenet5_caffe,
    "small-cnn": small_cnn,
    "student": student_mlp,
    "teacher": teacher_mlp,
    "byte_transformer": ByteTransformer,
    "byte_rnn": ByteRNN,
    "vgg-cnn": vgg_cnn,
}


@dataclass(frozen=True)
class ModelSpec:
    """A model kind (a key of :data:`MODEL_BUILDERS`) and its keyword arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in MODEL_BUILDERS:
            raise MdlkitError(
                f"unknown model {self.kind!r}; choose one of {sorted(MODEL_BUILDERS)}"
            )

    def build(self) -> nn.Module:
        """A freshly initialised model (seed torch first for reproducible weights)."""
        return MODEL_BUILDERS[self.kind](**self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        return cls(str(d["kind"]), dict(d.get("kwargs", {})))
