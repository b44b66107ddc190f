"""A model's architecture: its spec as a few varints, and the shapes of its parameters.

The architecture of a weight file (format 3, :mod:`mdlkit.coding.weights`) is the model kind as
a varint index into :data:`MODEL_KINDS` (a table written out below, not derived from the
registry), then EVERY keyword argument of its builder in the order of the builder's signature,
defaults filled in, each coded under its type hint (:mod:`mdlkit.coding.arguments`).

So ``mlp`` with sizes [64, 32, 10] and activation ``"relu"`` takes 6 bytes, ``00 03 40 20 0a
01``. A spec decodes into its CANONICAL form (:func:`canonical_spec`: every argument, defaults
filled in, sequences as lists), which is the spec encoded whenever that gave every argument,
sequences as lists. The two tables (:data:`MODEL_KINDS`, :data:`~mdlkit.coding.arguments.WORDS`),
each builder's parameters and their hints (a ``Literal``'s choices too) are part of format 3:
the tables are append-only, and changing a builder's signature needs a new format version (the
tests pin all of them; a default may change, files hold every argument).

A user's factory (:mod:`mdlkit.models.factory`) is the kind ``factory`` (index 9), then its
reference ``module:name`` (a varint length and the ASCII text), the number of keyword arguments
(varint), and each argument's name (a length and the text of a Python identifier) and value
(tagged, as under ``Any``), in sorted order of the names:
the file states the factory by name and arguments, its code is shared as a built-in's is. The
reader hands the spec the factory the caller allows under that reference, or none (then the
weight codec refuses to build it); it imports nothing.

Reading trusts nothing: the architecture must name a known model with arguments of the types
its builder declares, take at most 1024 bytes and be exactly the canonical bytes
:func:`write_architecture` writes for the spec it decodes to; :func:`checked_shapes` builds the
model on PyTorch's ``meta`` device (no memory, no random numbers) and refuses one of more than
:data:`MAX_PARAMETERS` parameters. Each problem is a :class:`~mdlkit.coding.arguments.SpecError`.

>>> from mdlkit.models import ModelSpec
>>> spec = canonical_spec(ModelSpec("mlp", {"sizes": (64, 32, 10)}))
>>> write_architecture(spec).hex(" ")
'00 03 40 20 0a 01'
>>> shapes(spec)
[(32, 64), (32,), (10, 32), (10,)]
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from mdlkit.coding.arguments import SpecError, ValueReader, fits, write_value
from mdlkit.coding.container import Reader, Writer
from mdlkit.errors import MdlkitError
from mdlkit.models.factory import check_reference
from mdlkit.models.spec import MODEL_BUILDERS, ModelSpec, is_factory_reference

__all__ = [
    "FACTORY_KIND",
    "MAX_PARAMETERS",
    "MODEL_KINDS",
    "canonical_spec",
    "checked_shapes",
    "read_architecture",
    "shapes",
    "write_architecture",
]

MODEL_KINDS: tuple[str, ...] = (
    "mlp",
    "lenet-300-100",
    "lenet5-caffe",
    "small-cnn",
    "student",
    "teacher",
    "byte_transformer",
    "byte_rnn",
    "vgg-cnn",
    "factory",  # FACTORY_KIND: a user's factory by reference (module docstring)
)
"""The model kinds a format-3 file names, by index. APPEND ONLY: an index, once written, means
its kind forever (a new kind of :data:`~mdlkit.models.spec.MODEL_BUILDERS` goes at the end)."""

FACTORY_KIND = "factory"
"""The entry of :data:`MODEL_KINDS` that a user's factory is written under."""

MAX_PARAMETERS = 2**25
"""The most parameters a weight file holds (33.5 M, 78 × LeNet-5-Caffe). Decoding takes 8 (all
zero) to 26 (dense) bytes a parameter, so no file, damaged or not, makes it allocate more than
about 0.3 to 0.9 GB; the encoder refuses larger models, so it never writes a file the decoder
refuses."""

