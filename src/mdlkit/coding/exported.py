"""A sequential network as the files a PyTorch user deploys: safetensors, its architecture as
JSON, and a ``torch.export`` program.

- ``model.safetensors``: the state dict (``"0.weight"``, ``"0.bias"``, …, a
  :class:`~mdlkit.models.layers.Select` layer's ``"k.indices"``). With ``int8``, a weight whose
  values all lie on the grid q·Δ of the weight codec with |q| ≤ 127 is stored as the int8
  tensor q and ``"<name>_scale"`` = Δ (float32, shape (1,)); w = q · Δ in float32 gives the
  same values bit for bit. A weight off that grid stays float32. Biases stay float32.
- ``architecture.json``: ``{"format": "mdlkit-export", "version": 1, "layers": [...],
  "input_shape": [...], "int8": [names], "weights_sha256": "...", ...}``
  (:func:`~mdlkit.models.layers.describe_layers`), plus whatever the caller adds (class names,
  the feature scaling). ``weights_sha256`` is the SHA-256 of ``model.safetensors`` (which has
  no checksum of its own): a flipped bit among the values is refused, not read as another
  model (exports written before it carry none and are read unchecked). A network that is not a
  sequence of plain layers (a user's own module) is named instead by its model spec,
  ``"model": {"kind": "package.module:make_net", "kwargs": {...}}``: it is rebuilt by calling
  that factory, which the reader must allow (a file never makes mdlkit import anything). A
  (shrunk) byte transformer is ``"transformer": {...}``: its sizes, per block heads, head width
  and feed-forward units (:class:`~mdlkit.models.shrink_transformer.TransformerSizes`).
- ``model.pt2``: :func:`torch.export.export` of the float32 network with a dynamic batch size
  (``torch.export.load(path).module()(x)``), when torch can export it.

:func:`read_export` rebuilds the network from the first two (safetensors never unpickles).

>>> import tempfile
>>> from torch import nn
>>> folder = Path(tempfile.mkdtemp())
>>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).eval()
>>> sorted(write_export(folder, net, input_shape=(2,)))
['architecture.json', 'model.safetensors']
>>> bool(torch.equal(read_export(folder)[0].weight, net[0].weight))
True
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, save_file
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically
from mdlkit.models.factory import Factories, allowed_factories
from mdlkit.models.layers import build_layers, describe_layers
from mdlkit.models.sequence import ByteTransformer
from mdlkit.models.shrink_transformer import (
    TransformerSizes,
    build_transformer,
    transformer_sizes,
)
from mdlkit.models.spec import ModelSpec, is_factory_reference

__all__ = [
    "ARCHITECTURE",
    "PROGRAM",
    "WEIGHTS",
    "export_program",
    "int8_weights",
    "read_export",
    "write_export",
]

ARCHITECTURE, WEIGHTS, PROGRAM = "architecture.json", "model.safetensors", "model.pt2"
FORMAT, VERSION = "mdlkit-export", 1
# Values a network may compute for itself beyond its weights (a transformer's sinusoidal
# positions: context × d_model): 2^26 float32 = 256 MiB, far above any mdlkit builds.
MAX_COMPUTED_VALUES = 1 << 26


def int8_weights(
    state: Mapping[str, torch.Tensor], step: float
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``state`` with every weight (2 or more dimensions) that lies exactly on the grid q·Δ
    (Δ = ``step``, |q| ≤ 127) as int8 q and ``"<name>_scale"``; and the names so stored."""
    out: dict[str, torch.Tensor] = {}
    stored: list[str] = []
    delta = torch.tensor([step], dtype=torch.float32)
    for name, tensor in state.items():
        out[name] = tensor
        if tensor.dim() < 2 or tensor.dtype != torch.float32 or tensor.numel() == 0:
            continue
        q = torch.round(tensor / delta)
        if bool((q.abs() <= 127).all()) and torch.equal(q * delta, tensor):
            out[name], out[f"{name}_scale"] = q.to(torch.int8), delta.clone()
            stored.append(name)
    return out, stored


