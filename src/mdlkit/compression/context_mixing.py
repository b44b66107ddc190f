"""A context-mixing bit predictor in integer arithmetic (the count-based half of the online code).

Each byte is coded as 8 binary decisions, most significant bit first. For every bit, thirteen
context models each look up a slot in a hashed table, keyed by the bits of the current byte seen
so far (``c0``) and a context: the previous 0, 1, 2, 3, 4, 5, 6 and 8 bytes, the current word,
the word pair, the word triple, a sparse context (bytes 2-3 back) and a column context (the
position in the line and the byte above it in the previous line, for text laid out in lines). A
block may turn on four more (:mod:`~mdlkit.compression.structure` decides, the archive records
it): a markup model (the last tag's name, the place in a tag, the previous byte) and three
record models for fixed-length records of R bytes (the byte R back and the position in the
record; with the previous byte; with the byte 2R back). A slot holds two adaptive probabilities
(one averaging, one following recent bits) and a bit history (the last bit, its run, whether the
other bit was seen); each model gives the mixers three inputs: the two probabilities and the
probability an adaptive state map assigns to the (bit history, count) of the slot. A match model
predicts the bit of the byte that followed the last occurrence of the previous 6 bytes. An
optional outside input (a neural network's probability for the bit) joins them. Four logistic
mixers combine the stretched probabilities ``st(p) = ln(p / (1 − p))`` with weights selected by
the partial byte, by the longest context seen before and the match, by the previous byte and by
the byte before it (in a block of records: by the position in the record); each weight set
learns fast while it is young. A final mixer combines the four, and three adaptive probability
maps (SSE, in the contexts order 1, order 2 and the match state) refine the result.

That is predictor cm1. Predictor cm2 (:data:`PREDICTORS`, chosen per state and recorded in the
archive) adds six context models (the bytes that followed the last two bytes, the classes of the
last 8 bytes, the word with the word two back, the word with the bytes before it, the last word
with the last byte, the match model's expected byte), a fourth input per model (the last byte
seen in the context and how often in a row: its run), four mixers (weight sets by the match
length, the classes of the last two bytes, the word slot's bit history, the orders seen) and two
APMs (the current word, the last three bytes). Predictor cm3 adds to cm2 eight models of where
the text is rather than what it says: the column alone; the previous line's length with the
column; the line's first byte with the column; the classes of the four bytes before the last
with the last byte, and with the last two; the last six letters (whatever separates them); the
quote or bracket the text is in (a quote opened by a backtick is closed by an apostrophe that
no letter follows) with the current word, and with the last three bytes. It selects the first
mixer's weights by the partial byte and the last byte's class, skips a mixer's update when its
error is within 17/4096, lets its weight sets slow down sooner (SETK3) and every slot's second
counter move 1/32 of the way (FAST_SHIFT3: a second, slower average; the bit history already
tells recency). Predictor cm4 adds to cm3 an order-12 context model (the last 12 bytes), three
mixers whose weight sets are chosen by the partial byte hashed with the classes of the last four
bytes, with the quote and the last byte's class, and with the current word (2^11 to 2^13 sets,
by the table size), and three APMs (the classes of the last four bytes with the quote, the
classes of the last six, the word pair). Predictor cm5 adds to cm4 eight models of words and
paragraphs: what followed the current token last time (a token is a word's letters so far, or
the gap since the last word; the table keeps the last two bytes after each: paq8px's indirect
word context), alone and with the last two bytes; the paragraph's first word (after a blank
line: in a play, the speaker) with the current word; the current word alone, and in the current
kilobyte of the input; the line so far; the character groups of the last four bytes; the phrase
(the words since the last punctuation, up to five, case folded). Its contexts may take four
places in a table rather than two. Each predictor has its own compiled copy of the per-bit step
(cm5 shares cm4's: the layout tells it the rest), so the earlier predictors' arithmetic is
untouched.

Everything is integer arithmetic on fixed-size tables (probabilities in 12 bits, stretch in
1/256 logit units clamped to ±2047, weights in 16.16 fixed point), so an encoder and a decoder
on any machine compute bit-identical probabilities. The tables are sized once per input, before
its first byte (:func:`state_layout`: ``table_bits`` from MIN_TABLE_BITS to TABLE_BITS, recorded
in the archive so that the decoder makes the same), and do not grow with it: at the largest size
(:data:`CONTEXT_BITS`: 2^22 or 2^23 slots of 8 bytes per model) the whole state is ≈ 465 MiB
(cm2: 691 MiB, cm3: 932 MiB, cm4: 1,088 MiB, cm5: 1,368 MiB; the markup and record models add
128 MiB), at 18 bits (an input of 5 KB) 38.1 MB (cm2: 54.5 MB, cm3: 86.5 MB, cm4: 98.8 MB, cm5:
123.5 MB). The kernels read the sizes from the state itself, so one compiled kernel serves every
size. A table is kept in groups of 16 slots, the 15 bits of one nibble's context; a context may
sit in either of two neighbouring groups (cm5: any of four), and a new one replaces the least
used.

The same kernels serve both sides: :func:`predict_many` fills the probability that the next bit
is 1 for every active segment, :func:`update_many` learns from the bits (:func:`step_one` does
both for one segment, :func:`run_known` runs the steps of known data); :func:`encode_steps`
and :func:`decode_steps` run a slice of a block with the binary coder inside the loop (archive
format 4: decoding as fast as encoding), the older formats' decoder calls them around each bit.
Segments are independent byte streams coded in lockstep (segment k covers
``data[k·L : (k+1)·L]``); they share every table, so statistics from one help all.
"""

from __future__ import annotations

import numpy as np

from mdlkit.compression.binary_coder import decode_bit, encode_bit
from mdlkit.compression.jit import njit

__all__ = [
    "MIN_TABLE_BITS",
    "N_INPUTS",
    "PREDICTORS",
    "TABLE_BITS",
    "decode_steps",
    "encode_steps",
    "new_lanes",
    "new_state",
    "predict_many",
    "run_known",
    "squash",
    "state_layout",
    "step_one",
    "stretch",
    "table_bits_of",
    "update_many",
]

# Every kernel, and every constant and table a kernel reads, stays in this one file: numba
# compiles globals in as constants, and its on-disk cache (cache=True) is invalidated only when
# the kernel's own source file changes, so a value kept in another module could change (and with
# it the archives' bytes) without the cached kernels noticing.
# The arithmetic's names (archives record them) → versions.
PREDICTORS = {"cm1": 1, "cm2": 2, "cm3": 3, "cm4": 4, "cm5": 5}
TABLE_BITS = 22  # the largest size (and the size of archives that do not record one)
MIN_TABLE_BITS = 12
# Each model's table size (log2 slots) at TABLE_BITS: orders 0-1 need few, the word models most.
# After the N_CONTEXTS models every block uses come the markup model (MARKUP) and the N_RECORD
# record models, given tables only in a block that turns them on, then cm2's N_EXTRA models,
# cm3's N_TEXT (the column alone has as few contexts as order 1), cm4's LONG and cm5's N_WORDS.
CONTEXT_BITS = np.array(
    [16, 18, 22, 22, 22, 22, 22, 22, 23, 23, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22,
     18, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22],
    dtype=np.int64,
)  # fmt: skip
N_CONTEXTS = 13  # orders 0-6, order 8, word, word pair, sparse, word triple, column
MARKUP = N_CONTEXTS  # the markup model: (tag name, place in the tag, previous byte)
N_RECORD = 3  # record models: (column, byte above), + the byte before, + the byte two above
RECORD0 = MARKUP + 1
# Predictor cm2's six more: the bytes that followed the last two bytes (indirect), the classes
# of the last 8 bytes, word + the word two back, word + the bytes before it, last word + byte,
# the byte the match model expects with its length and the last byte.
EXTRA0 = RECORD0 + N_RECORD
N_EXTRA = 6
# Predictor cm3's eight more (see the module's docstring): the column; the previous line's
# length + column; the line's first byte + column; 4 classes + byte; the last 6 letters;
# 4 classes + 2 bytes; quote + word; quote + 3 bytes.
TEXT0 = EXTRA0 + N_EXTRA
N_TEXT = 8
LONG = TEXT0 + N_TEXT  # cm4: the last 12 bytes
# Predictor cm5's eight (see :func:`_word_contexts`): what followed the current token (a word's
# letters so far, or the gap since the last word), alone and with the last two bytes; the
# paragraph's first word with the current word; the current word alone, and in this kilobyte of
# the input; the line so far; the character groups of the last four bytes; the phrase (the words
# since the last punctuation, up to five).
WORDS0 = LONG + 1
N_WORDS = 8
N_MODELS = WORDS0 + N_WORDS
MAX_RECORD = 1 << 16  # the longest record length a block may declare
MATCH_MIN = 6  # bytes of context the match model hashes
MATCH_BITS = 20
# Inputs of the first mixers: the match model, an outside model and a bias (0, 1, 2), then PER
# per context model i (3 + PER·i: its slow counter, 4 + PER·i: fast counter, 5 + PER·i: state
# map; cm2 adds 6 + PER·i: its run, the last byte seen in the context); PER is 3 in cm1, 4 in
# cm2 to cm5. The inputs of models that are off (markup, records, or another predictor's)
# stay 0 (integer sums: the inputs' order and the unused ones change no bit of the result).
N_INPUTS = 4 * N_MODELS + 3
N_MIXERS = 11  # cm4's and cm5's; cm1 uses the first 4, cm2 and cm3 the first 8
N_MIXERS1 = 4
N_MIXERS2 = 8
APM_RATE = 5
N_APM = 8  # cm4's and cm5's; cm1 uses the first 3, cm2 and cm3 the first 5
N_APM1 = 3
N_APM2 = 5
FRESH = (1 << 53) | (1 << 31)  # a counter slot never seen: both probabilities ½, count 0
FAST_SHIFT = 2  # the second counter of every slot moves 1/4 of the way: recency
FAST_SHIFT3 = 5  # cm3: 1/32 of the way (a slower average: the bit history tells recency)
MIX_SKIP3 = 17  # cm3: a mixer learns nothing from an error within 17/4096