# Real architectures take under 20 bytes; the bound keeps a damaged one from asking for
# thousands of layers that would take seconds to build.
_MAX_ARCHITECTURE_BYTES = 1024
_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def shapes(of: ModelSpec | nn.Module) -> list[tuple[int, ...]]:
    """The shapes of a model's parameters, in order; of a spec's model, built on PyTorch's
    ``meta`` device (no memory for the weights, no random numbers drawn).

    >>> from mdlkit.models import ModelSpec
    >>> shapes(ModelSpec("mlp", {"sizes": [4, 3, 2]}))
    [(3, 4), (3,), (2, 3), (2,)]
    """
    if isinstance(of, ModelSpec):
        with torch.device("meta"):
            of = of.build()
    return [tuple(p.shape) for p in of.parameters()]


def checked_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """:func:`shapes` of ``spec``, or :class:`SpecError` if it does not build or has more than
    :data:`MAX_PARAMETERS` parameters."""
    try:
        spec_shapes = shapes(spec)
    except Exception as error:
        if is_factory_reference(spec.kind):  # a user's code may raise anything
            raise SpecError(
                f"names factory {spec.kind}, which does not build a model from its arguments "
                f"({type(error).__name__}: {str(error)[:80]})"
            ) from None
        if not isinstance(
            error, ArithmeticError | LookupError | RuntimeError | TypeError | ValueError
        ):
            raise
        # The builders' own checks (MdlkitError is a ValueError) and torch's refusals of sizes.
        raise SpecError("names no buildable model") from None
    n_parameters = sum(math.prod(shape) for shape in spec_shapes)
    if n_parameters > MAX_PARAMETERS:
        raise SpecError(
            f"asks for {n_parameters:,} parameters, more than a weight file holds "
            f"(at most {MAX_PARAMETERS:,})"
        )
    return spec_shapes


# --- a builder's parameters and the canonical spec -------------------------------------------


def _signature(builder: Callable[..., nn.Module]) -> tuple[inspect.Signature, bool]:
    """The builder's signature, and whether its annotations resolved to types."""
    try:
        return inspect.signature(builder, eval_str=True), True
    except NameError:  # annotations that do not resolve at run time: let the builder judge
        return inspect.signature(builder), False


def parameters(kind: str) -> list[tuple[str, Any, Any]]:
    """(name, type hint or Any, default or ``inspect.Parameter.empty``) of each keyword argument
    of ``kind``'s builder, in signature order: what a format-3 architecture codes."""
    signature, resolved = _signature(MODEL_BUILDERS[kind])
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        raise SpecError(f"names {kind}, whose builder takes **kwargs, which no file can describe")
    return [
        (p.name, p.annotation if resolved and p.annotation is not p.empty else Any, p.default)
        for p in signature.parameters.values()
        if p.kind in _KEYWORD
    ]


def _as_lists(value: Any) -> Any:
    """``value`` with every tuple a list (the form a decoded spec has)."""
    if isinstance(value, list | tuple):
        return [_as_lists(item) for item in value]
    return value


def canonical_spec(spec: ModelSpec) -> ModelSpec:
    """The form of ``spec`` that a weight file holds and decodes to: every keyword argument of
    its builder in signature order, defaults filled in, tuples as lists.

    >>> canonical_spec(ModelSpec("small-cnn", {"n_classes": 3}))
    ModelSpec(kind='small-cnn', kwargs={'image_size': 28, 'n_classes': 3, 'channels': 8})
    """
    try:
        return canonical(spec)
    except SpecError as error:
        raise MdlkitError(f"the model spec {error}") from None


def canonical(spec: ModelSpec) -> ModelSpec:
    """:func:`canonical_spec`, with a problem a :class:`SpecError`."""
    if is_factory_reference(spec.kind):
        return _canonical_factory(spec)
    kind_parameters = parameters(spec.kind)
    names = {name for name, _, _ in kind_parameters}
    for name in spec.kwargs:
        if name not in names:
            raise SpecError(f"gives {spec.kind} an unknown argument {json.dumps(name)[:40]}")
    kwargs = {}
    for name, hint, default in kind_parameters:
        if name in spec.kwargs:
            value = _as_lists(spec.kwargs[name])
        elif default is not inspect.Parameter.empty:
            value = _as_lists(default)
        else:
            raise SpecError(f"does not give {spec.kind} its argument {name}")
        if not fits(value, hint):
            raise SpecError(f"gives {spec.kind}'s argument {name} a value of the wrong type")
        kwargs[name] = value
    return ModelSpec(spec.kind, kwargs)


