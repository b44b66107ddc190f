"""Byte-level next-token models: shapes, causality, stepping, the weight codec, the regularizers,
pruning and the bits-per-byte of the head — on tiny models and a few KB of text."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mdlkit import MdlkitError
from mdlkit.coding import decode_model, encode_model
from mdlkit.data import as_tokens, sequence_splits, sequence_windows
from mdlkit.heads import CategoricalHead, evaluate, head_for
from mdlkit.models import ByteRNN, ByteTransformer, ModelSpec, check_model, norm_parameter_names
from mdlkit.pruning import count_nonzero, quantize_model, random_gradient_prune, tamade
from mdlkit.training import PruneConfig, TrainedByteModel, prune, train_byte_model

CONTEXT = 16
TRANSFORMER = ModelSpec(
    "byte_transformer", {"context": CONTEXT, "d_model": 32, "n_layers": 1, "n_heads": 2}
)
SINUSOIDAL = ModelSpec(
    "byte_transformer",
    {"context": CONTEXT, "d_model": 16, "n_layers": 2, "n_heads": 4, "positions": "sinusoidal"},
)
LSTM = ModelSpec("byte_rnn", {"cell": "lstm", "d_embed": 16, "d_hidden": 32})
GRU = ModelSpec("byte_rnn", {"cell": "gru", "d_embed": 8, "d_hidden": 16, "n_layers": 2})
SPECS = {"transformer": TRANSFORMER, "sinusoidal": SINUSOIDAL, "lstm": LSTM, "gru": GRU}


WORDS = (
    "the a model codes bits of data with weights and prunes its small ones so short files remain"
)


def _text(n_bytes: int, seed: int = 0) -> bytes:
    """Seeded English-like text over a small word list: learnable, and the same every run."""
    words = WORDS.split()
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while sum(len(w) + 1 for w in out) < n_bytes:
        out.append(str(words[rng.integers(len(words))]) + ("." if rng.random() < 0.1 else ""))
    return " ".join(out).encode()[:n_bytes]


DATA = _text(4096)


def _build(spec: ModelSpec, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return spec.build()


@functools.cache  # each (model, method) trains once per session; callers copy before changing
def _train(name: str, method: str, epochs: int = 6) -> TrainedByteModel:
    return train_byte_model(
        DATA,
        SPECS[name],
        method=method,
        alpha=1e-4,
        epochs=epochs,
        batch_size=16,
        lr=3e-3 if name == "transformer" else 1e-2,  # a recurrent net starts slower
    )


@pytest.fixture
def trained_transformer() -> TrainedByteModel:
    return _train("transformer", "drr")


@pytest.mark.parametrize("name", SPECS)
def test_models_map_token_windows_to_logits_per_position(name: str) -> None:
    model = _build(SPECS[name])
    x = torch.randint(256, (3, CONTEXT))
    assert model(x).shape == (3, CONTEXT, 256)
    assert model(x[:, :5]).shape == (3, 5, 256)  # shorter windows work too
    small = ModelSpec(SPECS[name].kind, {**SPECS[name].kwargs, "vocab_size": 7}).build()
    assert small(torch.randint(7, (2, 4))).shape == (2, 4, 7)
    # Everything a state dict holds is a parameter: the codec, which codes parameters, misses
    # nothing (the sinusoids are a non-persistent buffer, the causal mask is built on the fly).
    assert set(model.state_dict()) == {n for n, _ in model.named_parameters()}


def test_bad_inputs_and_sizes_are_refused() -> None:
    with pytest.raises(MdlkitError, match="context is 16 tokens, the input has 17"):
        _build(TRANSFORMER)(torch.zeros(1, 17, dtype=torch.int64))
    with pytest.raises(MdlkitError, match="token ids of shape"):
        _build(LSTM)(torch.zeros(2, 3))
    with pytest.raises(MdlkitError, match="multiple of n_heads"):
        ByteTransformer(d_model=10, n_heads=3)
    with pytest.raises(MdlkitError, match="cell must be one of lstm, gru"):
        ByteRNN("rnn")
    with pytest.raises(MdlkitError, match="byte sequence model"):
        check_model("byte_rnn", data="digits")


@pytest.mark.parametrize("name", SPECS)
def test_changing_token_t_never_changes_the_logits_before_t(name: str) -> None:
    model = _build(SPECS[name]).eval()
    x = torch.randint(256, (2, CONTEXT), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        base = model(x)
        for t in (0, 5, CONTEXT - 1):
            changed = x.clone()
            changed[:, t] = (changed[:, t] + 1) % 256
            out = model(changed)
            # Bit for bit: a masked score contributes exp(−inf) = 0 exactly.
            assert torch.equal(out[:, :t], base[:, :t])
            assert not torch.equal(out[:, t], base[:, t])  # the model does look at token t


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_stepping_one_token_at_a_time_equals_the_whole_sequence(name: str) -> None:
    model = _build(SPECS[name]).eval()
    assert isinstance(model, ByteRNN)
    x = torch.randint(256, (3, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model(x)
        state = model.initial_state(3)
        steps = []
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            steps.append(logits)
        first, middle = model.forward_with_state(x[:, :7])
        rest, _ = model.forward_with_state(x[:, 7:], middle)
    # Different kernels for T = 1 and T = 20 sum in other orders: float32 rounding only.
    assert torch.allclose(torch.stack(steps, dim=1), full, rtol=0, atol=1e-5)
    assert torch.allclose(torch.cat([first, rest], dim=1), full, rtol=0, atol=1e-5)
    # A segment's state is its column: segment 1 stepped alone continues identically.
    alone = tuple(s[:, 1:2] for s in middle)
    one, _ = model.forward_with_state(x[1:2, 7:], alone)
    assert torch.allclose(one, rest[1:2], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["transformer", "sinusoidal"])
@pytest.mark.parametrize("prefill", [1, 6])
def test_cached_forward_equals_the_whole_window(name: str, prefill: int) -> None:
    model = _build(SPECS[name]).eval()
    assert isinstance(model, ByteTransformer)
    x = torch.randint(256, (3, CONTEXT), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(x)
        cache = model.new_cache(3)
        steps = [model.forward_cached(x[:, :prefill], 0, cache)]
        steps += [model.forward_cached(x[:, t : t + 1], t, cache) for t in range(prefill, CONTEXT)]
    # Attention over a cache of another shape sums in another order: float32 rounding only.
    assert torch.allclose(torch.stack(steps, dim=1), full[:, prefill - 1 :], rtol=0, atol=1e-5)
    # The cache holds the window's keys and values, one (2, B, heads, T, d_head) per block.
    sizes = SPECS[name].kwargs
    heads, per_head = sizes["n_heads"], sizes["d_model"] // sizes["n_heads"]
    assert [kv.shape for kv in cache] == [(2, 3, heads, CONTEXT, per_head)] * sizes["n_layers"]


@pytest.mark.parametrize("name", SPECS)
def test_weight_codec_round_trip_equals_the_quantized_model(name: str) -> None:
    spec = SPECS[name]
    model = _build(spec)
    with torch.no_grad():  # some pruned entries, as after TAMADE
        for p in model.parameters():
            p.masked_fill_(p.abs() < 0.01, 0.0)
    step = 2.0**-9
    decoded = decode_model(encode_model(model, spec, step).data)
    reference = copy.deepcopy(model)
    quantize_model(reference, step)
    for (name_d, p_d), (name_r, p_r) in zip(
        decoded.named_parameters(), reference.named_parameters(), strict=True
    ):
        assert name_d == name_r and torch.equal(p_d, p_r)
    x = torch.randint(256, (4, CONTEXT))
    with torch.no_grad():
        assert torch.equal(decoded.eval()(x), reference.eval()(x))


def test_norm_parameters_are_the_layernorms() -> None:
    layers = [f"blocks.{i}.{ln}" for i in (0, 1) for ln in ("ln1", "ln2")] + ["norm"]
    expected = {f"{layer}.{p}" for layer in layers for p in ("weight", "bias")}
    assert norm_parameter_names(_build(SINUSOIDAL)) == expected
    assert norm_parameter_names(_build(LSTM)) == frozenset()


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
@pytest.mark.parametrize("method", ["drr", "l1", "pmmp"])
def test_every_regularizer_trains_the_model_and_shrinks_it(kind: str, method: str) -> None:
    spec = SPECS[kind]
    before = evaluate(_build(spec), sequence_splits(DATA, CONTEXT).train).loss
    trained = _train(kind, method)
    after = evaluate(trained.model, trained.splits.train).loss
    assert before > math.log(256) - 0.5  # an untrained model is near the uniform 8 bits
    assert after < before - 2.0  # 6 epochs on 3.3 KB learn the word list's letters
    plain = _train(kind, "none")
    # The penalty pulls weights towards 0: fewer of them are left at |θ| ≥ 0.01.
    assert trained.result.history[-1].above_001 < plain.result.history[-1].above_001


def test_tamade_prunes_on_the_validation_lm_loss(trained_transformer: TrainedByteModel) -> None:
    model = copy.deepcopy(trained_transformer.model)
    val = trained_transformer.splits.val
    before = count_nonzero(model)
    result = tamade(model, lambda m: evaluate(m, val), delta=0.05)
    assert result.threshold > 0 and count_nonzero(model) < 0.9 * before
    assert evaluate(model, val).loss <= 1.05 * result.reference.loss


def test_random_gradient_pruning_removes_exactly_the_dangling_weights() -> None:
    model = _build(TRANSFORMER)
    block = model.blocks[0]
    with torch.no_grad():  # MLP unit 3 feeds nothing: its input row and bias dangle
        block.mlp[2].weight[:, 3] = 0.0
        block.mlp[0].bias[3] = 0.1  # biases start at 0; this one must go too
    before = count_nonzero(model)
    random_gradient_prune(model, (CONTEXT,), batch_size=32, vocab_size=256)
    assert before - count_nonzero(model) == 32 + 1  # d_model weights and one bias
    assert int(block.mlp[0].weight[3].count_nonzero()) == 0

    lstm = _build(LSTM)
    hidden, embed = 32, 16
    with torch.no_grad():  # hidden unit 5 is read by neither the output nor the recurrence
        lstm.head.weight[:, 5] = 0.0
        lstm.rnn.weight_hh_l0[:, 5] = 0.0
    before = count_nonzero(lstm)
    random_gradient_prune(lstm, (CONTEXT,), batch_size=32, vocab_size=256)
    # Its four gate rows: input weights, recurrent weights (column 5 already 0), two biases.
    assert before - count_nonzero(lstm) == 4 * (embed + hidden - 1 + 2)

    with pytest.raises(MdlkitError, match="at least 256 tokens"):
        random_gradient_prune(lstm, (4,), batch_size=8, vocab_size=256)


def test_the_shared_prune_step_works_on_byte_windows(
    trained_transformer: TrainedByteModel,
) -> None:
    model = copy.deepcopy(trained_transformer.model)
    result = prune(model, trained_transformer.splits, PruneConfig(delta=0.05, random_batch=64))
    assert result.nonzero_after < result.nonzero_before
    assert result.mask.n_kept == count_nonzero(model)


def test_head_bits_per_byte_match_an_independent_cross_entropy(
    trained_transformer: TrainedByteModel,
) -> None:
    model, test = trained_transformer.model.eval(), trained_transformer.splits.test
    head = head_for(test)
    assert isinstance(head, CategoricalHead)
    bits = head.bits(model, test.x, test.y)
    assert bits.shape == (test.y.numel(),)
    with torch.no_grad():
        logits = model(test.x)
    expected = float(F.cross_entropy(logits.reshape(-1, 256).double(), test.y.reshape(-1)))
    expected /= math.log(2)
    # Both from the same float32 logits in float64: agreement to float64 rounding.
    assert float(bits.mean()) == pytest.approx(expected, rel=1e-12)
    # The training loss (float32 cross-entropy, mean per token) and its bits agree to float32.
    assert evaluate(model, test).loss / math.log(2) == pytest.approx(expected, rel=1e-5)
    assert trained_transformer.bits_per_token("test") == pytest.approx(expected, rel=1e-5)
    assert expected < 4.0  # well below a uniform code's 8 bits per byte
    # Accuracy counts tokens, not windows.
    assert 0.0 < evaluate(model, test).accuracy < 1.0


def test_windows_tile_contiguous_ranges_without_leakage() -> None:
    tokens = as_tokens(DATA)
    splits = sequence_splits(DATA, CONTEXT, val_fraction=0.1, test_fraction=0.2)
    n_val, n_test = round(len(DATA) * 0.1), round(len(DATA) * 0.2)
    n_train = len(DATA) - n_val - n_test
    # Train targets are the train range's tokens after the first, in order, each once.
    targets = splits.train.y.reshape(-1)
    assert torch.equal(targets, tokens[1 : 1 + len(targets)])
    assert 1 + len(targets) <= n_train < 1 + len(targets) + CONTEXT
    assert torch.equal(splits.val.x[0], tokens[n_train : n_train + CONTEXT])
    assert torch.equal(splits.test.x[0], tokens[n_train + n_val : n_train + n_val + CONTEXT])
    assert torch.equal(splits.train.y[:, :-1], splits.train.x[:, 1:])  # y is x shifted by one
    overlapping = sequence_windows(tokens[:10], 4, stride=1)
    assert len(overlapping) == 6 and overlapping.x[1].tolist() == tokens[1:5].tolist()
    assert as_tokens([1, 2, 3]).tolist() == as_tokens(np.array([1, 2, 3])).tolist() == [1, 2, 3]
    with pytest.raises(MdlkitError, match="fewer than one window"):
        sequence_splits(DATA[:100], 64)
    with pytest.raises(MdlkitError, match=r"token ids must lie in \[0, 9\]"):
        as_tokens([3, 10], vocab_size=10)


def test_categorical_head_on_positions_is_the_mean_over_all_tokens() -> None:
    logits, y = torch.randn(3, 5, 7), torch.randint(7, (3, 5))
    head = CategoricalHead()
    flat = F.cross_entropy(logits.reshape(-1, 7), y.reshape(-1))
    assert torch.equal(head(logits, y), flat)
    assert head.n_correct(logits, y) == int((logits.argmax(-1) == y).sum())
    with pytest.raises(MdlkitError, match="logits of shape"):
        head(logits, y[:, :4])