# Per-segment scalar state, columns of the int64 array ``seg``.
C0, C4, C8, WORD, PREV_WORD, MATCH_PTR, MATCH_LEN, POS, BITPOS, WORD2, LINE0, LINE1 = range(12)
TAG, IN_TAG = 12, 13  # markup only: the hash of the last tag's name, where in a tag we are
CLASSES, WORD_SEP = 14, 15  # cm2: the last 8 bytes' classes, the 2 bytes before the word
LETTERS, QUOTE = 16, 17  # cm3: the last 6 letters (5 bits each), the quote or bracket we are in
HASH0 = 18  # columns HASH0 .. HASH0 + N_MODELS - 1: each model's context hash for this byte
BASE0 = HASH0 + N_MODELS  # each model's slot group for the current nibble (16 slots)
RUN0 = BASE0 + N_MODELS  # cm2: each model's group of the byte's first nibble (holds the run)
# cm5: the gap since the last letter (hashed), the current token (the word or that gap, hashed),
# the line so far (hashed), the paragraph's first word, 1 from a blank line until the next word
# ends, 1 once the line has more than white space, the character groups of the last four bytes,
# the phrase's words (PHRASE: the current one's letters so far, then the four before it).
GAP = RUN0 + N_MODELS
TOKEN, LINE_HASH, PARA_WORD, PARA_NEW, LINE_TEXT, GROUPS = range(GAP + 1, GAP + 7)
PHRASE = GAP + 7
N_SEG_FIELDS = PHRASE + 5
TOKEN_BITS = 18  # cm5: the token table's size (log2 entries), after the indirect table's 2^16


def _squash_table() -> np.ndarray:
    """squash(x) = 4096 / (1 + e^(−x/256)) for x in −2047..2047, by integer interpolation of
    33 points (paq's table), so every machine builds the same table."""
    points = np.array(
        [1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549, 2994,
         3348, 3607, 3785, 3901, 3975, 4024, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094],
        dtype=np.int64,
    )  # fmt: skip
    x = np.arange(-2047, 2048, dtype=np.int64)
    w = x & 127
    i = (x >> 7) + 16
    return (points[i] * (128 - w) + points[np.minimum(i + 1, 32)] * w + 64) >> 7


SQUASH = _squash_table()  # index x + 2047


def _stretch_table() -> np.ndarray:
    """stretch(p) = the x whose squash(x) first reaches p, for p in 0..4095 (inverse of squash)."""
    table = np.empty(4096, dtype=np.int64)
    pi = 0
    for x in range(-2047, 2048):
        v = int(SQUASH[x + 2047])
        for p in range(pi, v + 1):
            table[p] = x
        pi = max(pi, v + 1)
    table[pi:] = 2047
    return table


STRETCH = _stretch_table()
# Adaptation rate of a counter seen n times: 1/(n + 1.1), in 1/65536 units (the first bit seen
# moves it most of the way: contexts are mostly deterministic, the state maps calibrate that).
RATE = (65536.0 / (np.arange(1024) + 1.1)).astype(np.int64)


def _byte_classes() -> np.ndarray:
    """cm2's class of each byte value: 0 a lower-case letter, 1 upper-case, 2 a digit, 3 space,
    4 newline, 5 the end of a sentence (``.!?``), 6 a pause (``,;:``), 7 anything else."""
    classes = np.full(256, 7, dtype=np.int64)
    classes[ord("a") : ord("z") + 1] = 0
    classes[ord("A") : ord("Z") + 1] = 1
    classes[ord("0") : ord("9") + 1] = 2
    classes[[32, 10]] = [3, 4]
    classes[[ord(c) for c in ".!?"]] = 5
    classes[[ord(c) for c in ",;:"]] = 6
    return classes


BYTE_CLASS = _byte_classes()


def squash(x: int) -> int:
    """The 12-bit probability of a stretched value x (1/256 logit units).

    >>> squash(0), squash(2047), squash(-2047)
    (2047, 4094, 1)
    """
    return int(SQUASH[max(-2047, min(2047, x)) + 2047])


def stretch(p: int) -> int:
    """The inverse of :func:`squash` on 12-bit probabilities.

    >>> stretch(2047), squash(stretch(3000))
    (0, 3000)
    """
    return int(STRETCH[p])


# Learning rates and count limits (part of the format: an archive decodes only with these).
LIMIT_LOW = 1020  # counters of orders 0-2 average over up to 1020 observations (near-stationary)
LIMIT_HIGH = 1020  # higher orders and words too (the fast counter tracks recency)
# First-layer weight step Δw = (x · err · lr) >> 18 (weights in 16.16, lr in 1/16 units): fast
# while a weight set is young, slower as it learns, lr = LR_MIN + LR_SPAN · 2^SETK / (2^SETK + n)
# after n updates of that set (a set chosen by a rare context keeps learning fast).
LR_MIN = 10
LR_SPAN = 128
FINAL_LR = 1
SETK = 12
SETK3 = 10  # cm3


@njit(cache=True, inline="always")
def _hash(a: np.int64, b: np.int64) -> np.int64:
    h = (a * np.int64(0x2F0F3D4B) + b * np.int64(0x6F4F2A35) + np.int64(0x1234567)) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * np.int64(0x2C1B3C6D)) & 0xFFFFFFFF
    h ^= h >> 13
    return h


@njit(cache=True, inline="always")
def _known(p: int, n: int, seg_len: int, t: int) -> bool:
    """Whether data[p] is already known to the decoder after step t (offsets 0..t of every
    segment are)."""
    return 0 <= p < n and p % seg_len <= t


