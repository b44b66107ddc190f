"""The classical compressors mdlkit is measured against, by name, and the process that times one.

:data:`BASELINES`: gzip -9 (zlib level 9), bzip2 -9, xz -9e (lzma preset 9 | PRESET_EXTREME),
zstd -19 (``zstandard``), brotli -11 (``brotli``) and PPMd (``pyppmd``). :func:`codec` makes
any of them, or mdlkit's own compressor (``"mdlkit"``), as a pair ``(compress, decompress)`` of
functions bytes → bytes, importing its library only then; an optional library that is missing
(``pip install 'mdlkit[bench]'``) raises ImportError there, and :func:`unavailable` says so.

A PPMd archive is pyppmd's stream after a small header: the order, the model memory in MiB
(varint) and, for variant H (7-zip's PPMd7, which has no end marker), the length (varint).

Run as a script (``python -P baselines.py JOB``), this module is the fresh process in which
:mod:`mdlkit.compression.benchmark` times one compress or decompress call. It is run by path,
not with ``-m``, and imports only the standard library at the top: ``-m`` would first import
the mdlkit package (torch, numba), whose hundreds of MB would then sit in every baseline's
peak memory. Only the ``"mdlkit"`` codec imports mdlkit, inside the measured process.

>>> compress, decompress = codec("gzip")
>>> archive = compress(b"abracadabra" * 10)
>>> len(archive), decompress(archive) == b"abracadabra" * 10
(21, True)
>>> varint(300), read_varint(varint(300), 0)
(b'\\xac\\x02', (300, 2))
"""

from __future__ import annotations

# The standard library only, and little of it: the child's peak memory is the interpreter's
# plus the measured compressor's (typing and dataclasses would add about 2 MB).
import json
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]
    """``(compress, decompress)``, each bytes → bytes."""

__all__ = [
    "BASELINES",
    "BENCH_EXTRA",
    "PPMD_VARIANTS",
    "codec",
    "library_versions",
    "ppmd_stream",
    "read_varint",
    "unavailable",
    "varint",
]

BENCH_EXTRA = "pip install 'mdlkit[bench]'"
PPMD_VARIANTS = {"H": "7-zip's PPMd7", "I": "PPMd8, pyppmd's default"}

# key → (label in tables, the library it needs; None: Python's standard library)
BASELINES: dict[str, tuple[str, str | None]] = {
    "gzip": ("gzip -9", None),
    "bzip2": ("bzip2 -9", None),
    "xz": ("xz -9e", None),
    "zstd": ("zstd -19", "zstandard"),
    "brotli": ("brotli -11", "brotli"),
    "ppmd": ("PPMd", "pyppmd"),
}


def varint(n: int) -> bytes:
    """``n`` ≥ 0 in 7-bit groups, lowest first; the high bit marks that more follow."""
    out = bytearray()
    while True:
        n, low = n >> 7, n & 0x7F
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The :func:`varint` at ``buf[pos:]`` and the position after it."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def ppmd_stream(data: bytes, order: int, memory_mb: int, variant: str = "I") -> bytes:
    """pyppmd's stream of ``data`` with no header: variant I (PPMd8, with an end marker) as
    ``pyppmd.compress`` writes it, or variant H (PPMd7, no end marker). Needs pyppmd."""
    import pyppmd

    if variant == "H":
        encoder = pyppmd.Ppmd7Encoder(order, memory_mb << 20)
        return encoder.encode(data) + encoder.flush()
    return pyppmd.compress(data, max_order=order, mem_size=memory_mb << 20, variant="I")


def _ppmd(params: dict[str, Any]) -> Codec:
    import pyppmd

    def compress(data: bytes) -> bytes:
        order, mb, variant = params["order"], params["memory_mb"], params["variant"]
        length = varint(len(data)) if variant == "H" else b""
        return bytes([order]) + varint(mb) + length + ppmd_stream(data, order, mb, variant)

    def decompress(archive: bytes) -> bytes:
        order, (mb, pos) = archive[0], read_varint(archive, 1)
        if params["variant"] == "H":
            n, pos = read_varint(archive, pos)
            return pyppmd.Ppmd7Decoder(order, mb << 20).decode(archive[pos:], n)
        out = pyppmd.decompress(archive[pos:], max_order=order, mem_size=mb << 20, variant="I")
        assert isinstance(out, bytes)  # typed bytes | str: str only when an encoding is asked for
        return out

    return compress, decompress


