"""The two-part mode of the file compressor: exact round trips, encoder/decoder probabilities
bit for bit, ideal bits against an independent forward pass, coded size against the ideal,
damaged inputs — on tiny transformers and a few KB."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mdlkit import MdlkitError
from mdlkit.coding import decode_model
from mdlkit.compression.chunk_codec import decode_two_part, default_chunk, encode_two_part
from mdlkit.compression.two_part import TwoPartPlan, fit_two_part, plan_two_part
from mdlkit.compression.two_part_code import TwoPartCode, TwoPartSettings
from mdlkit.data import sequence_windows
from mdlkit.heads import CategoricalHead, evaluate
from mdlkit.models import ModelSpec

CONTEXT = 16
SPEC = ModelSpec(
    "byte_transformer", {"context": CONTEXT, "d_model": 16, "n_layers": 2, "n_heads": 2}
)
TEXT = (
    b"To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
    b"the slings and arrows of outrageous fortune, or to take arms against a sea of troubles "
    b"and by opposing end them.\n"
) * 30  # 5,970 bytes
TINY_PLAN = TwoPartPlan(
    d_model=16,
    n_layers=1,
    n_heads=2,
    context=16,
    epochs=2,
    finetune_epochs=1,
    stride=8,
    chunk=1024,
    batch_size=16,
    lr=1e-2,
    val_fraction=0.1,
    test_fraction=0.1,
)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    """A random transformer whose predictions are far from uniform (weights scaled up)."""
    torch.manual_seed(0)
    net = SPEC.build()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return net


@pytest.fixture(scope="module")
def fitted() -> tuple[bytes, TwoPartCode]:
    return TEXT, fit_two_part(TEXT, method="drr", plan=TINY_PLAN)


def _code(model: torch.nn.Module, data: bytes, **options: int) -> TwoPartCode:
    options = {"chunk": 300, "batch": 3, **options}
    return encode_two_part(model, SPEC, 1e-3, data, **options)  # type: ignore[arg-type]


def _round_trip(code: TwoPartCode) -> bytes:
    settings = TwoPartSettings.from_dict(json.loads(json.dumps(code.settings.to_dict())))
    return decode_two_part(settings, code.model, list(code.chunks), code.length)


RANDOM = np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes()
CASES = {
    "empty": b"",
    "one byte": b"x",
    "all 256 values": bytes(range(256)) * 3,
    "text": TEXT[:2500],
    "random": RANDOM,
}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_is_exact(model: torch.nn.Module, name: str) -> None:
    data = CASES[name]
    code = _code(model, data)
    assert len(code.chunks) == -(-len(data) // 300)
    assert _round_trip(code) == data


@pytest.mark.parametrize("stride", [1, 5, CONTEXT])
def test_round_trip_for_every_stride(model: torch.nn.Module, stride: int) -> None:
    # 4 chunks in groups of 3: a full group and one with a single short chunk
    data = TEXT[:1000]
    assert _round_trip(_code(model, data, stride=stride)) == data


def test_fit_two_part_round_trip(fitted: tuple[bytes, TwoPartCode]) -> None:
    data, code = fitted
    assert _round_trip(code) == data
    assert code.length == len(data) and len(code.chunks) == math.ceil(len(data) / 1024)
    assert 0 < code.nonzero <= code.n_params
    assert code.total_bits == 8 * len(code.model) + 8 * sum(map(len, code.chunks))
    assert code.paper_bits == 32 * code.nonzero + code.data_bits
    # a repetitive text: the trained model beats 8 bits per byte by far
    assert code.data_bits < 4 * len(data)
    assert code.test_bits_per_byte is not None and code.test_bits_per_byte < 6
    summary = json.loads(json.dumps(code.summary()))
    assert summary["total_bits"] == code.total_bits and summary["method"] == "drr"


@pytest.mark.parametrize("data", [b"", b"z", bytes(range(256))])
def test_fit_two_part_on_too_little_data_sends_an_all_zero_model(data: bytes) -> None:
    code = fit_two_part(data, level=1)
    assert code.nonzero == 0 and code.test_bits_per_byte is None
    assert code.ideal_bits == 8 * len(data)  # every byte uniform
    assert _round_trip(code) == data


def test_encoder_and_decoder_probabilities_agree_bit_for_bit(model: torch.nn.Module) -> None:
    data = TEXT[:1000]
    seen: dict[str, list[tuple[int, int, np.ndarray]]] = {"encoder": [], "decoder": []}
    code = encode_two_part(
        model,
        SPEC,
        1e-3,
        data,
        stride=6,
        chunk=300,
        batch=3,
        probabilities=lambda g, j, p: seen["encoder"].append((g, j, p.copy())),
    )
    decode_two_part(
        code.settings,
        code.model,
        code.chunks,
        len(data),
        probabilities=lambda g, j, p: seen["decoder"].append((g, j, p.copy())),
    )
    assert len(seen["encoder"]) == len(seen["decoder"]) == 300 + 100  # two groups
    for (ge, je, pe), (gd, jd, pd) in zip(seen["encoder"], seen["decoder"], strict=True):
        assert (ge, je) == (gd, jd)
        assert pe.dtype == np.float64 and np.array_equal(pe.view(np.uint64), pd.view(np.uint64))


def test_coding_restores_the_thread_count(model: torch.nn.Module) -> None:
    torch.set_num_threads(2)
    try:
        code = _code(model, TEXT[:400])
        assert torch.get_num_threads() == 2
        decode_two_part(code.settings, code.model, code.chunks, code.length)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def _reference_bits(model: torch.nn.Module, data: bytes, context: int, stride: int, chunk: int):
    """Σ −log2 p by the plain forward pass of whole windows (no cache), float64 log-softmax:
    byte j ≥ 1 of a chunk is predicted by window w = max(0, ⌈(j − T)/S⌉) (bytes w·S … w·S+T−1)
    at position j − 1 − w·S; byte 0 costs 8 bits."""
    total = 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(data), chunk):
            piece = torch.tensor(list(data[start : start + chunk]), dtype=torch.int64)
            total += 8.0
            for j in range(1, len(piece)):
                w = max(0, -(-(j - context) // stride))
                window = piece[w * stride : w * stride + context]
                logits = model(window[None])[0, j - 1 - w * stride].double()
                total -= float(F.log_softmax(logits, dim=0)[piece[j]]) / math.log(2)
    return total


@pytest.mark.parametrize("stride", [3, CONTEXT])
def test_ideal_bits_match_the_plain_forward_pass(model: torch.nn.Module, stride: int) -> None:
    # The DECODED model codes; the cached incremental pass differs from its whole-window
    # forward only by float32 rounding (~1e-6 per logit), far below 1e-5 of the total.
    data = TEXT[:700]
    code = _code(model, data, stride=stride)
    reference = _reference_bits(decode_model(code.model), data, CONTEXT, stride, 300)
    assert code.ideal_bits == pytest.approx(reference, rel=1e-5)


def test_tiled_windows_cost_the_training_loss(fitted: tuple[bytes, TwoPartCode]) -> None:
    # With stride = context every byte but a chunk's first is coded as the training windows
    # score it: ideal bits = cross-entropy of the decoded model on the tiling / ln 2 + 8 per
    # chunk (chunks a whole number of windows + 1 byte, so the tiling covers them).
    data, code = fitted
    net = decode_model(code.model)
    chunk = 4 * CONTEXT + 1
    tiled = encode_two_part(
        net, ModelSpec.from_dict(code.settings.spec), code.step, data[: 10 * chunk],
        stride=CONTEXT, chunk=chunk,
    )  # fmt: skip
    bits = 0.0
    for start in range(0, 10 * chunk, chunk):
        tokens = torch.tensor(list(data[start : start + chunk]), dtype=torch.int64)
        windows = sequence_windows(tokens, CONTEXT)
        loss = evaluate(net, windows, CategoricalHead()).loss  # mean nats per byte
        bits += 8 + loss * windows.y.numel() / math.log(2)
    assert tiled.ideal_bits == pytest.approx(bits, rel=1e-5)


def test_coded_size_is_within_the_coders_overhead(fitted: tuple[bytes, TwoPartCode]) -> None:
    # constriction: ~0.004 % above the ideal, plus at most two 32-bit words to end a stream;
    # 24-bit probabilities can also save a hair below the float64 ideal.
    _, code = fitted
    assert code.data_bits <= code.ideal_bits * 1.001 + 64 * len(code.chunks)
    assert code.data_bits >= code.ideal_bits * 0.999


def test_settings_round_trip_and_validation() -> None:
    settings = TwoPartSettings(spec=SPEC.to_dict(), context=CONTEXT, chunk=64, stride=4)
    assert TwoPartSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    good = settings.to_dict()
    bad = [
        "not a dict",
        {k: v for k, v in good.items() if k != "chunk"},
        {**good, "colour": "red"},
        {**good, "stride": CONTEXT + 1},
        {**good, "stride": 0},
        {**good, "chunk": "64"},
        {**good, "chunk": True},
        {**good, "context": 2 * CONTEXT},
        {**good, "dtype": "float64"},
        {**good, "threads": 2},
        {**good, "first": "bos"},
        {**good, "version": 99},
        {**good, "spec": {"kind": "mlp", "kwargs": {"sizes": [2, 2]}}},
        {**good, "spec": {"kind": "nothing"}},
        {**good, "spec": [1, 2]},
    ]
    for d in bad:
        with pytest.raises(MdlkitError):
            TwoPartSettings.from_dict(d)  # type: ignore[arg-type]


def test_damaged_inputs_raise_mdlkit_errors_or_decode_to_bytes(model: torch.nn.Module) -> None:
    data = TEXT[:700]
    code = _code(model, data)
    s, m, chunks = code.settings, code.model, list(code.chunks)
    with pytest.raises(MdlkitError):
        decode_two_part(s, m[:-3], chunks, len(data))  # weight file truncated
    with pytest.raises(MdlkitError):
        decode_two_part(s, m[:20] + bytes([m[20] ^ 1]) + m[21:], chunks, len(data))
    with pytest.raises(MdlkitError):
        decode_two_part(s, m, chunks[:-1], len(data))  # a payload missing
    with pytest.raises(MdlkitError):
        decode_two_part(s, m, chunks, len(data) + 300)  # a chunk more than there are payloads
    with pytest.raises(MdlkitError):
        decode_two_part(s, m, [chunks[0][:-1], *chunks[1:]], len(data))  # not whole words
    with pytest.raises(MdlkitError):
        decode_two_part(s, m, chunks, -1)
    with pytest.raises(MdlkitError):
        decode_two_part(s.to_dict(), m, chunks, len(data))  # type: ignore[arg-type]
    other = dataclasses.replace(s, spec={**s.spec, "kwargs": {**s.spec["kwargs"], "d_model": 8}})
    with pytest.raises(MdlkitError):
        decode_two_part(other, m, chunks, len(data))  # settings name another model
    # Wrong lengths that keep the number of chunks, truncated, garbled or empty payloads:
    # MdlkitError or some bytes of the asked length, never another exception.
    rng = np.random.default_rng(0)
    variants = [
        (chunks, len(data) - 1),
        (chunks, len(data) + 1),
        ([chunks[0][:4], *chunks[1:]], len(data)),
        ([b"", *chunks[1:]], len(data)),
        ([rng.integers(0, 256, len(c), dtype=np.uint8).tobytes() for c in chunks], len(data)),
    ]
    for payloads, length in variants:
        try:
            out = decode_two_part(s, m, payloads, length)
        except MdlkitError:
            continue
        assert len(out) == length


def test_plans_and_chunks() -> None:
    assert default_chunk(0) == default_chunk(100_000) == 4096
    assert default_chunk(1_115_394) == 16384 and default_chunk(10**9) == 65536
    for level in (1, 2, 3):
        plan = plan_two_part(1_000_000, level)
        assert plan.train and 1 <= plan.stride <= plan.context
        spec = plan.spec()
        assert spec.kwargs["d_model"] % spec.kwargs["n_heads"] == 0
    assert not plan_two_part(100, 2).train
    small = plan_two_part(2048, 3)
    assert small.context < 128 and small.d_model == 16
    for bad in (0, 4):
        with pytest.raises(MdlkitError):
            plan_two_part(1000, bad)
    with pytest.raises(MdlkitError):
        fit_two_part(b"abc", method="magic")