@njit(cache=True)
def _byte_boundary(seg, k, byte, data, seg_len, t, match_table, lay, indirect):  # type: ignore[no-untyped-def]
    """Advance segment k's contexts past ``byte``, its byte at offset t (absolute position
    ``seg[k, POS]``); every segment's bytes at offsets 0..t are known. ``lay`` is the state's
    layout (the match table's size, the record length, the models on); ``indirect`` (cm2 and
    later) holds the last two bytes that followed each pair of bytes."""
    match_bits, record, markup = lay[L_MATCH_BITS], lay[L_RECORD], lay[L_MARKUP]
    n = data.shape[0]
    c4 = seg[k, C4]
    c8 = ((seg[k, C8] << 8) | (c4 >> 24)) & 0xFFFFFFFF
    c4 = ((c4 << 8) | byte) & 0xFFFFFFFF
    seg[k, C4] = c4
    seg[k, C8] = c8
    pos = seg[k, POS] + 1  # the position of segment k's next byte
    seg[k, POS] = pos
    seg[k, C0] = 1
    seg[k, BITPOS] = 0
    # Words: letters only, case folded.
    lower = byte | 32
    if 97 <= lower <= 122:
        if seg[k, WORD] == 0:
            seg[k, WORD_SEP] = (c4 >> 8) & 0xFFFF  # what came before the word: ", " or ". "
        seg[k, WORD] = _hash(seg[k, WORD] + 1, lower)
    elif seg[k, WORD] != 0:
        seg[k, WORD2] = seg[k, PREV_WORD]
        seg[k, PREV_WORD] = seg[k, WORD]
        seg[k, WORD] = 0
    start = pos - t - 1  # segment k's first position
    if byte == 10:
        seg[k, LINE1] = seg[k, LINE0]
        seg[k, LINE0] = pos
    col = min(pos - seg[k, LINE0], 255)
    above = seg[k, LINE1] + col
    above_byte = np.int64(data[above]) if seg[k, LINE1] >= start and above < seg[k, LINE0] else 0
    seg[k, HASH0 + 0] = 0
    seg[k, HASH0 + 1] = _hash(1, c4 & 0xFF)
    seg[k, HASH0 + 2] = _hash(2, c4 & 0xFFFF)
    seg[k, HASH0 + 3] = _hash(3, c4 & 0xFFFFFF)
    seg[k, HASH0 + 4] = _hash(4, c4)
    seg[k, HASH0 + 5] = _hash(_hash(5, c4), c8 & 0xFF)
    seg[k, HASH0 + 6] = _hash(_hash(6, c4), c8 & 0xFFFF)
    seg[k, HASH0 + 7] = _hash(_hash(7, c4), c8)
    seg[k, HASH0 + 8] = _hash(_hash(8, seg[k, WORD]), c4 & 0xFF)
    seg[k, HASH0 + 9] = _hash(_hash(9, seg[k, WORD]), seg[k, PREV_WORD])
    seg[k, HASH0 + 10] = _hash(11, c4 & 0xFFFF00)
    seg[k, HASH0 + 11] = _hash(_hash(12, seg[k, WORD]), _hash(seg[k, PREV_WORD], seg[k, WORD2]))
    seg[k, HASH0 + 12] = _hash(_hash(13, above_byte), (col << 8) | (c4 & 0xFF))
    if markup:
        _markup(seg, k, byte)
    if record > 0:
        # Fixed-length records: the byte in the same field of the record before (and the one
        # before that), at the position within the record (the block's start is column 0).
        field = pos % record
        up = np.int64(data[pos - record]) if pos - record >= start else 0
        up2 = np.int64(data[pos - 2 * record]) if pos - 2 * record >= start else 0
        seg[k, HASH0 + RECORD0] = _hash(_hash(14, up), field)
        seg[k, HASH0 + RECORD0 + 1] = _hash(_hash(15, up), (field << 8) | (c4 & 0xFF))
        seg[k, HASH0 + RECORD0 + 2] = _hash(_hash(16, up), (field << 8) | up2)
    # Match model: extend the current match, or look the last MATCH_MIN bytes up.
    length = seg[k, MATCH_LEN]
    ptr = seg[k, MATCH_PTR]
    if length > 0 and data[ptr] == byte and _known(ptr + 1, n, seg_len, t):
        length = min(length + 1, 65535)
        ptr += 1
    else:
        length = 0
    if pos - start >= MATCH_MIN:
        h = _hash(_hash(10, c4), c8 & 0xFFFF) >> (32 - match_bits)
        if length == 0:
            candidate = match_table[h]
            if candidate > 0 and _known(candidate, n, seg_len, t):
                # Check how far back the match really goes (a hash hit may be a collision).
                m = 0
                while (
                    m < 32
                    and pos - 1 - m >= start
                    and _known(candidate - 1 - m, n, seg_len, t)
                    and data[candidate - 1 - m] == data[pos - 1 - m]
                ):
                    m += 1
                if m >= MATCH_MIN:
                    length = m
                    ptr = candidate
        match_table[h] = pos
    seg[k, MATCH_LEN] = length
    seg[k, MATCH_PTR] = ptr
    if lay[L_VERSION] >= 2:
        expected = np.int64(data[ptr]) if length > 0 else 256  # (known: the match checked it)
        _extra_contexts(seg, k, byte, c4, indirect, expected, length)
    if lay[L_VERSION] >= 3:
        first = np.int64(data[seg[k, LINE0]]) if pos > seg[k, LINE0] else 256
        _text_contexts(seg, k, byte, c4, col, min(seg[k, LINE0] - seg[k, LINE1], 255), first)
    if lay[L_VERSION] >= 4:
        h = np.int64(77)  # the last 12 bytes of the segment (fewer near its start)
        for j in range(max(start, pos - 12), pos):
            h = _hash(h, np.int64(data[j]))
        seg[k, HASH0 + LONG] = h
    if lay[L_VERSION] >= 5:
        _word_contexts(seg, k, byte, c4, indirect[1 << 16 :], pos)


@njit(cache=True)
def _extra_contexts(seg, k, byte, c4, indirect, expected, length):  # type: ignore[no-untyped-def]
    """cm2's six contexts after ``byte`` (``c4``: the last 4 bytes, ``byte`` the lowest), the
    match model's byte ``expected`` next (256: none) and its ``length`` known."""
    pair = (c4 >> 8) & 0xFFFF  # the two bytes before ``byte``: it follows them
    indirect[pair] = ((indirect[pair] << 8) | byte) & 0xFFFF
    seg[k, CLASSES] = ((seg[k, CLASSES] << 3) | BYTE_CLASS[byte]) & 0xFFFFFF
    word = seg[k, WORD]
    seg[k, HASH0 + EXTRA0] = _hash(_hash(21, c4 & 0xFFFF), indirect[c4 & 0xFFFF])
    seg[k, HASH0 + EXTRA0 + 1] = _hash(22, seg[k, CLASSES])
    seg[k, HASH0 + EXTRA0 + 2] = _hash(_hash(23, word), seg[k, WORD2])
    seg[k, HASH0 + EXTRA0 + 3] = _hash(_hash(24, word), seg[k, WORD_SEP])
    seg[k, HASH0 + EXTRA0 + 4] = _hash(_hash(26, seg[k, PREV_WORD]), c4 & 0xFF)
    seg[k, HASH0 + EXTRA0 + 5] = _hash(_hash(30, expected), min(length, 15) << 8 | c4 & 0xFF)


@njit(cache=True)
def _text_contexts(seg, k, byte, c4, col, above_len, first):  # type: ignore[no-untyped-def]
    """cm3's eight contexts after ``byte`` (after cm2's, so the classes include it): ``col``
    the column of the next byte, ``above_len`` the previous line's length (both up to 255),
    ``first`` the line's first byte (256: none yet)."""
    lower = byte | 32
    letter = 97 <= lower <= 122
    if letter:
        seg[k, LETTERS] = ((seg[k, LETTERS] << 5) | (lower - 96)) & 0x3FFFFFFF
    # The quote or bracket the text is in: " toggles; ` ( [ open and ' ) ] close their own. In
    # a `quote' a ' is an apostrophe (don't) when a letter follows it, so it is held open (97)
    # until the next byte says.
    q = seg[k, QUOTE]
    if q == 97:
        q = 96 if letter else 0
    if byte == 34:
        q = 0 if q == 34 else 34
    elif byte == 96 or byte == 40 or byte == 91:
        q = byte
    elif byte == 39 and q == 96:
        q = 97
    elif (byte == 41 and q == 40) or (byte == 93 and q == 91):
        q = 0
    seg[k, QUOTE] = q
    older = (seg[k, CLASSES] >> 3) & 0xFFF  # the classes of the four bytes before ``byte``
    seg[k, HASH0 + TEXT0] = _hash(49, col)
    seg[k, HASH0 + TEXT0 + 1] = _hash(66, (above_len << 8) | col)
    seg[k, HASH0 + TEXT0 + 2] = _hash(64, (first << 8) | col)
    seg[k, HASH0 + TEXT0 + 3] = _hash(52, (older << 8) | (c4 & 0xFF))
    seg[k, HASH0 + TEXT0 + 4] = _hash(61, seg[k, LETTERS])
    seg[k, HASH0 + TEXT0 + 5] = _hash(56, (older << 16) | (c4 & 0xFFFF))
    seg[k, HASH0 + TEXT0 + 6] = _hash(_hash(69, q), seg[k, WORD])
    seg[k, HASH0 + TEXT0 + 7] = _hash(70, (q << 24) | (c4 & 0xFFFFFF))


