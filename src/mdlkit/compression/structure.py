"""What a block is made of: fixed-length records (their length turns the record models on) or
markup (which turns the markup model on).

A table of fixed-length records (a database dump, an array of structs, raw images row by row)
repeats itself every R bytes: the byte one record back, in the same field, predicts the next one
far better than the previous bytes do. The encoder measures, on the block's first
:data:`SAMPLE_BYTES`, the agreement rate

    a(d) = #{i : x[i] = x[i − d]} / (n − d)    for d = 1 … min(LONGEST, n / 4),

and its excess over chance, e(d) = (a(d) − c) / (1 − c), where c = Σ_b p(b)² over the sample's
byte frequencies p is how often two independent bytes agree. Records are suspected when the best
distance D (d ≥ 2) has e(D) ≥ :data:`WEAK`, unless the sample is text (at least 90 % printable
ASCII, tabs and line ends) with a newline per two D bytes or more: lines of about D bytes, which
the column model (position in the line, byte above) already follows without losing its place
when a line is a byte longer.

The candidates are D and the shortest divisor of D whose excess is at least half of e(D) (a
table whose fields repeat with different periods agrees best many records back, e.g. at 20
records of 16 bytes, but its record is 16 bytes; a smooth image agrees well 2 pixels apart,
though its record is the row). The rate alone cannot tell these apart, so the encoder codes the
block's first :data:`TRIAL_BYTES` with each candidate and without records and keeps the
shortest (a few tenths of a second per block, paid only when records are suspected). The length
is recorded in the block's record of the archive: the decoder needs no guess.

Markup is suspected in text with at least one ``<`` and one ``>`` per :data:`MARKUP_SPACING`
bytes; the markup model (the last tag's name, the place in a tag, the previous byte) is then
tried on the same sample, with each record candidate, and kept where it codes shorter.

Measured (``benchmarks/structured_data.py``): excess 0.01–0.02 on English text, 0.54 on a table
of 32-byte records, 0.48 on MNIST's 28-pixel rows; a CSV of short lines (0.20) and lines of
57–58 bytes are refused as text (coding either as records cost 2–6 %).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "LONGEST",
    "MARKUP_SPACING",
    "SAMPLE_BYTES",
    "TRIAL_BYTES",
    "agreement",
    "candidates",
    "looks_like_markup",
    "structure",
]

SAMPLE_BYTES = 1 << 16  # bytes of the block measured (about 30 ms of numpy)
TRIAL_BYTES = 1 << 14  # bytes of the block coded per candidate
LONGEST = 2048  # the longest record looked for
WEAK = 0.08
MARKUP_SPACING = 100


def agreement(sample: bytes, longest: int = LONGEST) -> np.ndarray:
    """a(d) for d = 0 … min(longest, n // 4) (a(0) = 1): the fraction of bytes equal to the byte
    d before them."""
    x = np.frombuffer(sample, dtype=np.uint8)
    top = min(longest, len(x) // 4)
    rates = np.ones(top + 1)
    for d in range(1, top + 1):
        rates[d] = np.count_nonzero(x[d:] == x[:-d]) / (len(x) - d)
    return rates


def _is_text(counts: np.ndarray) -> bool:
    """Whether at least 90 % of the bytes counted are printable ASCII, tabs or line ends."""
    text = int(counts[32:127].sum() + counts[9] + counts[10] + counts[13])
    return text >= 0.9 * int(counts.sum())


def candidates(block: bytes) -> list[int]:
    """The record lengths worth trying for ``block`` (2 … LONGEST), shortest first; none if it
    shows no records.

    >>> candidates(bytes(range(40)) * 100), candidates(bytes(1000))
    ([40], [])
    """
    sample = block[:SAMPLE_BYTES]
    rates = agreement(sample)
    if len(rates) < 3:
        return []
    counts = np.bincount(np.frombuffer(sample, dtype=np.uint8), minlength=256)
    chance = float(((counts / len(sample)) ** 2).sum())
    if chance >= 1.0:  # every byte equal: nothing to find, the other models see it
        return []
    excess = (rates - chance) / (1.0 - chance)
    best = int(np.argmax(excess[2:])) + 2
    if excess[best] < WEAK:
        return []
    if 2 * sample.count(b"\n") * best >= len(sample) and _is_text(counts):  # lines
        return []
    shortest = next(d for d in range(2, best + 1) if best % d == 0 and
                    excess[d] >= 0.5 * excess[best])  # fmt: skip
    return sorted({shortest, best})


def looks_like_markup(block: bytes) -> bool:
    """Whether ``block`` may be markup (HTML, XML): text with at least one ``<`` and one ``>``
    per :data:`MARKUP_SPACING` bytes of its sample."""
    sample = block[:SAMPLE_BYTES]
    if len(sample) < 4 * MARKUP_SPACING:
        return False
    counts = np.bincount(np.frombuffer(sample, dtype=np.uint8), minlength=256)
    return min(int(counts[60]), int(counts[62])) * MARKUP_SPACING >= len(sample) and _is_text(
        counts
    )


Cost = Callable[[bytes, int, bool], int]


def structure(block: bytes, cost: Cost | None = None) -> tuple[int, bool]:
    """(record length, markup model on) to code ``block`` with. ``cost(sample, record,
    markup)`` is the coded size of ``sample`` so; with it every suspected combination (and the
    plain one) is tried on the block's first TRIAL_BYTES and the shortest kept, without it the
    shortest record candidate and the markup guess are taken.

    >>> html = b"".join(b"<p>item %d, %s</p>\\n" % (i, b"x" * (i % 5)) for i in range(60))
    >>> structure(bytes(range(40)) * 100), structure(html)
    ((40, False), (0, True))
    """
    found = candidates(block)
    markup = looks_like_markup(block)
    if cost is None:
        return (found[0] if found else 0), markup
    options = [(r, m) for r in (0, *found) for m in ((False, True) if markup else (False,))]
    if len(options) == 1:
        return options[0]
    sample = block[:TRIAL_BYTES]
    sizes = {option: cost(sample, *option) for option in options}
    return min(options, key=lambda option: (sizes[option], option))