def _canonical_factory(spec: ModelSpec) -> ModelSpec:
    """A factory's spec with its arguments in sorted order, tuples as lists, each checked to
    be a value a file can hold (None, bool, int, float, str, lists of them)."""
    try:
        check_reference(spec.kind)
    except MdlkitError as error:
        raise SpecError(str(error)) from None
    kwargs = {}
    for name in sorted(spec.kwargs, key=str):
        if not (isinstance(name, str) and name.isascii() and name.isidentifier()):
            raise SpecError(f"gives {spec.kind} an argument name that is no identifier")
        kwargs[name] = _as_lists(spec.kwargs[name])
        write_value(Writer(), kwargs[name], Any)  # refuses a value no file can describe
    return ModelSpec(spec.kind, kwargs, factory=spec.factory)


# --- writing and reading ---------------------------------------------------------------------


def write_architecture(spec: ModelSpec) -> bytes:
    """The architecture bytes of the CANONICAL ``spec`` (:func:`canonical_spec` gives it)."""
    if is_factory_reference(spec.kind):
        w = Writer()
        w.varint(MODEL_KINDS.index(FACTORY_KIND))
        w.section(spec.kind.encode())
        w.varint(len(spec.kwargs))
        for name in sorted(spec.kwargs):
            w.section(name.encode())
            write_value(w, spec.kwargs[name], Any)
        return w.getvalue()
    if spec.kind not in MODEL_KINDS:
        raise SpecError(
            f"names {spec.kind}, which is not in architecture.MODEL_KINDS (add it there)"
        )
    w = Writer()
    w.varint(MODEL_KINDS.index(spec.kind))
    for name, hint, _ in parameters(spec.kind):
        write_value(w, spec.kwargs[name], hint)
    return w.getvalue()


def _read_factory(
    values: ValueReader, factories: Mapping[str, Callable[..., nn.Module]]
) -> ModelSpec:
    """A factory's reference and arguments (after its kind), with the factory allowed under
    that reference, if any."""
    reference = values.reader.section("architecture").decode("ascii", errors="replace")
    try:
        check_reference(reference)
    except MdlkitError:
        raise SpecError("names a factory by no reference module:name") from None
    n = values.reader.varint("architecture")
    values.charge(n)
    kwargs = {}
    for _ in range(n):
        name = values.reader.section("architecture").decode("ascii", errors="replace")
        if not name.isidentifier():
            raise SpecError(f"gives {reference} an argument name that is no identifier")
        kwargs[name] = values.value(Any)
    return ModelSpec(reference, kwargs, factory=factories.get(reference))


def read_architecture(
    reader: Reader, factories: Mapping[str, Callable[..., nn.Module]] | None = None
) -> ModelSpec:
    """The spec of an architecture at the reader's position; :class:`SpecError` unless it is
    exactly the canonical form :func:`write_architecture` writes. A factory's spec gets the
    callable ``factories`` holds under its reference (else none: nothing is imported)."""
    start = reader.position
    i = reader.varint("architecture")
    if i >= len(MODEL_KINDS):
        raise SpecError(f"names no known model (kind {i})")
    kind = MODEL_KINDS[i]
    if kind == FACTORY_KIND:
        spec = _read_factory(ValueReader(reader), factories or {})
        if reader.position - start > _MAX_ARCHITECTURE_BYTES:
            raise SpecError(f"takes more than {_MAX_ARCHITECTURE_BYTES} bytes")
        if write_architecture(spec) != reader.data[start : reader.position]:
            raise SpecError("is not in the canonical form mdlkit writes")
        return spec
    if kind not in MODEL_BUILDERS:
        raise SpecError(f"names {kind}, a model this mdlkit does not build")
    values = ValueReader(reader)
    kwargs = {}
    for name, hint, _ in parameters(kind):
        kwargs[name] = values.value(hint)
        if not fits(kwargs[name], hint):
            raise SpecError(f"gives {kind}'s argument {name} a value of the wrong type")
        if reader.position - start > _MAX_ARCHITECTURE_BYTES:
            raise SpecError(f"takes more than {_MAX_ARCHITECTURE_BYTES} bytes")
    spec = ModelSpec(kind, kwargs)
    if write_architecture(spec) != reader.data[start : reader.position]:
        raise SpecError("is not in the canonical form mdlkit writes")
    return spec
