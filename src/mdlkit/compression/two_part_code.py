"""A file as a two-part code: the settings its decoder needs, and the code itself.

The two-part mode of the file compressor (:mod:`mdlkit.compression.two_part`) sends a weight
file and the data range-coded with the decoded model in independent chunks
(:mod:`mdlkit.compression.chunk_codec`). :class:`TwoPartSettings` is everything besides those
bytes that a decoder must know (the model's spec, context, chunk size, stride, batch), checked on
the way in; :class:`TwoPartCode` holds the parts and their sizes in bits.

>>> settings = TwoPartSettings(
...     spec={"kind": "byte_transformer", "kwargs": {"context": 8, "d_model": 8, "n_layers": 1,
...           "n_heads": 2}}, context=8, chunk=64, stride=4)
>>> TwoPartSettings.from_dict(settings.to_dict()) == settings
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mdlkit.coding.model_size import paper_model_bits
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec

__all__ = ["SETTINGS_VERSION", "VOCAB", "TwoPartCode", "TwoPartSettings"]

SETTINGS_VERSION = 1
VOCAB = 256


def _int_field(d: dict[str, Any], name: str, low: int, high: int | None = None) -> int:
    value = d.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MdlkitError(f"two-part settings: {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise MdlkitError(f"two-part settings: {name} must be {bound}, got {value}")
    return value


@dataclass(frozen=True)
class TwoPartSettings:
    """Everything the decoder needs besides the weight file and the payloads (JSON-able).

    Attributes:
        spec: ``ModelSpec.to_dict()`` of the model (a ``byte_transformer``); the weight file
            carries it too, and the two must agree.
        context: T, the longest window of bytes the model sees (≤ the model's context).
        chunk: bytes per independently coded chunk.
        stride: S in [1, T], bytes between window starts (see
            :mod:`~mdlkit.compression.chunk_codec`).
        batch: chunks per forward pass (chunk groups are coded one after another).
        dtype: the model's float type; only ``"float32"``.
        threads: torch threads of the coding loops; only 1.
        first: how the first byte of a chunk is coded; only ``"uniform"`` (8 bits).
        version: of this settings layout.
    """

    spec: dict[str, Any]
    context: int
    chunk: int
    stride: int
    batch: int = 128
    dtype: str = "float32"
    threads: int = 1
    first: str = "uniform"
    version: int = SETTINGS_VERSION

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`MdlkitError` unless a decoder can work with these settings."""
        d = asdict(self)
        _int_field(d, "version", SETTINGS_VERSION, SETTINGS_VERSION)
        context = _int_field(d, "context", 1)
        _int_field(d, "chunk", 1)
        _int_field(d, "stride", 1, context)
        _int_field(d, "batch", 1)
        _int_field(d, "threads", 1, 1)
        if self.dtype != "float32":
            raise MdlkitError(f"two-part settings: dtype must be 'float32', got {self.dtype!r}")
        if self.first != "uniform":
            raise MdlkitError(f"two-part settings: first must be 'uniform', got {self.first!r}")
        spec = self.model_spec()
        if spec.kind != "byte_transformer":
            raise MdlkitError(
                f"two-part settings: the model must be a byte_transformer, got {spec.kind!r}"
            )
        model_context = spec.kwargs.get("context", 64)
        if not isinstance(model_context, int) or context > model_context:
            raise MdlkitError(
                f"two-part settings: context {context} exceeds the model's ({model_context!r})"
            )
        if spec.kwargs.get("vocab_size", VOCAB) != VOCAB:
            raise MdlkitError("two-part settings: the model must predict 256 byte values")

    def model_spec(self) -> ModelSpec:
        if (
            not isinstance(self.spec, dict)
            or not isinstance(self.spec.get("kind"), str)
            or not isinstance(self.spec.get("kwargs", {}), dict)
        ):
            raise MdlkitError("two-part settings: spec must be {'kind': str, 'kwargs': dict}")
        return ModelSpec.from_dict(self.spec)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TwoPartSettings:
        """Settings from :meth:`to_dict`'s form; anything missing, unknown or out of range is a
        :class:`MdlkitError`."""
        if not isinstance(d, dict):
            raise MdlkitError(f"two-part settings must be a JSON object, got {type(d).__name__}")
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - names)
        if unknown:
            raise MdlkitError(f"two-part settings: unknown fields {', '.join(unknown)}")
        missing = sorted(n for n in ("spec", "context", "chunk", "stride") if n not in d)
        if missing:
            raise MdlkitError(f"two-part settings: missing fields {', '.join(missing)}")
        try:
            return cls(**d)
        except MdlkitError:
            raise
        except Exception as error:  # a wrong type deep inside: the same bad input to the user
            raise MdlkitError(f"two-part settings are invalid: {error}") from None


@dataclass(frozen=True)
class TwoPartCode:
    """A file as a two-part code: settings, the weight file, one payload per chunk.

    Sizes: ``model_bits`` = 8 · len(model) (the weight file), ``data_bits`` = 8 · Σ len(chunk)
    (32 per range-coder word), ``total_bits`` their sum — the settings' few bytes are the
    archive's. ``ideal_bits`` is Σ −log2 p of the data under the decoded model (float64),
    ``paper_bits`` the DRR paper's convention: 32 bits per nonzero parameter (no index cost)
    plus the coded data. ``test_bits_per_byte`` is the decoded model's mean −log2 p on the
    held-out tail windows of training (None when no model was trained); ``report`` holds the
    training figures (method, α, epochs, step, seconds).
    """

    settings: TwoPartSettings
    model: bytes
    chunks: list[bytes]
    ideal_bits: float
    length: int
    n_params: int
    nonzero: int
    step: float
    test_bits_per_byte: float | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def model_bits(self) -> int:
        return 8 * len(self.model)

    @property
    def data_bits(self) -> int:
        return 8 * sum(len(c) for c in self.chunks)

    @property
    def total_bits(self) -> int:
        return self.model_bits + self.data_bits

    @property
    def paper_bits(self) -> int:
        return paper_model_bits(self.nonzero) + self.data_bits

    def summary(self) -> dict[str, Any]:
        """Plain values for a results file."""
        n = max(self.length, 1)
        return {
            "length": self.length,
            "n_params": self.n_params,
            "nonzero": self.nonzero,
            "step": self.step,
            "model_bytes": len(self.model),
            "model_bits": self.model_bits,
            "data_bits": self.data_bits,
            "data_ideal_bits": self.ideal_bits,
            "total_bits": self.total_bits,
            "paper_bits": self.paper_bits,
            "bits_per_byte": self.total_bits / n,
            "data_bits_per_byte": self.data_bits / n,
            "test_bits_per_byte": self.test_bits_per_byte,
            "chunks": len(self.chunks),
            "settings": self.settings.to_dict(),
            **self.report,
        }
