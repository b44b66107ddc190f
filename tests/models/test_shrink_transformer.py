"""Shrinking a byte transformer: heads and feed-forward units that cannot change the outputs go
(zero outgoing weights; zero value rows or zero incoming rows, their constant folded into a
bias), the outputs stay the same up to float32 rounding, and the parameter count is the closed
form of the kept sizes."""

import pytest
import torch

from mdlkit import MdlkitError
from mdlkit.models import ByteTransformer
from mdlkit.models.shrink_transformer import (
    TransformerSizes,
    build_transformer,
    shrink_transformer,
    transformer_sizes,
)

D, HEADS, D_FF, VOCAB, CONTEXT = 16, 4, 12, 32, 10


def _random_transformer(positions: str = "learned", seed: int = 0) -> ByteTransformer:
    """Weights and biases N(0, 0.3²): every bias nonzero, so a folded constant matters."""
    torch.manual_seed(seed)
    model = ByteTransformer(CONTEXT, D, 2, HEADS, D_FF, positions, VOCAB)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


def _parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _closed_form(sizes: TransformerSizes, learned: bool) -> int:
    """Embedding (+ learned positions), per block 2 LayerNorms, qkv and out of H heads of width
    w, the feed-forward maps of f units; the final LayerNorm and the output map."""
    d, v = sizes.d_model, sizes.vocab_size
    total = v * d + (sizes.context * d if learned else 0) + 2 * d + d * v + v
    for h, w, f in sizes.blocks:
        total += 4 * d + 3 * h * w * (d + 1) + h * w * d + d + d * f + f + f * d + d
    return total


def _outputs(model: ByteTransformer) -> torch.Tensor:
    x = torch.randint(0, VOCAB, (3, CONTEXT), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_dead_heads_and_units_go_and_the_outputs_stay(positions: str) -> None:
    model = _random_transformer(positions)
    w = D // HEADS
    first, second = model.blocks[0], model.blocks[1]
    with torch.no_grad():
        first.mlp[2].weight[:, [0, 3]] = 0  # no outgoing weights: gone exactly
        first.mlp[0].weight[[5, 7]] = 0  # no incoming weights: GELU(b1) folded into b2
        second.mlp[0].weight[:] = 0  # every unit without inputs: the block adds a constant
        first.attn.out.weight[:, 0:w] = 0  # head 0 writes nothing
        first.attn.qkv.weight[2 * D + 2 * w : 2 * D + 3 * w] = 0  # head 2: values = bias
        second.attn.qkv.weight[0:w] = 0  # zero queries: uniform attention, still mixing: kept
        second.attn.out.weight[:] = 0  # no head writes anything
    reference = _outputs(model)
    shrunk = shrink_transformer(model)
    assert shrunk.heads == ((2, 4), (0, 4))
    assert shrunk.units == ((8, 12), (0, 12))
    assert shrunk.folded == 1 + 2 + 12  # head 2, units 5 and 7, every unit of block 2
    assert shrunk.layout() == "heads 4+4 kept as 2+0, feed-forward 12+12 kept as 8+0"
    # Float32 logits of order 1 (max |Δ| measured 3.6e-7): folded biases rounded once to float32.
    assert (_outputs(shrunk.model) - reference).abs().max() <= 1e-6
    sizes = transformer_sizes(shrunk.model)
    assert sizes.blocks == ((2, w, 8), (0, w, 0))
    assert _parameters(shrunk.model) == _closed_form(sizes, positions == "learned")
    assert _parameters(model) == _closed_form(transformer_sizes(model), positions == "learned")
    # Incremental inference (the compressor's path) agrees as well.
    x = torch.randint(0, VOCAB, (2, 6), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        cache, small = model.new_cache(2), shrunk.model.new_cache(2)
        a = model.forward_cached(x[:, :5], 0, cache)
        b = shrunk.model.forward_cached(x[:, :5], 0, small)
        assert (a - b).abs().max() <= 1e-6
        a = model.forward_cached(x[:, 5:], 5, cache)
        b = shrunk.model.forward_cached(x[:, 5:], 5, small)
        assert (a - b).abs().max() <= 1e-6


def test_nothing_dead_changes_nothing_bit_for_bit() -> None:
    model = _random_transformer()
    shrunk = shrink_transformer(model)
    assert shrunk.folded == 0 and shrunk.heads == ((4, 4), (4, 4))
    assert torch.equal(_outputs(shrunk.model), _outputs(model))  # float32 → float64 → float32
    assert _parameters(shrunk.model) == _parameters(model)


def test_the_sizes_rebuild_the_shrunk_model() -> None:
    model = _random_transformer(seed=3)
    with torch.no_grad():
        model.blocks[1].attn.out.weight[:, : D // HEADS] = 0
        model.blocks[0].mlp[2].weight[:, :5] = 0
    shrunk = shrink_transformer(model)
    sizes = TransformerSizes.from_dict(shrunk.sizes.to_dict())
    rebuilt = build_transformer(sizes)
    rebuilt.load_state_dict(shrunk.model.state_dict())
    assert torch.equal(_outputs(rebuilt), _outputs(shrunk.model))
    with pytest.raises(MdlkitError, match="transformer description is damaged"):
        TransformerSizes.from_dict({"context": 3})
    with pytest.raises(MdlkitError, match="only a ByteTransformer"):
        shrink_transformer(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
