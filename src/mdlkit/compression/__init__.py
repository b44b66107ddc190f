"""Networks and context models as real lossless compressors of files.

:func:`compress` / :func:`decompress` (bytes) and :func:`compress_stream` /
:func:`decompress_stream` (files, bounded memory) make and read ``.mdlz`` archives
(:mod:`~mdlkit.compression.archive`): the online mode codes with a context-mixing predictor
that learns as it goes (:mod:`~mdlkit.compression.online`), the two-part mode stores a pruned,
quantized byte transformer and codes the data with it (:mod:`~mdlkit.compression.two_part`).
"""

from mdlkit.compression.compressor import (
    LEVELS,
    MODES,
    Summary,
    compress,
    compress_stream,
    decompress,
    decompress_stream,
)

__all__ = [
    "LEVELS",
    "MODES",
    "Summary",
    "compress",
    "compress_stream",
    "decompress",
    "decompress_stream",
]
