"""What a block is made of: the period of tables (none in text, lines or noise), and markup."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdlkit.compression.context_mixing import N_CONTEXTS, N_RECORD, new_state, state_layout
from mdlkit.compression.online import OnlineCoder, table_bits_for
from mdlkit.compression.structure import agreement, candidates, looks_like_markup, structure

TEXT = (Path(__file__).parents[2] / "docs" / "architecture.md").read_bytes()
LINES = b"".join(b"%d: the quick brown fox jumps over the lazy dog %d times\n" % (i, i * i % 97)
                 for i in range(400))  # fmt: skip
CSV = b"".join(b"%d,%s,%.2f\n" % (i, random.Random(i).choice([b"ann", b"bob"]), i * 0.37)
               for i in range(2000))  # fmt: skip


def test_agreement_is_the_fraction_of_bytes_equal_to_the_one_d_before() -> None:
    data = bytes([1, 2, 1, 2, 1, 3, 1, 2, 1, 2, 1, 2])
    rates = agreement(data)
    x = list(data)
    for d in range(1, len(rates)):
        same = sum(x[i] == x[i - d] for i in range(d, len(x)))
        assert rates[d] == pytest.approx(same / (len(x) - d))
    assert len(rates) == len(x) // 4 + 1 and rates[0] == 1.0


@settings(max_examples=20, deadline=None)
@given(width=st.integers(2, 300), seed=st.integers(0, 2**16))
def test_records_with_a_constant_field_and_random_fields_are_found(width: int, seed: int) -> None:
    """Records of ``width`` bytes: a constant tag in the first bytes, the rest random. The
    shortest period is the width itself (its multiples agree as well, not better)."""
    rng = random.Random(seed)
    tag = bytes(rng.randrange(256) for _ in range(max(1, width // 2)))
    rows = [tag + rng.randbytes(width - len(tag)) for _ in range(max(40, 8000 // width))]
    assert structure(b"".join(rows)) == (width, False)


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        random.Random(0).randbytes(50_000),
        bytes(10_000),
        LINES,
        CSV,
        b"ab",
        b"",
    ],
    ids=["text", "noise", "zeros", "lines-of-similar-length", "csv", "tiny", "empty"],
)
def test_text_lines_noise_and_constant_bytes_show_no_records(data: bytes) -> None:
    assert candidates(data) == [] and structure(data, _cost) == (0, False)


def _cost(sample: bytes, record: int, markup: bool = False) -> int:
    coder = OnlineCoder(1, None, table_bits_for(len(sample)), record, markup)
    return len(coder.encode(sample).payload)


def test_images_row_by_row_have_the_row_as_their_record() -> None:
    """Smooth 24×24 images (blobs on a dark background), row after row: pixels two apart agree
    often too, so 2 and 24 are candidates; coding a sample with each (and without records)
    picks the 24-byte row, and that sample's code is the shortest of the three."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:24, 0:24]
    images = []
    for _ in range(60):
        cy, cx, r = rng.uniform(6, 18), rng.uniform(6, 18), rng.uniform(3, 7)
        blob = np.clip(255 * (1 - ((yy - cy) ** 2 + (xx - cx) ** 2) / r**2), 0, 255)
        images.append((blob // 16 * 16).astype(np.uint8))
    data = np.stack(images).tobytes()
    assert 24 in candidates(data) and structure(data, _cost) == (24, False)
    sample = data[: 1 << 14]
    assert _cost(sample, 24) < min(_cost(sample, r) for r in {0, *candidates(data)} - {24})


def test_the_record_models_take_room_only_when_a_record_length_is_set() -> None:
    """At 18 table bits each record model has 2^18 slots of 8 bytes; without records none."""
    plain, with_records, both = new_state(18), new_state(18, 40), new_state(18, 40, True)
    assert len(with_records) - len(plain) == N_RECORD * (1 << 18)
    assert len(both) - len(with_records) == 1 << 18
    assert N_CONTEXTS == 13 and state_layout(18, 40)[-1] == state_layout(18)[-1] + 3 * (1 << 18)
    with pytest.raises(ValueError, match="record length 1"):
        state_layout(18, 1)


def test_markup_is_suspected_in_html_and_xml_only() -> None:
    html = b"".join(b'<p class="x">para %d <b>bold</b></p>\n' % i for i in range(40))
    xml = b"".join(b"<row><id>%d</id><v>%d</v></row>" % (i, i * i) for i in range(40))
    assert looks_like_markup(html) and looks_like_markup(xml)
    code = b"if a < b and c > d:\n    pass\n" * 40  # comparisons: one of each per 30 bytes
    assert not looks_like_markup(TEXT) and not looks_like_markup(CSV)
    assert looks_like_markup(code)  # suspected only: the trial decides
    assert not looks_like_markup(html[:300]) and not looks_like_markup(bytes(range(256)) * 8)


def test_the_trial_keeps_the_shorter_of_markup_on_and_off() -> None:
    html = b"".join(
        b'<li><a href="/doc/%d.html">chapter %d</a></li>\n' % (i, i) for i in range(200)
    )
    record, markup = structure(html, _cost)
    sample = html[: 1 << 14]
    assert record == 0 and markup == (_cost(sample, 0, True) < _cost(sample, 0, False))
