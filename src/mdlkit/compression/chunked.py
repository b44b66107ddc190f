"""Baselines in the papers' conventions: every chunk of a file compressed on its own.

The DRR paper (Barth & von Petersenn 2025, Tab. 3) compares its transformers, which code
512-byte chunks independently, with classical compressors run the same way: each 512-byte chunk
compressed by a fresh LZMA2 in the xz container at the default preset, and by zstd at level 19,
each chunk paying its whole container. "Language Modeling Is Compression" (Delétang et al. 2024)
uses 2048-byte chunks and counts the container once: the raw LZMA2 streams of the chunks plus
one container's overhead. Both are far weaker than one compressor over the whole file, which
sees the file's long-range repetitions; :func:`chunked_sizes` reports both beside each other.

>>> sizes = chunked_sizes(bytes(4096), zstd=False)
>>> sizes["lzma2_512"]["chunks"], sizes["lmic_lzma2_2048"]["chunks"]
(8, 2)
"""

from __future__ import annotations

import lzma
from typing import Any

__all__ = ["chunked_sizes", "lmic_lzma2_bytes", "per_chunk_bytes"]

PAPER_CHUNK = 512
LMIC_CHUNK = 2048
_RAW_LZMA2 = [{"id": lzma.FILTER_LZMA2, "preset": lzma.PRESET_DEFAULT}]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def per_chunk_bytes(data: bytes, size: int, compress: Any) -> int:
    """Σ len(compress(chunk)) over the chunks of ``size`` bytes (the last one shorter): every
    chunk its own container."""
    return sum(len(compress(chunk)) for chunk in _chunks(data, size))


def lmic_lzma2_bytes(data: bytes, size: int = LMIC_CHUNK) -> int:
    """Σ raw LZMA2 bytes of the chunks plus one xz container's overhead (the xz file of the
    first chunk minus its raw stream): the container counted once."""
    chunks = _chunks(data, size)
    if not chunks:
        return len(lzma.compress(b""))
    raw = [len(lzma.compress(c, format=lzma.FORMAT_RAW, filters=_RAW_LZMA2)) for c in chunks]
    container = len(lzma.compress(chunks[0])) - raw[0]
    return sum(raw) + container


def chunked_sizes(data: bytes, *, zstd: bool = True) -> dict[str, dict[str, Any]]:
    """The papers' baselines of ``data`` in bytes, by key: ``lzma2_512`` (xz container, default
    preset, per 512-byte chunk), ``zstd_512`` (level 19 per chunk; only if ``zstandard``
    imports), ``lmic_lzma2_2048`` (raw LZMA2 per 2048-byte chunk, the container once)."""
    sizes = {
        "lzma2_512": {
            "label": "LZMA2 per 512 B (xz, default preset; paper)",
            "bytes": per_chunk_bytes(data, PAPER_CHUNK, lzma.compress),
            "chunks": len(_chunks(data, PAPER_CHUNK)),
        },
        "lmic_lzma2_2048": {
            "label": "LZMA2 per 2048 B, container once (LMIC)",
            "bytes": lmic_lzma2_bytes(data),
            "chunks": len(_chunks(data, LMIC_CHUNK)),
        },
    }
    if zstd:
        try:
            import zstandard
        except ImportError:
            return sizes
        compressor = zstandard.ZstdCompressor(level=19)
        sizes["zstd_512"] = {
            "label": "zstd -19 per 512 B (paper)",
            "bytes": per_chunk_bytes(data, PAPER_CHUNK, compressor.compress),
            "chunks": len(_chunks(data, PAPER_CHUNK)),
        }
    return sizes
