"""Model factories a user names: any callable that returns an ``nn.Module``, by reference.

A factory reference is ``"package.module:name"`` (``name`` may be dotted: ``Outer.build``), the
way entry points name callables. A :class:`~mdlkit.models.ModelSpec` whose kind is a reference
builds its model by calling the factory with the spec's keyword arguments; the weight file
stores the reference and the arguments, never the factory's code (which, as a built-in
model's, is shared by sender and receiver).

Security: mdlkit imports a factory's module only where the user named the factory on the
command line or in code (:func:`import_factory`); decoding a weight file never imports
anything: the caller hands over the factories it allows (:func:`allowed_factories`).

>>> factory_reference(ModelSpec)
'mdlkit.models.spec:ModelSpec'
>>> check_reference("pkg.mod:make_net")
'pkg.mod:make_net'
>>> check_reference("os.system")
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: model factory 'os.system' is not a reference module:name \
(e.g. mypackage.nets:make_net)
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec, is_factory_reference

__all__ = [
    "Factories",
    "Factory",
    "allowed_factories",
    "check_factory_options",
    "check_reference",
    "factory_reference",
    "factory_spec",
    "import_factories",
    "import_factory",
    "is_factory_reference",
    "parse_model_args",
]

Factory = Callable[..., nn.Module]
Factories = Mapping[str, Factory] | Iterable[Factory]
"""What a caller allows a weight file to name: ``{reference: factory}``, or factories whose
:func:`factory_reference` is their name."""

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}(\.{_IDENTIFIER})*")


def check_reference(reference: str) -> str:
    """``reference`` if it has the form ``module.path:name``, else :class:`MdlkitError`."""
    if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
        raise MdlkitError(
            f"model factory {reference!r} is not a reference module:name "
            "(e.g. mypackage.nets:make_net)"
        )
    return reference


def factory_reference(factory: Callable[..., Any]) -> str:
    """The reference ``module:qualified name`` of a function or class defined at the top level
    of a module (or nested in a class); a lambda or a function defined inside another has none.
    """
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
        raise MdlkitError(
            f"{factory!r} has no reference module:name (define it at the top level of a "
            "module, or name it: factory_spec(factory, kwargs, name='module:name'))"
        )
    return check_reference(f"{module}:{name}")


def import_factory(reference: str) -> Factory:
    """The callable a reference names, importing its module (the module must be importable:
    installed, or on ``PYTHONPATH`` / in the current directory). Only for a factory the user
    named; never for a name read from a file."""
    module_name, _, name = check_reference(reference).partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise MdlkitError(
            f"model factory {reference}: cannot import {module_name} ({error}); put it on "
            "PYTHONPATH or run from its directory"
        ) from None
    for part in name.split("."):
        if not hasattr(target, part):
            raise MdlkitError(f"model factory {reference}: {module_name} has no {name}")
        target = getattr(target, part)
    if not callable(target):
        raise MdlkitError(f"model factory {reference} is not callable")
    return target  # type: ignore[no-any-return]


def import_factories(references: Iterable[str]) -> dict[str, Factory]:
    """``{reference: factory}`` of the factories a user allows on the command line
    (``--allow-factory REF``, repeatable), each imported by :func:`import_factory`."""
    return {reference: import_factory(reference) for reference in references}


def allowed_factories(factories: Factories | None) -> dict[str, Factory]:
    """``{reference: factory}`` of what a caller allows: a mapping as it is, an iterable of
    callables under their :func:`factory_reference`."""
    if factories is None:
        return {}
    items = (
        list(factories.items())
        if isinstance(factories, Mapping)
        else [(factory_reference(f), f) for f in factories]
    )
    for reference, factory in items:
        check_reference(reference)
        if not callable(factory):
            raise MdlkitError(f"the factory allowed as {reference} is not callable")
    return dict(items)


def factory_spec(
    factory: str | Factory,
    kwargs: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    factories: Factories | None = None,
) -> ModelSpec:
    """The spec of a model a factory builds with ``kwargs`` (JSON-like values).

    ``factory`` is a callable (its reference is ``name``, or :func:`factory_reference` of it),
    or a reference string: looked up in ``factories``, else imported (:func:`import_factory`).
    """
    if isinstance(factory, str):
        reference = check_reference(factory)
        callable_ = allowed_factories(factories).get(reference) or import_factory(reference)
    else:
        reference = check_reference(name) if name is not None else factory_reference(factory)
        callable_ = factory
    return ModelSpec(reference, dict(kwargs or {}), factory=callable_)


def parse_model_args(text: str | None) -> dict[str, Any]:
    """A factory's keyword arguments from the command line's JSON object (None: none).

    >>> parse_model_args('{"width": 64, "sizes": [3, 2]}')
    {'width': 64, 'sizes': [3, 2]}
    """
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise MdlkitError(
            f"--model-args must be a JSON object such as '{{\"width\": 64}}', got {text!r}"
        )
    return value


def check_factory_options(model: str, model_args: str | None, images: bool) -> None:
    """Raise :class:`MdlkitError` unless ``model_args`` and ``images`` go with ``model``: they
    are a factory's options (the factory itself is imported only when the model is built)."""
    if not is_factory_reference(model):
        if model_args is not None or images:
            raise MdlkitError(
                f"--model-args and --images are for a --model factory module:name, not {model}"
            )
        return
    check_reference(model)
    parse_model_args(model_args)
