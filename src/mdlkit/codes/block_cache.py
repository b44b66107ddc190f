"""Resumable online codes: each block's trained model kept on disk, found again by what it saw.

An online code's time goes into training one model per block; coding is cheap. A
:class:`CachedLearner` wraps a :class:`~mdlkit.codes.learners.TorchLearner` and stores each
block's model (safetensors) and coding head (JSON) in a folder under a key that fixes everything
the model depends on:

    key = SHA-256(learner settings, block index, seen inputs, seen targets, previous model's key)

The settings are the learner's repr without ``workers`` (how many processes train the members
never changes the weights) and without ``threads`` while it is None (keys written before the
field existed stay valid). The torch thread count a model was trained with (which changes its
weights) is stored beside it instead, and a model stored with another count than the fit's is
trained anew (models stored before that record load as they are).

A killed run that starts again with the same folder loads the blocks it finished and trains the
rest, and ends with exactly the stream an uninterrupted run writes (training is deterministic,
so a loaded model is the model the training would give). A changed setting or different data
makes different keys and is simply trained anew. A receiver must never load the sender's
models: their keys would match, but the point of decoding — that training from the decoded
labels repeats the sender's models bit for bit — would go unchecked. It may keep a cache of its
own, in a folder the sender never writes, holding only models it trained itself (before a
kill, or ahead in a second process: :func:`~mdlkit.codes.train_receivers_ahead`) under the
labels they were trained on, so that a killed decode resumes as well
(:func:`~mdlkit.codes.run_online_codes` does both).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mdlkit.codes.learners import Fitted, TorchLearner
from mdlkit.errors import MdlkitError
from mdlkit.files import write_atomically
from mdlkit.heads import GaussianHead, Head, TemperatureMixtureHead

__all__ = ["CachedLearner"]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    return repr((t.dtype, tuple(t.shape))).encode() + t.contiguous().numpy().tobytes()


# Fields added after caches were first written: left out of the key at these values (the only
# ones those caches could have been made with), so the caches still load.
_LATER_FIELDS = {"rotate": 0, "scale": 0}


def _settings(learner: TorchLearner) -> str:
    """The learner's dataclass repr without the fields that never change its models."""
    kept = [
        f"{f.name}={getattr(learner, f.name)!r}"
        for f in fields(learner)
        if f.repr
        and f.name != "workers"
        and not (f.name == "threads" and learner.threads is None)
        and not (f.name in _LATER_FIELDS and getattr(learner, f.name) == _LATER_FIELDS[f.name])
    ]
    return f"{type(learner).__qualname__}({', '.join(kept)})"


def _threads(learner: TorchLearner) -> int:
    """The torch thread count a fit of ``learner`` trains with now."""
    return learner.threads if learner.threads is not None else torch.get_num_threads()


def _head_json(fitted: Fitted) -> dict[str, object]:
    head = fitted.head
    if isinstance(head, TemperatureMixtureHead):
        return {
            "kind": "mixture",
            "temperatures": head.temperatures.tolist(),
            "weights": head.weights.tolist(),
        }
    if isinstance(head, GaussianHead):
        return {"kind": "gaussian", "sigma": head.sigma, "epsilon": head.epsilon}
    if head is not None:
        raise MdlkitError(f"a cached learner cannot store a {type(head).__name__}")
    return {"kind": "softmax", "temperature": fitted.temperature}


def _head(stored: dict[str, object]) -> tuple[float, Head | None]:
    kind = stored.get("kind")
    if kind == "mixture":
        head = TemperatureMixtureHead(stored["temperatures"], stored["weights"])  # type: ignore[arg-type]
        return head.temperature, head
    if kind == "gaussian":
        gaussian = GaussianHead(
            float(stored["sigma"]),  # type: ignore[arg-type]
            float(stored["epsilon"]),  # type: ignore[arg-type]
            learn_sigma=False,
        )
        return 1.0, gaussian
    if kind == "softmax":
        return float(stored["temperature"]), None  # type: ignore[arg-type]
    raise ValueError(f"unknown head {kind!r}")


@dataclass
class CachedLearner:
    """``learner``'s fits, stored in and loaded from ``folder`` (see the module docstring)."""

    learner: TorchLearner
    folder: Path
    loaded: int = 0
    trained: int = 0
    _keys: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, x: torch.Tensor, y: torch.Tensor, previous: Fitted | None, block: int) -> str:
        before = self._keys.get(id(previous), "") if previous is not None else ""
        return _digest(
            _settings(self.learner).encode(),
            str(block).encode(),
            _tensor_bytes(x),
            _tensor_bytes(y),
            before.encode(),
        )

    def fit(self, x: torch.Tensor, y: torch.Tensor, previous: Fitted | None, block: int) -> Fitted:
        key = self._key(x, y, previous, block)
        weights, meta = self.folder / f"{key}.safetensors", self.folder / f"{key}.json"
        fitted = self._load(weights, meta, x, y) if meta.is_file() else None
        if fitted is None:
            fitted = self.learner.fit(x, y, previous, block)
            state = {k: v.contiguous() for k, v in fitted.model.state_dict().items()}
            write_atomically(weights, lambda p: save_file(state, str(p)))
            text = json.dumps({**_head_json(fitted), "threads": _threads(self.learner)})
            write_atomically(meta, lambda p: p.write_text(text))
            self.trained += 1
        else:
            self.loaded += 1
        self._keys[id(fitted)] = key
        return fitted

    def _load(self, weights: Path, meta: Path, x: torch.Tensor, y: torch.Tensor) -> Fitted | None:
        """The stored fit, or None when its files are damaged (it is then trained anew)."""
        try:
            stored = json.loads(meta.read_text())
            if not isinstance(stored, dict):
                return None
            if stored.get("threads", _threads(self.learner)) != _threads(self.learner):
                return None  # trained with another thread count: other weights
            temperature, head = _head(stored)
            model = self.learner.build()
            model.load_state_dict(load_file(str(weights)))
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            RuntimeError,
            SafetensorError,
            MdlkitError,
        ):
            return None
        model.eval()
        n_hold = max(1, int(self.learner.holdout * len(x))) if len(x) >= 2 else 0
        hx, hy = (x[-n_hold:], y[-n_hold:]) if n_hold else (x, y)
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            return None
        return Fitted(model, hx, hy, temperature, head)