@njit(cache=True)
def _word_contexts(seg, k, byte, c4, tokens, pos):  # type: ignore[no-untyped-def]
    """cm5's eight contexts after ``byte`` (after cm4's: the word and the last two words are up
    to date), at position ``pos`` (of the next byte). ``tokens`` holds, for each token hashed
    into 2^TOKEN_BITS entries, the last two bytes that followed it: a token is the current
    word's letters so far, or the gap since the last letter (a comma and a space, a full stop
    and a blank line), so a word that was once followed by "ing" or by a comma says so again at
    its next occurrence, whatever longer context it has (the word model's indirect context in
    paq8px)."""
    lower = byte | 32
    letter = 97 <= lower <= 122
    after_letter = 97 <= (((c4 >> 8) & 0xFF) | 32) <= 122  # the byte before ``byte``
    old = (seg[k, TOKEN] >> (32 - TOKEN_BITS)) & ((1 << TOKEN_BITS) - 1)
    tokens[old] = ((tokens[old] << 8) | byte) & 0xFFFF
    if letter:
        seg[k, GAP] = 0
        token = _hash(seg[k, WORD], 3)
    else:
        seg[k, GAP] = _hash(seg[k, GAP] + 7, byte)
        token = seg[k, GAP]
    seg[k, TOKEN] = token
    followed = tokens[(token >> (32 - TOKEN_BITS)) & ((1 << TOKEN_BITS) - 1)]
    # Paragraphs: a blank line (nothing but white space, so CR LF text too) starts one, and its
    # first word (a speaker's name in a play, a heading) stays in the context until the next.
    if byte == 10:
        if seg[k, LINE_TEXT] == 0:
            seg[k, PARA_NEW] = 1
        seg[k, LINE_TEXT] = 0
        seg[k, LINE_HASH] = 0
    else:
        seg[k, LINE_HASH] = _hash(seg[k, LINE_HASH] + 1, byte)
        if byte != 13 and byte != 32 and byte != 9:
            seg[k, LINE_TEXT] = 1
    if not letter and after_letter and seg[k, PARA_NEW] == 1:
        seg[k, PARA_WORD] = seg[k, PREV_WORD]  # the word that just ended
        seg[k, PARA_NEW] = 0
    # Character groups: digits, lower-case and upper-case letters each one group, other bytes
    # their own.
    group = byte
    if 48 <= byte <= 57:
        group = 48
    elif 97 <= byte <= 122:
        group = 97
    elif 65 <= byte <= 90:
        group = 65
    seg[k, GROUPS] = ((seg[k, GROUPS] << 8) | group) & 0xFFFFFFFF
    # The phrase: words that only spaces or line ends separate (an apostrophe stays inside a
    # word, "don't"); any other byte (punctuation, a digit) starts a new one. Up to five words,
    # case folded, so a phrase said again is recognised across case and line breaks.
    space = byte == 32 or byte == 10 or byte == 13
    if letter:
        seg[k, PHRASE] = _hash(seg[k, PHRASE] + 5, lower)
    elif space and after_letter:
        for j in range(4, 0, -1):
            seg[k, PHRASE + j] = seg[k, PHRASE + j - 1]
        seg[k, PHRASE] = 0
    elif not space and byte != 39:
        for j in range(5):
            seg[k, PHRASE + j] = 0
    phrase = _hash(_hash(130, seg[k, PHRASE]), _hash(seg[k, PHRASE + 1], seg[k, PHRASE + 2]))
    word, para = seg[k, WORD], seg[k, PARA_WORD]
    seg[k, HASH0 + WORDS0] = _hash(102, (int(letter) << 16) | followed)
    seg[k, HASH0 + WORDS0 + 1] = _hash(103, ((followed & 0xFF) << 16) | (c4 & 0xFFFF))
    seg[k, HASH0 + WORDS0 + 2] = _hash(_hash(109, para), word)
    seg[k, HASH0 + WORDS0 + 3] = _hash(110, word)
    seg[k, HASH0 + WORDS0 + 4] = _hash(_hash(111, pos >> 10), word)
    seg[k, HASH0 + WORDS0 + 5] = _hash(104, seg[k, LINE_HASH])
    seg[k, HASH0 + WORDS0 + 6] = _hash(115, seg[k, GROUPS])
    seg[k, HASH0 + WORDS0 + 7] = _hash(phrase, _hash(seg[k, PHRASE + 3], seg[k, PHRASE + 4]))


@njit(cache=True)
def _markup(seg, k, byte):  # type: ignore[no-untyped-def]
    """The markup model's context after ``byte``: where segment k is (0 text, 1 a tag's name,
    2 its attributes, 3 a quoted value), the hash of the last tag's name, the byte itself.
    In text the context says which element the text is in (a heading, code, a link)."""
    place = seg[k, IN_TAG]
    if byte == 60:  # "<" opens a tag (or "</", "<!", "<?": their names are hashed alike)
        place = 1
        seg[k, TAG] = 0
    elif place == 1:
        if byte == 62:  # ">"
            place = 0
        elif byte == 32 or byte == 10 or byte == 9:
            place = 2
        else:
            seg[k, TAG] = _hash(seg[k, TAG] + 1, byte)
    elif place == 2:
        if byte == 34 or byte == 39:  # a quoted value starts
            place = 3
        elif byte == 62:
            place = 0
    elif place == 3 and (byte == 34 or byte == 39):
        place = 2
    seg[k, IN_TAG] = place
    seg[k, HASH0 + MARKUP] = _hash(_hash(18, seg[k, TAG]), (place << 8) | byte)


# Scratch columns: what predict() saw, for update() to learn from.
S_IDX = 0  # N_MODELS table indices
S_X = S_IDX + N_MODELS  # N_INPUTS mixer inputs
S_SET = S_X + N_INPUTS  # N_MIXERS weight-set indices
S_DOT = S_SET + N_MIXERS  # N_MIXERS mixer outputs (stretched)
S_FSET = S_DOT + N_MIXERS  # final mixer's weight set
S_FPR = S_FSET + 1  # final mixer's probability
S_MATCH = S_FPR + 1  # match state-map index, or -1
S_APM = S_MATCH + 1  # N_APM APM slot indices
S_APMP = S_APM + N_APM  # N_APM APM outputs
S_STATE = S_APMP + N_APM  # N_MODELS state-map indices, or -1
S_RUN = S_STATE + N_MODELS  # cm2: N_MODELS run-map indices, or -1
N_SCRATCH = S_RUN + N_MODELS

APM_BUCKETS = 33
APM_BITS = 16  # at TABLE_BITS: the order-1 APM is indexed by (byte, c0) itself, not a hash
APM3_CTX = 65 * 256  # the match state × c0
# The APMs' weights in the final average (the mixer's: 1); cm2 adds two APMs, in the contexts
# of the current word and of the last 3 bytes.
APM_W = np.array([2, 2, 1, 2, 2, 2, 2, 2], dtype=np.int64)
RUN_MAPS = N_MODELS * 2048  # where the run maps start in the state maps: 64 per model


@njit(cache=True, inline="always")
def _sizes(version):  # type: ignore[no-untyped-def]
    """A predictor's inputs per model, mixers and APMs."""
    if version >= 4:
        return 4, N_MIXERS, N_APM
    if version >= 2:
        return 4, N_MIXERS2, N_APM2
    return 3, N_MIXERS1, N_APM1