def _gzip(params: dict[str, Any]) -> Codec:
    import zlib

    return (lambda d: zlib.compress(d, 9)), zlib.decompress


def _bzip2(params: dict[str, Any]) -> Codec:
    import bz2

    return (lambda d: bz2.compress(d, 9)), bz2.decompress


def _xz(params: dict[str, Any]) -> Codec:
    import lzma

    return (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME)), lzma.decompress


def _zstd(params: dict[str, Any]) -> Codec:
    import zstandard

    return (
        lambda d: zstandard.ZstdCompressor(level=19).compress(d),
        lambda a: zstandard.ZstdDecompressor().decompress(a),
    )


def _brotli(params: dict[str, Any]) -> Codec:
    import brotli

    return (lambda d: brotli.compress(d, quality=11)), brotli.decompress


def _mdlkit(params: dict[str, Any]) -> Codec:
    from mdlkit.compression.compressor import compress, decompress

    def compress_unverified(data: bytes) -> bytes:
        return compress(data, mode=params["mode"], level=params["level"], verify=False)

    return compress_unverified, decompress


_CODECS: dict[str, Callable[[dict[str, Any]], Codec]] = {
    "gzip": _gzip,
    "bzip2": _bzip2,
    "xz": _xz,
    "zstd": _zstd,
    "brotli": _brotli,
    "ppmd": _ppmd,
    "mdlkit": _mdlkit,
}


def codec(key: str, params: dict[str, Any] | None = None) -> Codec:
    """``(compress, decompress)`` of a key of :data:`BASELINES` or ``"mdlkit"``. ``params``:
    PPMd's ``order``, ``memory_mb`` and ``variant``; mdlkit's ``mode`` and ``level`` (read when
    called). Raises ImportError if the compressor's library does not import."""
    return _CODECS[key](params or {})


def unavailable(key: str) -> str | None:
    """Why :func:`codec` cannot make ``key`` (``"ImportError: ..."``), or None if it can."""
    try:
        codec(key)
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def library_versions() -> dict[str, str]:
    """Versions of Python and of every compression library (``"not installed"`` if absent);
    bz2 and lzma report none."""
    import platform
    import zlib

    import torch

    from mdlkit import __version__

    versions = {"python": platform.python_version(), "zlib": zlib.ZLIB_RUNTIME_VERSION}
    for key in ("zstd", "brotli", "ppmd"):
        library = str(BASELINES[key][1])
        missing = unavailable(key) is not None  # else codec() has imported the library
        versions[library] = "not installed" if missing else sys.modules[library].__version__
    return {**versions, "torch": str(torch.__version__), "mdlkit": __version__}


def high_water_kb() -> int | None:
    """This process's peak resident memory in KiB (VmHWM; None where /proc is missing). Not
    ru_maxrss: Linux carries the parent's peak over into a child's ru_maxrss across fork and
    exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main(argv: list[str]) -> int:
    """The child: ``argv[0]`` is a JSON job (``op``: compress or decompress, ``codec``,
    ``params``, ``input``, ``output``, ``repeats``). Reads the input, times only the call (the
    fastest of ``repeats``), writes its output and prints one JSON line: ``seconds``,
    ``ready_kb`` (peak before the call) and ``peak_kb``; or ``missing`` (exit 3) or ``error``."""
    job = json.loads(argv[0])
    try:
        compress, decompress = codec(job["codec"], job["params"])
    except ImportError as exc:
        print(json.dumps({"missing": str(exc)}))
        return 3
    call = compress if job["op"] == "compress" else decompress
    with open(job["input"], "rb") as f:
        data = f.read()
    ready_kb = high_water_kb()
    best = float("inf")
    out = b""
    try:
        for _ in range(job["repeats"]):
            out = b""  # the previous repeat's output is not kept alive during the next call
            start = time.perf_counter()
            out = call(data)
            best = min(best, time.perf_counter() - start)
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__ + ": " + str(exc)}))
        raise
    with open(job["output"], "wb") as f:
        f.write(out)
    print(json.dumps({"seconds": best, "ready_kb": ready_kb, "peak_kb": high_water_kb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
