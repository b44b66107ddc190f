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

__all__ = ["MODEL_BUILDERS", "ModelSpec", "is_factory_reference"]

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


def is_factory_reference(kind: str) -> bool:
    """Whether a model kind names a user's factory (``module:name``) rather than a built-in."""
    return ":" in kind


@dataclass(frozen=True)
class ModelSpec:
    """A model kind and its keyword arguments.

    The kind is a key of :data:`MODEL_BUILDERS`, or a user's factory reference ``module:name``
    (:mod:`mdlkit.models.factory`) with the callable itself as ``factory`` (not compared, not
    in :meth:`to_dict`): a spec read from a file has it only where the reader allowed it.
    """

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    factory: Callable[..., nn.Module] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not is_factory_reference(self.kind) and self.kind not in MODEL_BUILDERS:
            raise MdlkitError(
                f"unknown model {self.kind!r}; choose one of {sorted(MODEL_BUILDERS)} or a "
                "factory module:name"
            )
        if self.factory is not None and not is_factory_reference(self.kind):
            raise MdlkitError(f"the built-in model {self.kind} takes no factory")

    @property
    def factories(self) -> dict[str, Callable[..., nn.Module]]:
        """``{kind: factory}`` for a factory's spec (what decoding its own file needs)."""
        return {self.kind: self.factory} if self.factory is not None else {}

    def build(self) -> nn.Module:
        """A freshly initialised model (seed torch first for reproducible weights)."""
        if is_factory_reference(self.kind):
            if self.factory is None:
                raise MdlkitError(
                    f"model factory {self.kind} is not given: pass it (mdlkit imports no "
                    "module a file names)"
                )
            model = self.factory(**self.kwargs)
            if not isinstance(model, nn.Module):
                raise MdlkitError(
                    f"model factory {self.kind} returned a {type(model).__name__}, not a "
                    "torch.nn.Module"
                )
            return model
        return MODEL_BUILDERS[self.kind](**self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        return cls(str(d["kind"]), dict(d.get("kwargs", {})))