@njit(cache=True, inline="always")
def _predict(
    seg, n_active, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm, outside, scratch,
    out, version,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """Fill out[k] (12-bit P(next bit = 1)) for segments 0..n_active−1; ``lay`` is the state's
    layout (:func:`state_layout`: where each model's table starts and its size), ``version``
    the predictor's (:data:`PREDICTORS`; a constant where each predictor's copy inlines it)."""
    cm2, cm3, cm4 = version >= 2, version >= 3, version >= 4
    ways = lay[L_WAYS]  # the places a context may take in its table
    apm_bits = lay[L_APM_BITS]
    record = lay[L_RECORD]
    per, n_mix, n_apm = _sizes(version)
    n_last = lay[L_LAST]
    n_in = 3 + per * n_last
    den = 1
    for a in range(n_apm):
        den += APM_W[a]
    for k in range(n_active):
        c0 = seg[k, C0]
        bitpos = seg[k, BITPOS]
        seen, seen_mask = 0, 0
        # 1..15: a leading 1, then the bits of the current nibble seen so far.
        nibble = c0 if bitpos < 4 else (1 << (bitpos - 4)) | (c0 & ((1 << (bitpos - 4)) - 1))
        for i in range(n_last):
            if not lay[L_ON + i]:
                continue  # its inputs stay 0
            # The 15 slots of a nibble's bits sit together (one or two cache lines), looked up
            # by hash at the nibble's start: a quarter of the cache misses of a hash per bit.
            if bitpos == 0 or bitpos == 4:
                h = _hash(seg[k, HASH0 + i], c0)
                base = lay[L_CTX_OFF + i] + ((h >> (32 - lay[L_CTX_BITS + i])) & ~np.int64(15))
                check = (h & 1023) + 1
                if (tables[base] & 2047) != check:
                    # Two places per context (cm5: four), its own group and its neighbours in
                    # an aligned run of groups; a new context takes the one whose first bit was
                    # seen least often (the first such).
                    found = -1
                    for way in range(1, ways):
                        if (tables[base ^ (way << 4)] & 2047) == check:
                            found = base ^ (way << 4)
                            break
                    if found >= 0:
                        base = found
                    else:
                        least = base
                        for way in range(1, ways):
                            other = base ^ (way << 4)
                            if (tables[other + 1] & 1023) < (tables[least + 1] & 1023):
                                least = other
                        base = least
                        tables[base] = check
                        for slot_i in range(1, 16):
                            tables[base + slot_i] = FRESH
                seg[k, BASE0 + i] = base
                if cm2 and bitpos == 0:
                    seg[k, RUN0 + i] = base
            idx = seg[k, BASE0 + i] + nibble
            scratch[k, S_IDX + i] = idx
            slot = tables[idx]
            x = S_X + 3 + per * i
            if cm2:
                _run_input(seg, k, i, tables, state_sm, scratch, x + 3, c0, bitpos)
            if slot & 1023:
                scratch[k, x] = STRETCH[(slot >> 20) & 4095]
                scratch[k, x + 1] = STRETCH[(slot >> 42) & 4095]
                # The state map's context: this model, the slot's bit history and count.
                state = i * 2048 + ((slot >> 54) & 127) * 16 + min(slot & 1023, 15)
                scratch[k, S_STATE + i] = state
                scratch[k, x + 2] = STRETCH[(state_sm[state] >> 20) & 4095]
                if 1 <= i <= 7:
                    seen = i
                if cm2 and 2 <= i <= 8:
                    seen_mask |= 1 << (i - 2)
            else:
                scratch[k, x] = 0
                scratch[k, x + 1] = 0
                scratch[k, S_STATE + i] = -1
                scratch[k, x + 2] = 0
        # Match model: the bit of the byte that followed the last occurrence of this context.
        scratch[k, S_MATCH] = -1
        scratch[k, S_X] = 0
        length = seg[k, MATCH_LEN]
        if length > 0:
            predicted = np.int64(data[seg[k, MATCH_PTR]])
            if ((predicted | 256) >> (8 - bitpos)) == c0:
                expected = (predicted >> (7 - bitpos)) & 1
                m = min(length, 31) * 2 + expected
                scratch[k, S_MATCH] = m
                scratch[k, S_X] = STRETCH[(match_sm[m] >> 20) & 4095]
        scratch[k, S_X + 1] = STRETCH[outside[k]] if outside[k] > 0 else 0
        scratch[k, S_X + 2] = 256
        # Four mixers, each with its weight set chosen by a different context (cm3: the first
        # by the partial byte and the last byte's class).
        scratch[k, S_SET + 0] = c0 + (BYTE_CLASS[seg[k, C4] & 0xFF] << 8 if cm3 else 0)
        scratch[k, S_SET + 1] = seen * 8 + bitpos + (64 if length > 0 else 0)
        scratch[k, S_SET + 2] = seg[k, C4] & 0xFF
        # (records: the position in the record, which says more of a field than the byte two back)
        if record > 0:
            scratch[k, S_SET + 3] = (seg[k, POS] % record) & 0xFF
        else:
            scratch[k, S_SET + 3] = (seg[k, C4] >> 8) & 0xFF
        if cm2:
            # ... and by the match's length, the classes of the last two bytes, the bit history
            # of the current word's slot, the orders (2-6, 8, word) seen before.
            classes = seg[k, CLASSES]
            scratch[k, S_SET + 4] = min(length, 15) * 16 + (8 if length > 0 else 0) + bitpos
            scratch[k, S_SET + 5] = (classes & 63) * 4 + (bitpos >> 1)
            scratch[k, S_SET + 6] = ((tables[scratch[k, S_IDX + 8]] >> 54) & 31) * 8 + bitpos
            scratch[k, S_SET + 7] = seen_mask * 2 + (length > 0)
        if cm4:
            # ... and (hashed with the partial byte) by the classes of the last four bytes, the
            # quote the text is in with the last byte's class, the current word.
            s = _hash(seg[k, CLASSES] & 0xFFF, c0)
            scratch[k, S_SET + 8] = (s >> 19) & (lay[L_SETS] - 1)
            s = _hash(seg[k, QUOTE] * 8 + BYTE_CLASS[seg[k, C4] & 0xFF], c0 + 555)
            scratch[k, S_SET + 9] = (s >> 21) & 2047
            scratch[k, S_SET + 10] = (_hash(seg[k, WORD], c0 + 777) >> 19) & (lay[L_SETS] - 1)
        for j in range(n_mix):
            s = scratch[k, S_SET + j]
            dot = np.int64(0)
            for i in range(n_in):
                dot += mix_w[j, s, i] * scratch[k, S_X + i]
            dot >>= 16
            scratch[k, S_DOT + j] = max(-2047, min(2047, dot))
        fs = c0
        scratch[k, S_FSET] = fs
        dot = np.int64(0)
        for j in range(n_mix):
            dot += final_w[fs, j] * scratch[k, S_DOT + j]
        dot >>= 16
        pr = SQUASH[max(-2047, min(2047, dot)) + 2047]
        scratch[k, S_FPR] = pr
        # Three adaptive probability maps refine pr: in the contexts c0 with the last byte,
        # with the last 2 bytes (hashed) and with the match model's state.
        st = STRETCH[pr] + 2048
        lo = st >> 7
        w = st & 127
        if apm_bits == APM_BITS:
            ctx1 = c0 | ((seg[k, C4] & 0xFF) << 8)
        else:  # smaller tables: (byte, c0) hashed into 2^apm_bits contexts
            ctx1 = _hash((seg[k, C4] & 0xFF) | 0x10000, c0) >> (32 - apm_bits)
        ctx2 = _hash(seg[k, C4] & 0xFFFF, c0) >> (32 - apm_bits)
        ctx3 = (scratch[k, S_MATCH] + 1) * 256 + c0
        total = pr
        for a in range(n_apm):
            if a == 0:
                ctx = ctx1
            elif a == 1:
                ctx = (1 << apm_bits) + ctx2
            elif a == 2:
                ctx = (2 << apm_bits) + ctx3
            elif a == 3:  # cm2: the current word (with the byte before it, as model 8)
                h = _hash(seg[k, HASH0 + 8], c0) >> (32 - apm_bits)
                ctx = APM3_CTX + (2 << apm_bits) + h
            elif a == 4:  # cm2: the last 3 bytes
                h = _hash(seg[k, C4] & 0xFFFFFF, c0 + 512) >> (32 - apm_bits)
                ctx = APM3_CTX + (3 << apm_bits) + h
            elif a == 5:  # cm4: the classes of the last 4 bytes with the quote
                h = _hash((seg[k, CLASSES] & 0xFFF) * 128 + seg[k, QUOTE], c0 + 1024)
                ctx = APM3_CTX + (4 << apm_bits) + (h >> (32 - apm_bits))
            elif a == 6:  # cm4: the classes of the last 6 bytes
                h = _hash(seg[k, CLASSES] & 0x3FFFF, c0 + 1536) >> (32 - apm_bits)
                ctx = APM3_CTX + (5 << apm_bits) + h
            else:  # cm4: the word pair (as model 9)
                h = _hash(seg[k, HASH0 + 9], c0 + 2048) >> (32 - apm_bits)
                ctx = APM3_CTX + (6 << apm_bits) + h
            base = ctx * APM_BUCKETS + lo
            p = (apm[base] * (128 - w) + apm[base + 1] * w) >> 11
            scratch[k, S_APM + a] = base * 128 + w  # both buckets learn, by their weights
            scratch[k, S_APMP + a] = p
            total += p * APM_W[a]
        out[k] = max(1, min(4095, (total + den // 2) // den))


# Each predictor's own compiled copy of _predict and _update (inlined with its version a
# constant, so cm1 pays nothing for the others' branches); cm5 runs cm4's (all that differs, its
# eight contexts and four places per context, the layout tells); _predict_any and _update_any
# choose by the layout.
@njit(cache=True)
def _predict1(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out):  # type: ignore[no-untyped-def]
    _predict(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out, 1)


@njit(cache=True)
def _predict2(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out):  # type: ignore[no-untyped-def]
    _predict(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out, 2)


@njit(cache=True)
def _predict3(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out):  # type: ignore[no-untyped-def]
    _predict(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out, 3)


@njit(cache=True)
def _predict4(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out):  # type: ignore[no-untyped-def]
    _predict(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out, 4)


@njit(cache=True)
def _predict_any(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out):  # type: ignore[no-untyped-def]
    if lay[L_VERSION] >= 4:
        _predict4(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out)
    elif lay[L_VERSION] == 3:
        _predict3(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out)
    elif lay[L_VERSION] == 2:
        _predict2(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out)
    else:
        _predict1(seg, n, data, tables, lay, mix_w, final_w, apm, m_sm, s_sm, outside, scratch, out)


@njit(cache=True, inline="always")
def _run_input(seg, k, i, tables, state_sm, scratch, x, c0, bitpos):  # type: ignore[no-untyped-def]
    """cm2's run input of model i: the first slot of the context's first-nibble group holds, above
    its check (bits 0-10: 1..1024), the last byte seen in the context (bits 11-18) and how many
    times in a row it came (bits 19-24). While the bits so far agree with that byte, its next bit is
    predicted by a state map in the context (model, run length, that bit)."""
    first = tables[seg[k, RUN0 + i]]
    run = (first >> 19) & 63
    last = (first >> 11) & 0xFF
    scratch[k, S_RUN + i] = -1
    scratch[k, x] = 0
    if run > 0 and ((last | 256) >> (8 - bitpos)) == c0:
        m = RUN_MAPS + i * 64 + min(run, 31) * 2 + ((last >> (7 - bitpos)) & 1)
        scratch[k, S_RUN + i] = m
        scratch[k, x] = STRETCH[(state_sm[m] >> 20) & 4095]


@njit(cache=True, inline="always")
def _learn(slot: np.int64, y: np.int64, limit: np.int64, shift: np.int64) -> np.int64:
    """A counter (22-bit probability, 10-bit count) moved toward bit y at rate 1/(n + 1.1), and
    the second counter above it by 2^−shift of the way."""
    n = slot & 1023
    p = (slot >> 10) & 0x3FFFFF
    p += (((y << 22) - p) * RATE[n]) >> 16
    if n < limit:
        n += 1
    fast = slot >> 32
    fast += ((y << 22) - fast) >> shift
    return (fast << 32) | (p << 10) | n


@njit(cache=True, inline="always")
def _learn_slot(slot: np.int64, y: np.int64, limit: np.int64, shift: np.int64) -> np.int64:
    """A context slot's two counters moved toward bit y, and its bit history (bits 54..60):
    the counts of 0s and 1s up to 7 and the last bit, the other bit's count cut to 1 whenever
    a bit arrives, so the history says which bit came last, how long its run is, and whether
    the other bit was seen in this context (nonstationary, as paq's bit-history states)."""
    hist = slot >> 54
    n0 = hist & 7
    n1 = (hist >> 3) & 7
    if y:
        n1 += n1 < 7
        n0 = min(n0, np.int64(1))
    else:
        n0 += n0 < 7
        n1 = min(n1, np.int64(1))
    counters = _learn(slot & ((np.int64(1) << 54) - 1), y, limit, shift)
    return counters | ((n0 | (n1 << 3) | (y << 6)) << 54)


@njit(cache=True, inline="always")
def _update(
    seg,
    n_active,
    step,
    bits,
    data,
    seg_len,
    tables,
    mix_w,
    final_w,
    apm,
    match_sm,
    state_sm,
    match_table,
    indirect,
    lay,
    scratch,
    version,
):  # type: ignore[no-untyped-def]
    """Learn bits[k] for segments 0..n_active−1 (coded at offset ``step`` of their segment);
    ``version`` as in :func:`_predict`."""
    cm2, cm3 = version >= 2, version >= 3
    per, n_mix, n_apm = _sizes(version)
    shift, setk = (FAST_SHIFT3, SETK3) if cm3 else (FAST_SHIFT, SETK)
    n_last = lay[L_LAST]
    n_in = 3 + per * n_last
    for k in range(n_active):
        y = np.int64(bits[k])
        for i in range(n_last):
            if not lay[L_ON + i]:
                continue
            idx = scratch[k, S_IDX + i]
            tables[idx] = _learn_slot(tables[idx], y, LIMIT_LOW if i <= 2 else LIMIT_HIGH, shift)
            st = scratch[k, S_STATE + i]
            if st >= 0:
                state_sm[st] = _learn(state_sm[st], y, 1023, FAST_SHIFT)
            if cm2:
                st = scratch[k, S_RUN + i]
                if st >= 0:
                    state_sm[st] = _learn(state_sm[st], y, 1023, FAST_SHIFT)
        m = scratch[k, S_MATCH]
        if m >= 0:
            match_sm[m] = _learn(match_sm[m], y, 1023, FAST_SHIFT)
        for j in range(n_mix):
            s = scratch[k, S_SET + j]
            n_set = mix_w[j, s, lay[L_INPUTS]]  # the set's update count, after its weights
            mix_w[j, s, lay[L_INPUTS]] = n_set + 1
            err = (y << 12) - SQUASH[scratch[k, S_DOT + j] + 2047]
            if cm3 and -MIX_SKIP3 <= err <= MIX_SKIP3:
                continue  # (the set still counts it: its rate slows as it is used)
            err *= LR_MIN + (LR_SPAN << setk) // ((1 << setk) + n_set)
            for i in range(n_in):
                mix_w[j, s, i] += (scratch[k, S_X + i] * err) >> 18
        err = ((y << 12) - scratch[k, S_FPR]) * FINAL_LR
        fs = scratch[k, S_FSET]
        for j in range(n_mix):
            final_w[fs, j] += (scratch[k, S_DOT + j] * err) >> 14
        target = y * 65535
        for a in range(n_apm):
            idx = scratch[k, S_APM + a] >> 7
            w = scratch[k, S_APM + a] & 127
            apm[idx] += ((target - apm[idx]) * (128 - w)) >> (APM_RATE + 7)
            apm[idx + 1] += ((target - apm[idx + 1]) * w) >> (APM_RATE + 7)
        seg[k, C0] = seg[k, C0] * 2 + y
        seg[k, BITPOS] += 1
    if seg[0, BITPOS] == 8:
        for k in range(n_active):
            data[seg[k, POS]] = seg[k, C0] & 0xFF
            if cm2:
                _learn_runs(seg, k, seg[k, C0] & 0xFF, tables, lay)
        for k in range(n_active):
            _byte_boundary(seg, k, seg[k, C0] & 0xFF, data, seg_len, step, match_table, lay,
                           indirect)  # fmt: skip


@njit(cache=True)
def _update1(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
             indirect, lay, scratch):  # type: ignore[no-untyped-def]  # fmt: skip
    _update(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
            indirect, lay, scratch, 1)  # fmt: skip


@njit(cache=True)
def _update2(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
             indirect, lay, scratch):  # type: ignore[no-untyped-def]  # fmt: skip
    _update(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
            indirect, lay, scratch, 2)  # fmt: skip


@njit(cache=True)
def _update3(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
             indirect, lay, scratch):  # type: ignore[no-untyped-def]  # fmt: skip
    _update(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
            indirect, lay, scratch, 3)  # fmt: skip


@njit(cache=True)
def _update4(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
             indirect, lay, scratch):  # type: ignore[no-untyped-def]  # fmt: skip
    _update(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm, match_table,
            indirect, lay, scratch, 4)  # fmt: skip


@njit(cache=True)
def _update_any(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm,
                match_table, indirect, lay, scratch):  # type: ignore[no-untyped-def]  # fmt: skip
    if lay[L_VERSION] >= 4:
        _update4(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm,
                 match_table, indirect, lay, scratch)  # fmt: skip
    elif lay[L_VERSION] == 3:
        _update3(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm,
                 match_table, indirect, lay, scratch)  # fmt: skip
    elif lay[L_VERSION] == 2:
        _update2(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm,
                 match_table, indirect, lay, scratch)  # fmt: skip
    else:
        _update1(seg, n, t, bits, data, seg_len, tables, mix_w, final_w, apm, m_sm, s_sm,
                 match_table, indirect, lay, scratch)  # fmt: skip


@njit(cache=True)
def _learn_runs(seg, k, byte, tables, lay):  # type: ignore[no-untyped-def]
    """cm2 and later: each model's context of segment k's byte learns that ``byte`` came (see
    :func:`_run_input`): one more in the run if it was the context's last byte, else a new run."""
    for i in range(lay[L_LAST]):
        if not lay[L_ON + i]:
            continue
        where = seg[k, RUN0 + i]
        first = tables[where]
        same = ((first >> 19) & 63) > 0 and ((first >> 11) & 0xFF) == byte
        run = min(((first >> 19) & 63) + 1, 63) if same else 1
        tables[where] = (first & 2047) | (byte << 11) | (run << 19)


# Everything the model learns lives in ONE flat int64 array (so a kernel call passes few
# arguments: numba's call overhead grows with their number and dominates a per-bit loop). Its
# parts' sizes depend on the table size chosen for the input, so the kernels read them at run
# time from the state's last N_LAYOUT entries (the layout), never from compiled-in constants.
L_CTX_OFF = 0  # N_MODELS entries: where each model's table starts (tables start at 0)
L_CTX_BITS = L_CTX_OFF + N_MODELS  # N_MODELS entries: each model's table size, log2 slots
L_MATCH_BITS = L_CTX_BITS + N_MODELS  # the match table's size, log2 entries
L_APM_BITS = L_MATCH_BITS + 1  # the order-1 and order-2 APMs' sizes, log2 contexts
L_TABLE_BITS = L_APM_BITS + 1  # the table size the layout was made for
L_RECORD = L_TABLE_BITS + 1  # the record length (0: none, and the record models have no table)
L_MARKUP = L_RECORD + 1  # 1: the markup model is on (else it has no table)
L_VERSION = L_MARKUP + 1  # the predictor: 1 (cm1) … 5 (cm5)
L_SETS = L_VERSION + 1  # the weight sets per mixer: 256 (cm3: 2048; cm4, cm5: 2^11..2^13 by size)
L_MIXERS = L_SETS + 1  # the predictor's mixers (the weights of no other are kept)
L_INPUTS = L_MIXERS + 1  # its mixers' inputs at most (a weight set keeps that many, a count)
L_WAYS = L_INPUTS + 1  # the places a context may take in its table: 2 (cm5: 4)
L_ON = L_WAYS + 1  # N_MODELS entries: 1 where the model is on
L_LAST = L_ON + N_MODELS  # 1 + the last model on: the models' loops stop there
L_PARTS = L_LAST + 1  # the starts of the parts below, then the end of the last one
PARTS = ("tables", "mix_w", "final_w", "apm", "match_sm", "state_sm", "match_table", "indirect")
N_LAYOUT = L_PARTS + len(PARTS) + 1
LANE = N_SEG_FIELDS + N_SCRATCH  # a segment's row: its contexts, then its scratch


def state_layout(
    table_bits: int = TABLE_BITS, record: int = 0, markup: bool = False, predictor: str = "cm1"
) -> np.ndarray:
    """The layout of a state with tables of size ``table_bits`` (MIN_TABLE_BITS..TABLE_BITS):
    the 22-bit models get 2^table_bits slots, the 23-bit ones twice that, orders 0-1 at most
    their own size; the match table 2^(table_bits − 2) entries, the order-1 and order-2 APMs
    2^(table_bits − 6) contexts each (at least 2^10). At TABLE_BITS every size is the one of
    predictor cm1's first archives, which recorded no size. ``record`` (0, or 2..MAX_RECORD
    bytes) turns the record models on, ``markup`` the markup model; models off take no room.
    ``predictor`` (:data:`PREDICTORS`): cm2 adds six models, every model's run, four mixers
    and two APMs to cm1; cm3 eight more models and 2048 weight sets per mixer to cm2; cm4 an
    order-12 model, three mixers (2^11..2^13 weight sets each, by ``table_bits``) and three
    APMs to cm3; cm5 eight more models, a token table of 2^TOKEN_BITS entries and four places
    per context to cm4."""
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor {predictor!r} is not one of {', '.join(PREDICTORS)}")
    if not MIN_TABLE_BITS <= table_bits <= TABLE_BITS:
        raise ValueError(f"table bits {table_bits} outside {MIN_TABLE_BITS}..{TABLE_BITS}")
    if record != 0 and not 2 <= record <= MAX_RECORD:
        raise ValueError(f"record length {record} outside 2..{MAX_RECORD}")
    lay = np.zeros(N_LAYOUT, dtype=np.int64)
    ctx_bits = np.minimum(CONTEXT_BITS, table_bits + np.maximum(0, CONTEXT_BITS - TABLE_BITS))
    on = np.arange(N_MODELS) < N_CONTEXTS
    version = PREDICTORS[predictor]
    on[MARKUP], on[RECORD0:EXTRA0] = markup, record > 0
    on[EXTRA0:TEXT0], on[TEXT0:LONG], on[LONG] = version >= 2, version >= 3, version >= 4
    on[WORDS0:] = version >= 5
    slots = (1 << ctx_bits) * on
    lay[L_CTX_OFF : L_CTX_OFF + N_MODELS] = np.concatenate(([0], np.cumsum(slots)[:-1]))
    lay[L_CTX_BITS : L_CTX_BITS + N_MODELS] = ctx_bits
    lay[L_MATCH_BITS] = max(10, min(MATCH_BITS, table_bits - (TABLE_BITS - MATCH_BITS)))
    lay[L_APM_BITS] = max(10, min(APM_BITS, table_bits - (TABLE_BITS - APM_BITS)))
    lay[L_TABLE_BITS] = table_bits
    lay[L_RECORD] = record
    lay[L_MARKUP] = int(markup)
    lay[L_VERSION] = version
    # (cm4 and cm5: 2^13 sets at 22 table bits, an input over 64 KB; 2^12 over 32 KB; 2^11 below)
    lay[L_SETS] = (
        1 << min(13, max(11, table_bits - 9)) if version >= 4 else 2048 if version >= 3 else 256
    )
    per, n_mix, n_apm = _sizes.py_func(version)  # (the kernels' own answer, run in Python)
    lay[L_MIXERS] = n_mix
    lay[L_WAYS] = 4 if version >= 5 else 2
    lay[L_ON : L_ON + N_MODELS] = on
    lay[L_LAST] = 1 + int(np.flatnonzero(on)[-1])
    # (its models with markup and records on: the most inputs _predict and _update use)
    possible = on.copy()
    possible[MARKUP:EXTRA0] = True
    lay[L_INPUTS] = 3 + per * (1 + int(np.flatnonzero(possible)[-1]))
    cm2 = version >= 2
    sizes = (
        int(slots.sum()),
        int(lay[L_MIXERS]) * int(lay[L_SETS]) * (int(lay[L_INPUTS]) + 1),
        256 * N_MIXERS,
        # (the match APM has its own APM3_CTX contexts, each other APM 2^apm_bits)
        (((n_apm - 1) << int(lay[L_APM_BITS])) + APM3_CTX) * APM_BUCKETS,
        64,
        N_MODELS * 2048 + N_MODELS * 64,  # bit-history maps, then (cm2 and later) run maps
        1 << int(lay[L_MATCH_BITS]),
        # (cm2: what followed each pair of bytes; cm5 then what followed each token)
        ((1 << 16) + ((1 << TOKEN_BITS) if version >= 5 else 0)) if cm2 else 0,
    )
    lay[L_PARTS : L_PARTS + len(PARTS) + 1] = np.concatenate(([0], np.cumsum(sizes)))
    return lay


def new_state(
    table_bits: int = TABLE_BITS, record: int = 0, markup: bool = False, predictor: str = "cm1"
) -> np.ndarray:
    """The model before it has seen a byte: every probability ½, mixer weights equal; tables of
    size ``table_bits``, the record length, the markup model and the predictor (see
    :func:`state_layout`), the layout in the last N_LAYOUT entries."""
    lay = state_layout(table_bits, record, markup, predictor)
    bounds = {
        name: (int(lay[L_PARTS + j]), int(lay[L_PARTS + j + 1])) for j, name in enumerate(PARTS)
    }
    state = np.zeros(int(lay[-1]) + N_LAYOUT, dtype=np.int64)
    view = {name: state[a:b] for name, (a, b) in bounds.items()}
    view["tables"][:] = FRESH  # slow and fast counters at ½, count 0
    view["mix_w"][:] = (1 << 16) // 16
    n_in = int(lay[L_INPUTS])
    view["mix_w"].reshape((int(lay[L_MIXERS]), int(lay[L_SETS]), n_in + 1))[:, :, n_in] = 0
    n_mix = int(lay[L_MIXERS])
    view["final_w"].reshape((256, N_MIXERS))[:, :n_mix] = (1 << 16) // n_mix
    ramp = SQUASH[np.clip((np.arange(APM_BUCKETS) - 16) * 128, -2047, 2047) + 2047] * 16
    view["apm"][:] = np.tile(ramp, len(view["apm"]) // APM_BUCKETS)
    view["match_sm"][:] = 1 << 31
    # State maps start at their bucket's own probability: (count, p in 32 buckets) → p.
    view["state_sm"][:] = 1 << 31
    state[-N_LAYOUT:] = lay
    return state


def table_bits_of(state: np.ndarray) -> int:
    """The table size a state was made with."""
    return int(state[len(state) - N_LAYOUT + L_TABLE_BITS])


def new_lanes(n: int, seg_len: int) -> np.ndarray:
    """Per-segment rows for a block of n bytes cut into segments of seg_len bytes."""
    k = max(1, -(-n // seg_len))
    lanes = np.zeros((k, LANE), dtype=np.int64)
    lanes[:, C0] = 1
    lanes[:, POS] = np.arange(k) * seg_len
    lanes[:, LINE0] = np.arange(k) * seg_len
    lanes[:, LINE1] = np.arange(k) * seg_len - 1
    return lanes


@njit(cache=True)
def _active(n, seg_len, n_seg, step):  # type: ignore[no-untyped-def]
    return min(n_seg, max(0, (n - step + seg_len - 1) // seg_len))


@njit(cache=True, inline="always")
def _part(state, lay, j):  # type: ignore[no-untyped-def]
    return state[lay[L_PARTS + j] : lay[L_PARTS + j + 1]]


@njit(cache=True, inline="always")
def _learned(state):  # type: ignore[no-untyped-def]
    """Views of the learned parts of ``state`` that predicting reads: the context tables, the
    mixers' and the final mixer's weights, the APMs, the match and bit-history state maps; and
    the layout."""
    lay = state[state.shape[0] - N_LAYOUT :]
    return (
        _part(state, lay, 0),
        _part(state, lay, 1).reshape((lay[L_MIXERS], lay[L_SETS], lay[L_INPUTS] + 1)),
        _part(state, lay, 2).reshape((256, N_MIXERS)),
        _part(state, lay, 3),
        _part(state, lay, 4),
        _part(state, lay, 5),
        lay,
    )


@njit(cache=True, inline="always")
def _learned_more(state, lay):  # type: ignore[no-untyped-def]
    """The parts only learning reads: the match table and (cm2 and later) the indirect table."""
    return _part(state, lay, 6), _part(state, lay, 7)


@njit(cache=True)
def predict_many(state, lanes, data, n_active, outside, out):  # type: ignore[no-untyped-def]
    tables, mix_w, final_w, apm, match_sm, state_sm, lay = _learned(state)
    seg, scratch = lanes[:, :N_SEG_FIELDS], lanes[:, N_SEG_FIELDS:]
    _predict_any(
        seg, n_active, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm, outside,
        scratch, out,
    )  # fmt: skip


@njit(cache=True)
def update_many(state, lanes, data, seg_len, n_active, step, bits):  # type: ignore[no-untyped-def]
    tables, mix_w, final_w, apm, match_sm, state_sm, lay = _learned(state)
    seg, scratch = lanes[:, :N_SEG_FIELDS], lanes[:, N_SEG_FIELDS:]
    # Learning also records where each context was last seen (and what followed two bytes).
    match_table, indirect = _learned_more(state, lay)
    _update_any(
        seg,
        n_active,
        step,
        bits,
        data,
        seg_len,
        tables,
        mix_w,
        final_w,
        apm,
        match_sm,
        state_sm,
        match_table,
        indirect,
        lay,
        scratch,
    )


@njit(cache=True)
def step_one(state, lanes, data, bit, step):  # type: ignore[no-untyped-def]
    """One segment (a sequential decoder): learn ``bit`` (coded at byte offset ``step``; −1 =
    nothing yet), then return the 12-bit probability that the next bit is 1."""
    bits = np.empty(1, dtype=np.int64)
    out = np.zeros(1, dtype=np.int64)
    outside = np.zeros(1, dtype=np.int64)
    if bit >= 0:
        bits[0] = bit
        update_many(state, lanes, data, data.shape[0], 1, step, bits)
    predict_many(state, lanes, data, 1, outside, out)
    return out[0]


@njit(cache=True)
def run_known(state, lanes, data, seg_len, first, last, outside, probs):  # type: ignore[no-untyped-def]
    """Steps first..last−1 of a block whose bytes are all known (an encoder's side, or a
    stored block): exactly the predict/update calls a decoder makes, in the same order.
    probs[t − first, k, j] receives the 12-bit probability used for bit j of segment k's byte
    at offset t; outside[t − first, k, j] is another model's probability for it (0 = none)."""
    n = data.shape[0]
    n_seg = lanes.shape[0]
    out = np.zeros(n_seg, dtype=np.int64)
    bits = np.zeros(n_seg, dtype=np.int64)
    for t in range(first, last):
        a = _active(n, seg_len, n_seg, t)
        for j in range(8):
            predict_many(state, lanes, data, a, outside[t - first, :, j], out)
            for k in range(a):
                probs[t - first, k, j] = out[k]
                bits[k] = (data[k * seg_len + t] >> (7 - j)) & 1
            update_many(state, lanes, data, seg_len, a, t, bits)


# The coder's kernels live in their own module; numba's cache keys a kernel on its own file
# only, so a change to binary_coder.py must come with a touch of this file (the tests compare
# these loops with the coder's own kernels on the same probabilities, which catches a miss).
# The loops take the state's views once and call the predictor's _predict/_update copy directly:
# predict_many and update_many remake the views (two reshapes each) on every call, a quarter of
# the time per bit.
@njit(cache=True)
def encode_steps(state, lanes, data, seg_len, first, last, coder, out, record):  # type: ignore[no-untyped-def]
    """Steps first..last−1 of a known block coded by the binary coder (``coder``, ``out``: see
    :mod:`~mdlkit.compression.binary_coder`) in the decoder's order (step, bit, segment), the
    model learning as it goes. Returns (bits coded, their ideal length Σ −log2 P(bit) in bits);
    ``record`` (empty for none) receives each 12-bit probability used."""
    n, n_seg = data.shape[0], lanes.shape[0]
    work = np.zeros((3, n_seg), dtype=np.int64)
    p_out, bits, outside = work[0], work[1], work[2]
    tables, mix_w, final_w, apm, match_sm, state_sm, lay = _learned(state)
    match_table, indirect = _learned_more(state, lay)
    seg, scratch = lanes[:, :N_SEG_FIELDS], lanes[:, N_SEG_FIELDS:]
    count, ideal, version = 0, 0.0, lay[L_VERSION]
    for t in range(first, last):
        a = _active(n, seg_len, n_seg, t)
        for j in range(8):
            # (the predictor's own copy called directly: a dispatching call per bit costs)
            if version >= 4:
                _predict4(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            elif version == 3:
                _predict3(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            elif version == 2:
                _predict2(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            else:
                _predict1(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            for k in range(a):
                y = (np.int64(data[k * seg_len + t]) >> (7 - j)) & 1
                bits[k] = y
                p = p_out[k]
                encode_bit(coder, out, p, y)
                ideal -= np.log2((p if y else 4096 - p) / 4096.0)
                if record.shape[0]:
                    record[count] = p
                count += 1
            if version >= 4:
                _update4(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            elif version == 3:
                _update3(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            elif version == 2:
                _update2(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            else:
                _update1(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
    return count, ideal


@njit(cache=True)
def decode_steps(state, lanes, data, seg_len, first, last, coder, src, record):  # type: ignore[no-untyped-def]
    """The decoder of :func:`encode_steps`: decodes steps first..last−1 from ``src`` into
    ``data``. Returns the bits decoded; ``record`` as there."""
    n, n_seg = data.shape[0], lanes.shape[0]
    work = np.zeros((3, n_seg), dtype=np.int64)
    p_out, bits, outside = work[0], work[1], work[2]
    tables, mix_w, final_w, apm, match_sm, state_sm, lay = _learned(state)
    match_table, indirect = _learned_more(state, lay)
    seg, scratch = lanes[:, :N_SEG_FIELDS], lanes[:, N_SEG_FIELDS:]
    count, version = 0, lay[L_VERSION]
    for t in range(first, last):
        a = _active(n, seg_len, n_seg, t)
        for _ in range(8):
            # (the predictor's own copy called directly: a dispatching call per bit costs)
            if version >= 4:
                _predict4(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            elif version == 3:
                _predict3(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            elif version == 2:
                _predict2(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            else:
                _predict1(seg, a, data, tables, lay, mix_w, final_w, apm, match_sm, state_sm,
                          outside, scratch, p_out)  # fmt: skip
            for k in range(a):
                bits[k] = decode_bit(coder, src, p_out[k])
                if record.shape[0]:
                    record[count] = p_out[k]
                count += 1
            if version >= 4:
                _update4(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            elif version == 3:
                _update3(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            elif version == 2:
                _update2(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
            else:
                _update1(seg, a, t, bits, data, seg_len, tables, mix_w, final_w, apm, match_sm,
                         state_sm, match_table, indirect, lay, scratch)  # fmt: skip
    return count
