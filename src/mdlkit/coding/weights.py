"""The weight file (``.mdlw``): a pruned model's tensors as mask + quantized values, range coded.

Every parameter value is quantized to a global grid ``q · Δ`` (q an integer, Δ the step, chosen
by a loss tolerance as TAMADE chooses its threshold: :func:`~mdlkit.pruning.choose_step`).
Entries whose q is 0 are pruned. The tensors of q's are coded by the sparse tensor coder
(:mod:`mdlkit.coding.tensors`: mask flags under Bernoulli models, nonzero values under an
adaptive model) in one constriction range-coder stream. The header carries the model spec
(compact JSON), Δ (float32), per-tensor counts and a CRC32 of the decoded weights, so a file
decodes into a working model by itself and a damaged one is caught.

File layout (format 2, on the :mod:`~mdlkit.coding.container`): ``b"MDLW"``, version byte,
section (varint length + compact JSON) with the spec, Δ (f32 LE), varint tensor count, four
varints per tensor (k, live rows, live columns, value buckets), CRC32 (u32 LE) of the decoded
float32 weights, then the payload words (u32 LE) to the end of the file. The header's size in
bits plus 32 per payload word is exactly the file size.

The decoded model is what the data part of a two-part code must use;
:func:`~mdlkit.pruning.quantize_model` makes the identical model on the encoder side.

>>> from mdlkit.models import ModelSpec
>>> spec = ModelSpec("mlp", {"sizes": [3, 2]})
>>> model = spec.build()
>>> encoded = encode_model(model, spec, step=0.125)
>>> encoded.length.total == 8 * len(encoded.data)
True
>>> decoded = decode_model(encoded.data)
>>> decode_model(encoded.data[:-4])
Traceback (most recent call last):
...
mdlkit.errors.MdlkitError: weight file ... (the file is damaged; write it again from its source)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.container import FileFormat, Reader, crc32
from mdlkit.coding.tensors import CorruptPayload, TensorCounts, TensorDecoder, TensorEncoder
from mdlkit.errors import MdlkitError
from mdlkit.models.spec import ModelSpec
from mdlkit.pruning.quantize import dequantize, grid_indices

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAGIC",
    "EncodedModel",
    "decode_model",
    "encode_model",
    "read_model",
]

MAGIC = b"MDLW"
FORMAT_VERSION = 2
FORMAT = FileFormat("weight file", MAGIC, FORMAT_VERSION)


@dataclass(frozen=True)
class EncodedModel:
    """An encoded model file and its accounting.

    ``length`` has the exact parts ``header`` and ``payload`` (together the file size in bits);
    ``ideal`` splits the payload's ideal length into ``mask`` and ``values``.
    """

    data: bytes
    length: CodeLength
    ideal: CodeLength
    step: float
    nonzero: int
    total: int

    def write(self, path: str | Path) -> Path:
        """Write to a NEW file (an existing file is never overwritten)."""
        path = Path(path)
        with path.open("xb") as f:
            f.write(self.data)
        return path


def _crc(tensors: list[torch.Tensor]) -> int:
    """CRC32 of the float32 bytes of ``tensors`` in order: what the decoder must reproduce."""
    return crc32(t.contiguous().numpy().tobytes() for t in tensors)


def encode_model(model: nn.Module, spec: ModelSpec, step: float) -> EncodedModel:
    """Encode ``model``'s parameters quantized at ``step``; the model itself is not changed.

    ``step`` is rounded to float32 first (the header stores it so). Sizes: ``length`` has the
    exact parts ``header`` and ``payload`` in bits; ``ideal`` is the payload's ideal length,
    split into ``mask`` and ``values`` (see :mod:`mdlkit.coding.tensors`).
    """
    step = float(np.float32(step))
    if not step > 0:
        raise MdlkitError(f"quantization step must be > 0, got {step}")
    encoder = TensorEncoder()
    table, dequantized = [], []
    for p in model.parameters():
        q = grid_indices(p, step)
        table.append(encoder.encode(q.numpy()))
        dequantized.append(dequantize(q, step))
    words = encoder.finish()
    header = FORMAT.writer()
    header.section(json.dumps(spec.to_dict(), separators=(",", ":")).encode())
    header.f32(step)
    header.varint(len(table))
    for counts in table:
        for value in counts:
            header.varint(value)
    header.u32(_crc(dequantized))
    return EncodedModel(
        data=header.getvalue() + words.tobytes(),
        length=CodeLength(
            {"header": 8.0 * len(header), "payload": 32.0 * len(words)},
            name="weight codec",
        ),
        ideal=CodeLength(encoder.ideal, name="weight codec (ideal)"),
        step=step,
        nonzero=sum(counts.nonzero for counts in table),
        total=sum(p.numel() for p in model.parameters()),
    )


def _read_spec(reader: Reader) -> nn.Module:
    """The freshly built model that the header's spec names."""
    spec_json = reader.section("model spec")
    try:
        return ModelSpec.from_dict(json.loads(spec_json)).build()
    except Exception:  # any malformed or unbuildable spec is the same damage to the user
        raise FORMAT.damaged("is corrupt: its header names no buildable model") from None


def decode_model(data: bytes) -> nn.Module:
    """Rebuild the model from an encoded file's bytes; checks the format and the CRC32.

    Any damage raises a one-line :class:`MdlkitError`; a payload that decodes into weights other
    than those encoded fails the checksum.
    """
    reader = FORMAT.reader(data)
    model = _read_spec(reader)
    step = reader.f32("quantization step")
    if not 0 < step < float("inf"):
        raise FORMAT.damaged(f"is corrupt: its quantization step is {step}")
    n_tensors = reader.varint("tensor count")
    params = list(model.parameters())
    if n_tensors != len(params):
        raise FORMAT.damaged(
            f"is corrupt: its header lists {n_tensors} tensors, its model has {len(params)}"
        )
    table = [TensorCounts(*(reader.varint("tensor counts") for _ in range(4))) for _ in params]
    crc = reader.u32("checksum")
    words = np.frombuffer(reader.rest("payload", multiple_of=4), dtype="<u4").astype(np.uint32)
    try:
        decoder = TensorDecoder(words)
        dequantized = [
            dequantize(torch.from_numpy(decoder.decode(tuple(p.shape), counts)), step)
            for p, counts in zip(params, table, strict=True)
        ]
    except CorruptPayload as error:
        raise FORMAT.damaged(f"is corrupt: {error}") from None
    except Exception:  # whatever a garbled range-coder stream makes numpy or constriction do
        raise FORMAT.damaged("is corrupt: its payload does not decode") from None
    if _crc(dequantized) != crc:
        raise FORMAT.damaged("failed its checksum: the decoded weights differ from those written")
    with torch.no_grad():
        for p, tensor in zip(params, dequantized, strict=True):
            p.copy_(tensor)
    return model


def read_model(path: str | Path) -> nn.Module:
    """Decode a weight file from disk."""
    path = Path(path)
    if not path.is_file():
        raise MdlkitError(f"weight file not found: {path}")
    return decode_model(path.read_bytes())
