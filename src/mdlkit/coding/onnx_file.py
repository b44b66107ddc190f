"""An exported network as ONNX (``model.onnx``), for runtimes other than PyTorch; optional.

Written by ``torch.onnx.export`` (its dynamo exporter, which needs the ``onnx`` and
``onnxscript`` packages: ``pip install 'mdlkit[onnx]'``) from the network's ``torch.export``
program when there is one, with a dynamic batch size. :func:`onnx_outputs` runs the file with
onnxruntime (when installed), so the export can check it against the decoded model.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically

__all__ = ["ONNX", "check_onnx_available", "onnx_outputs", "write_onnx"]

ONNX = "model.onnx"
INSTALL = "pip install 'mdlkit[onnx]'"


def check_onnx_available() -> None:
    """Raise :class:`MdlkitError` in one line unless ONNX files can be written here."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise MdlkitError(f"--onnx needs the onnx and onnxscript packages: {INSTALL}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's warnings and log lines (e.g. on torchvision operators) kept off screen."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def write_onnx(
    path: Path, model: nn.Module, input_shape: Sequence[int], program: Any = None
) -> int:
    """Write ``model`` (float32 inputs of ``input_shape``, batch excluded; or its
    ``torch.export`` ``program``) as ONNX to ``path``; returns the file's bytes."""
    check_onnx_available()
    try:
        with _quiet():
            if program is not None:
                exported = torch.onnx.export(program, verbose=False)
            else:
                from torch.export import Dim

                example = (torch.zeros(2, *input_shape),)
                batch = {0: Dim("batch", min=1)}
                exported = torch.onnx.export(
                    model, example, dynamo=True, dynamic_shapes=(batch,), verbose=False
                )
            assert exported is not None
            write_atomically(path, lambda tmp: exported.save(str(tmp)))
    except MdlkitError:
        raise
    except Exception as exc:  # an operator the exporter does not take
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MdlkitError(f"torch cannot write this network as ONNX ({first})") from None
    return path.stat().st_size


def onnx_outputs(path: Path, x: torch.Tensor) -> torch.Tensor | None:
    """The outputs of the ONNX file on ``x`` run by onnxruntime (CPU), or None without it."""
    try:
        import onnxruntime
    except ImportError:
        return None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        y = session.run(None, {name: x.detach().cpu().numpy()})[0]
    except Exception as exc:  # onnxruntime's own error types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MdlkitError(f"onnxruntime cannot run {path} ({first})") from None
    return torch.from_numpy(np.asarray(y))
