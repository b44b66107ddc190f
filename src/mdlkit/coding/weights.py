"""The weight codec: a pruned model's tensors as mask + quantized values, range coded.

Every parameter value is quantized to a global grid ``q · Δ`` (q an integer, Δ the step, chosen
by a loss tolerance as TAMADE chooses its threshold). Entries whose q is 0 are pruned. Per tensor,
the file codes

- the mask (which entries are nonzero), with Bernoulli models whose counts the header carries,
- the nonzero q's, with an adaptive model (no table is sent),

in one constriction range-coder stream (details in :func:`encode_model`). The header carries the
model spec (compact JSON), Δ (float32), per-tensor counts (LEB128 varints) and a CRC32 of the
decoded weights, so a file decodes into a working model by itself and a damaged one is caught.

File layout: ``b"MDLW"``, version byte, varint spec length, spec JSON, Δ (f32 LE), varint tensor
count, four varints per tensor (k, live rows, live columns, value buckets), CRC32 (u32 LE), then
the payload words (u32 LE) to the end of the file.
The decoded model is what the data part of a two-part code must use; :func:`quantize_model` makes
the identical model on the encoder side.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import constriction
import numpy as np
import torch
from torch import nn

from mdlkit.bits import CodeLength
from mdlkit.coding.adaptive import AdaptiveCategorical
from mdlkit.errors import MdlkitError
from mdlkit.evaluation import Evaluation
from mdlkit.models.spec import ModelSpec

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "EncodedModel",
    "choose_step",
    "decode_model",
    "encode_model",
    "quantize_model",
    "read_model",
]

MAGIC = b"MDLW"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<4sB")


def _put_varint(out: bytearray, value: int) -> None:
    """Append a non-negative integer as LEB128 (7 bits a byte, high bit = more follows)."""
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise MdlkitError("weight file is truncated: its header ends early")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _grid(values: torch.Tensor, step: float) -> torch.Tensor:
    """Integer grid indices q = round(θ / Δ) (float64 division, so Δ's rounding is irrelevant)."""
    return torch.round(values.detach().to(torch.float64) / step).to(torch.int64)


def _dequantize(q: torch.Tensor, step: float) -> torch.Tensor:
    """θ̂ = q · Δ in float32; encoder and decoder both call exactly this."""
    return q.to(torch.float32) * torch.tensor(step, dtype=torch.float32)


@torch.no_grad()
def quantize_model(model: nn.Module, step: float) -> None:
    """Replace every parameter by its grid value q · Δ in place (small ones become 0)."""
    if not step > 0:
        raise MdlkitError(f"quantization step must be > 0, got {step}")
    for p in model.parameters():
        p.copy_(_dequantize(_grid(p, step), step))


def choose_step(
    model: nn.Module,
    score: Callable[[nn.Module], Evaluation],
    *,
    delta: float = 0.005,
    iterations: int = 30,
) -> float:
    """The largest step Δ with loss(quantized) ≤ (1 + δ) · loss(model), by bisection on log Δ.

    Searched in [max|θ| · 2⁻²⁴, max|θ|]; if even the finest step fails, the finest is returned.
    """
    if not delta >= 0:
        raise MdlkitError(f"quantization tolerance must be >= 0, got {delta}")
    saved = [p.detach().clone() for p in model.parameters()]
    reference = score(model).loss
    top = max(float(p.abs().max()) for p in saved if p.numel())
    if top == 0:
        return 1.0
    lo, hi = np.log2(top) - 24.0, np.log2(top)

    def to_step(log_step: float) -> float:
        # float32, so that the header's value is exactly the step that was tested
        return float(np.float32(2.0**log_step))

    def ok(log_step: float) -> bool:
        quantize_model(model, to_step(log_step))
        loss = score(model).loss
        with torch.no_grad():
            for p, s in zip(model.parameters(), saved, strict=True):
                p.copy_(s)
        return loss <= (1.0 + delta) * reference

    if ok(hi):
        return to_step(hi)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return to_step(lo)


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
    crc = 0
    for t in tensors:
        crc = zlib.crc32(t.contiguous().numpy().tobytes(), crc)
    return crc


def _bernoulli(k: int, n: int) -> Any:
    p = k / n
    return constriction.stream.model.Categorical(np.array([1.0 - p, p]), perfect=False)


def _bernoulli_bits(k: int, n: int) -> float:
    """n · H(k / n): the ideal length of n flags with k ones under Bernoulli(k / n)."""
    if k in (0, n):
        return 0.0
    p = k / n
    return float(-(k * np.log2(p) + (n - k) * np.log2(1.0 - p)))


_FAIR_BIT = constriction.stream.model.Categorical(np.array([0.5, 0.5]), perfect=False)


class _Stream:
    """One range-coder queue shared by all tensors; tracks ideal bits by kind."""

    def __init__(self) -> None:
        self.encoder = constriction.stream.queue.RangeEncoder()
        self.ideal = {"mask": 0.0, "values": 0.0}

    def flags(self, flags: np.ndarray) -> int:
        """Code 0/1 flags with Bernoulli(k/n); returns k (which the header carries)."""
        k, n = int(flags.sum()), flags.size
        if 0 < k < n:
            self.encoder.encode(flags.astype(np.int32), _bernoulli(k, n))
        self.ideal["mask"] += _bernoulli_bits(k, n)
        return k

    def values(self, q: np.ndarray, n_buckets: int) -> None:
        """Code nonzero integers: (sign, bit length) adaptively, then the bits below the top one."""
        model = AdaptiveCategorical(2 * n_buckets)
        magnitude = np.abs(q)
        buckets = np.array([int(m).bit_length() for m in magnitude], dtype=np.int64)
        for sign, bucket in zip(q < 0, buckets, strict=True):
            symbol = int(sign) * n_buckets + int(bucket) - 1
            probs = model.probabilities()
            self.ideal["values"] += float(-np.log2(probs[symbol]))
            self.encoder.encode(symbol, model.model())
            model.update(symbol)
        low_bits = _low_bits(magnitude, buckets)
        if low_bits.size:
            self.encoder.encode(low_bits, _FAIR_BIT)
        self.ideal["values"] += float(low_bits.size)


def _low_bits(magnitude: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """The bits of each magnitude below its leading one, most significant first."""
    bits = [
        ((int(m) >> s) & 1)
        for m, b in zip(magnitude, buckets, strict=True)
        for s in range(int(b) - 2, -1, -1)
    ]
    return np.asarray(bits, dtype=np.int32)


def _matrix(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (rows, columns) view of a tensor: (out, everything else); a vector is one column."""
    if len(shape) >= 2:
        return shape[0], int(np.prod(shape[1:]))
    return (int(np.prod(shape)) if shape else 1), 1


def encode_model(model: nn.Module, spec: ModelSpec, step: float) -> EncodedModel:
    """Encode ``model``'s parameters quantized at ``step``; the model itself is not changed.

    Per tensor, viewed as a matrix (rows = output units): flags of rows with any nonzero, flags
    of columns with any nonzero, then the mask of the live submatrix, each with a Bernoulli model
    whose count is in the header; then the nonzero values, each as (sign, bit length) under an
    adaptive model and the bits below the leading one at ½ each. Dead units thus cost one flag.
    """
    step = float(np.float32(step))
    if not step > 0:
        raise MdlkitError(f"quantization step must be > 0, got {step}")
    stream = _Stream()
    table, dequantized = [], []
    for _, p in model.named_parameters():
        q = _grid(p, step)
        rows, cols = _matrix(tuple(p.shape))
        grid = q.reshape(rows, cols).numpy()
        nz = grid != 0
        live_rows, live_cols = nz.any(axis=1), nz.any(axis=0)
        r = stream.flags(live_rows) if cols > 1 else int(live_rows.sum())
        c = stream.flags(live_cols) if cols > 1 else 1
        sub = nz[live_rows][:, live_cols] if cols > 1 else nz[:, 0]
        k = stream.flags(sub.ravel())
        values = grid[nz]
        n_buckets = int(np.abs(values).max()).bit_length() if k else 0
        if k:
            stream.values(values, n_buckets)
        table.append([k, r, c, n_buckets])
        dequantized.append(_dequantize(q, step))
    words = np.asarray(stream.encoder.get_compressed(), dtype="<u4")
    header = bytearray(_PREFIX.pack(MAGIC, FORMAT_VERSION))
    spec_json = json.dumps(spec.to_dict(), separators=(",", ":")).encode()
    _put_varint(header, len(spec_json))
    header += spec_json
    header += struct.pack("<f", step)
    _put_varint(header, len(table))
    for row in table:
        for value in row:
            _put_varint(header, value)
    header += struct.pack("<I", _crc(dequantized))
    return EncodedModel(
        data=bytes(header) + words.tobytes(),
        length=CodeLength(
            {"header": 8.0 * len(header), "payload": 32.0 * len(words)},
            name="weight codec",
        ),
        ideal=CodeLength(stream.ideal, name="weight codec (ideal)"),
        step=step,
        nonzero=sum(row[0] for row in table),
        total=sum(p.numel() for p in model.parameters()),
    )


class _Reader:
    """The decoding mirror of :class:`_Stream`."""

    def __init__(self, words: np.ndarray) -> None:
        self.decoder = constriction.stream.queue.RangeDecoder(words) if len(words) else None

    def flags(self, k: int, n: int) -> np.ndarray:
        if k in (0, n):
            return np.full(n, k == n and n > 0)
        assert self.decoder is not None
        return np.asarray(self.decoder.decode(_bernoulli(k, n), n), dtype=bool)

    def values(self, k: int, n_buckets: int) -> np.ndarray:
        assert self.decoder is not None
        model = AdaptiveCategorical(2 * n_buckets)
        symbols = []
        for _ in range(k):
            symbol = int(self.decoder.decode(model.model()))
            model.update(symbol)
            symbols.append(symbol)
        sym = np.asarray(symbols, dtype=np.int64)
        negative, buckets = sym >= n_buckets, sym % n_buckets + 1
        n_low = int((buckets - 1).sum())
        low = (
            np.asarray(self.decoder.decode(_FAIR_BIT, n_low), dtype=np.int64)
            if n_low
            else np.zeros(0, dtype=np.int64)
        )
        magnitude, pos = np.empty(k, dtype=np.int64), 0
        for i, b in enumerate(buckets):
            m = 1
            for bit in low[pos : pos + b - 1]:
                m = (m << 1) | int(bit)
            pos += b - 1
            magnitude[i] = m
        return np.where(negative, -magnitude, magnitude)


def decode_model(data: bytes) -> nn.Module:
    """Rebuild the model from an encoded file's bytes; checks the format and the CRC32."""
    if len(data) < _PREFIX.size:
        raise MdlkitError("not an mdlkit weight file: too short")
    magic, version = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise MdlkitError("not an mdlkit weight file: bad magic bytes")
    if version != FORMAT_VERSION:
        raise MdlkitError(
            f"weight file format {version} is not supported (this mdlkit reads "
            f"{FORMAT_VERSION}); use the mdlkit version that wrote it"
        )
    length, pos = _get_varint(data, _PREFIX.size)
    try:
        spec_dict = json.loads(data[pos : pos + length])
    except ValueError:
        raise MdlkitError("weight file header is corrupt") from None
    pos += length
    if pos + 4 > len(data):
        raise MdlkitError("weight file is truncated: its header ends early")
    (step,) = struct.unpack_from("<f", data, pos)
    n_tensors, pos = _get_varint(data, pos + 4)
    table = []
    for _ in range(n_tensors):
        row = []
        for _ in range(4):
            value, pos = _get_varint(data, pos)
            row.append(value)
        table.append(row)
    if pos + 4 > len(data):
        raise MdlkitError("weight file is truncated: its header ends early")
    (crc,) = struct.unpack_from("<I", data, pos)
    payload = data[pos + 4 :]
    if len(payload) % 4:
        raise MdlkitError("weight file is truncated: payload is not whole 32-bit words")
    reader = _Reader(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
    step = float(step)
    try:
        model = ModelSpec.from_dict(spec_dict).build()
    except (KeyError, TypeError):
        raise MdlkitError("weight file header names no buildable model") from None
    if len(table) != len(list(model.parameters())):
        raise MdlkitError("weight file header does not match its model's tensors")
    dequantized: list[torch.Tensor] = []
    for (_, p), (k, r, c, n_buckets) in zip(model.named_parameters(), table, strict=True):
        rows, cols = _matrix(tuple(p.shape))
        nz = np.zeros((rows, cols), dtype=bool)
        if cols > 1:
            live_rows, live_cols = reader.flags(r, rows), reader.flags(c, cols)
            sub = reader.flags(k, r * c).reshape(r, c)
            nz[np.ix_(live_rows, live_cols)] = sub
        else:
            nz[:, 0] = reader.flags(k, rows)
        grid = np.zeros((rows, cols), dtype=np.int64)
        if k:
            grid[nz] = reader.values(k, n_buckets)
        tensor = _dequantize(torch.from_numpy(grid).reshape(p.shape), step)
        dequantized.append(tensor)
        with torch.no_grad():
            p.copy_(tensor)
    if _crc(dequantized) != crc:
        raise MdlkitError("weight file failed its checksum: the decoded weights differ")
    return model


def read_model(path: str | Path) -> nn.Module:
    """Decode a weight file from disk."""
    path = Path(path)
    if not path.is_file():
        raise MdlkitError(f"weight file not found: {path}")
    return decode_model(path.read_bytes())