def export_program(
    model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> Any:
    """The network as a ``torch.export`` program with a dynamic batch of inputs of ``dtype``
    (int64 token ids for a byte transformer), or None if torch cannot export it here."""
    try:
        from torch.export import Dim, export

        example = torch.zeros(2, *input_shape, dtype=dtype)
        batch = Dim("batch", min=1)
        return export(model, (example,), dynamic_shapes=({0: batch},))
    except Exception:  # an older torch, or a layer torch.export does not take
        return None


def _description(model: nn.Module, spec: ModelSpec | None) -> dict[str, Any]:
    """The architecture entry naming ``model``'s structure (see the module docstring)."""
    if spec is not None:
        return {"model": spec.to_dict()}
    if isinstance(model, ByteTransformer):
        return {"transformer": transformer_sizes(model).to_dict()}
    return {"layers": describe_layers(model)}


def write_export(
    folder: Path,
    model: nn.Module,
    *,
    input_shape: Sequence[int],
    int8_step: float | None = None,
    info: Mapping[str, Any] | None = None,
    program: Any = None,
    spec: ModelSpec | None = None,
) -> dict[str, int]:
    """Write ``model`` (an ``nn.Sequential`` of plain layers taking inputs of ``input_shape``,
    batch excluded; a byte transformer; or any module ``spec`` builds, named by it) into
    ``folder``; ``int8_step`` stores the weights on that grid as int8, ``info`` goes into
    ``architecture.json``, ``program`` (:func:`export_program` of the model) is saved as
    ``model.pt2``. Returns each
    written file's bytes."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    stored: list[str] = []
    if int8_step is not None:
        state, stored = int8_weights(state, int8_step)
    write_atomically(folder / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    architecture = {
        "format": FORMAT,
        "version": VERSION,
        **_description(model, spec),
        "input_shape": [int(n) for n in input_shape],
        "int8": stored,
        "weights_sha256": hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest(),
        **(info or {}),
    }
    write_atomically(
        folder / ARCHITECTURE, lambda tmp: tmp.write_text(json.dumps(architecture, indent=1))
    )
    names = [WEIGHTS, ARCHITECTURE]
    if program is not None:
        buffer = io.BytesIO()  # torch.export.save wants a buffer or a name ending in .pt2
        torch.export.save(program, buffer)
        write_atomically(folder / PROGRAM, lambda tmp: tmp.write_bytes(buffer.getvalue()))
        names.append(PROGRAM)
    return {name: (folder / name).stat().st_size for name in names}


def _rebuild(
    architecture: Mapping[str, Any], folder: Path, factories: Factories | None
) -> nn.Module:
    """A freshly initialised network of the architecture (its weights are loaded next)."""
    if "transformer" in architecture:
        return build_transformer(TransformerSizes.from_dict(architecture["transformer"]))
    if "model" not in architecture:
        return build_layers(architecture["layers"])
    try:
        spec = ModelSpec.from_dict(architecture["model"])
    except (KeyError, TypeError, AttributeError, ValueError):
        raise MdlkitError(f"the architecture in {folder} is damaged") from None
    if is_factory_reference(spec.kind):
        factory = allowed_factories(factories).get(spec.kind)
        if factory is None:
            raise MdlkitError(
                f"the export in {folder} names the model factory {spec.kind}, which the caller "
                f"did not allow: pass read_export(..., factories={{{spec.kind!r}: <the callable>}})"
            )
        spec = ModelSpec(spec.kind, spec.kwargs, factory=factory)
    try:
        return spec.build()
    except MdlkitError:
        raise
    except Exception as exc:  # a user's factory may raise anything
        raise MdlkitError(f"{spec.kind} does not build the exported network ({exc!r})") from None


def _int8_expanded(
    architecture: Mapping[str, Any], state: dict[str, torch.Tensor], folder: Path
) -> dict[str, torch.Tensor]:
    """``state`` with every weight ``architecture["int8"]`` names multiplied back by its scale;
    an int8 weight the list does not name (or names without its tensors) is refused, never
    loaded as if its indices were values."""
    stored = architecture.get("int8", [])
    if not isinstance(stored, list) or not all(isinstance(n, str) for n in stored):
        raise MdlkitError(f"the int8 list in {folder / ARCHITECTURE} is damaged")
    for name in stored:
        q, scale = state.pop(name, None), state.pop(f"{name}_scale", None)
        if (q is None or scale is None or q.dtype != torch.int8
                or scale.dtype != torch.float32 or scale.shape != (1,)):  # fmt: skip
            raise MdlkitError(f"the int8 weight {name} in {folder} is damaged or missing")
        state[name] = q.to(torch.float32) * scale
    return state


def _skeleton(
    architecture: Mapping[str, Any], folder: Path, factories: Factories | None
) -> nn.Module | None:
    """The network built on the meta device (no memory): its tensors' names, shapes and dtypes
    are checked against the file before anything is allocated, so edited sizes (a width of
    10⁹) are refused instead of exhausting memory. None for a user's factory that cannot build
    on the meta device (it is then built for real, as the caller allowed)."""
    by_factory = "transformer" not in architecture and "model" in architecture
    try:
        with torch.device("meta"):
            return _rebuild(architecture, folder, factories)
    except Exception as exc:
        if by_factory:
            return None
        if isinstance(exc, MdlkitError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MdlkitError(f"the architecture in {folder} is damaged ({first})") from None


def _check_fits(skeleton: nn.Module, state: Mapping[str, torch.Tensor], folder: Path) -> None:
    """One line naming the first tensor whose name, shape or dtype differs from the network's,
    or the values the network would hold beyond its weights (buffers it computes itself)."""
    wanted = skeleton.state_dict()
    for name in sorted(set(wanted) ^ set(state)):
        where = "the architecture" if name in wanted else "the weights file"
        raise MdlkitError(f"the weights in {folder} do not fit its architecture ({name} is only "
                          f"in {where})")  # fmt: skip
    for name, tensor in wanted.items():
        got = state[name]
        if got.shape != tensor.shape or got.dtype != tensor.dtype:
            raise MdlkitError(
                f"the weights in {folder} do not fit its architecture ({name} is "
                f"{got.dtype} {tuple(got.shape)}, the architecture wants {tensor.dtype} "
                f"{tuple(tensor.shape)})"
            )
    held = sum(t.numel() for t in (*skeleton.parameters(), *skeleton.buffers()))
    if held - sum(t.numel() for t in state.values()) > MAX_COMPUTED_VALUES:
        raise MdlkitError(f"the architecture in {folder} asks for {held:,} values, far more "
                          "than its weights file holds: it is damaged")  # fmt: skip


def read_export(folder: str | Path, factories: Factories | None = None) -> nn.Module:
    """The network :func:`write_export` wrote into ``folder``, in eval mode (int8 weights
    multiplied back by their scale); a network named by a user's factory is rebuilt only with
    that factory in ``factories`` (as :func:`~mdlkit.coding.weights.read_model` takes them).
    Every tensor must have the name, shape and dtype the architecture gives it."""
    folder = Path(folder)
    try:
        architecture = json.loads((folder / ARCHITECTURE).read_text())
        if architecture.get("format") != FORMAT or architecture.get("version") != VERSION:
            raise MdlkitError(f"{folder / ARCHITECTURE} is not an mdlkit export of version 1")
        weights = (folder / WEIGHTS).read_bytes()
        digest = architecture.get("weights_sha256")
        if digest is not None and digest != hashlib.sha256(weights).hexdigest():
            raise MdlkitError(
                f"{folder / WEIGHTS} is damaged or was changed (its SHA-256 is not the one "
                f"{ARCHITECTURE} records); export the model again"
            )
        state = load(weights)
    except Exception as exc:  # JSON, OS and safetensors errors alike
        if isinstance(exc, MdlkitError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MdlkitError(f"cannot read the export in {folder} ({first})") from None
    if not any(key in architecture for key in ("transformer", "model", "layers")):
        raise MdlkitError(f"{folder / ARCHITECTURE} describes no network (no layers, "
                          "transformer or model): it is damaged")  # fmt: skip
    state = _int8_expanded(architecture, state, folder)
    skeleton = _skeleton(architecture, folder, factories)
    if skeleton is not None:
        _check_fits(skeleton, state, folder)
    model = _rebuild(architecture, folder, factories)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise MdlkitError(
            f"the weights in {folder} do not fit its architecture ({first})"
        ) from None
    return model.eval()
