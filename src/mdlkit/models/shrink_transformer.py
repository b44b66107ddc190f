"""A byte transformer without the attention heads and feed-forward units that cannot change
its outputs.

In block b of a :class:`~mdlkit.models.ByteTransformer`:

- **a feed-forward unit** i (row i of the first linear map W1, b1; column i of the second, W2)
  goes when its outgoing column W2[:, i] is all zero (it adds nothing, exactly), or when its
  incoming row W1[i] is all zero: its output is then the constant GELU(b1[i]) at every
  position, and GELU(b1[i])·W2[:, i] is added to the bias b2 (GELU(0) = 0: nothing to add);
- **a head** h (its slices of the query, key and value rows of ``qkv`` and its columns of
  ``out``) goes when its columns of ``out`` are all zero, or when its value rows are all zero:
  every value is then the bias slice v_h, attention weights sum to 1, so the head's output is
  v_h at every position and W_out[:, h]·v_h is added to the bias of ``out``. A head whose
  queries or keys alone are zero attends uniformly: it still mixes values, and is kept.

Removing a unit or a head changes no other unit's inputs or outputs (the residual stream keeps
its width: the LayerNorms mix it), so one pass finds everything. Weights are copied, never
recomputed; biases are folded in float64 and stored as float32, so the outputs agree up to float
rounding. The smaller model is a ``ByteTransformer`` whose blocks have fewer heads (of the same
width) and narrower feed-forward maps; :class:`TransformerSizes` describes it as JSON and
:func:`build_transformer` rebuilds it.

>>> torch.manual_seed(0) and None
>>> net = ByteTransformer(context=8, d_model=8, n_layers=1, n_heads=2, d_ff=6)
>>> with torch.no_grad():
...     net.blocks[0].mlp[2].weight[:, :4] = 0; net.blocks[0].attn.out.weight[:, 4:] = 0
>>> shrink_transformer(net).layout()
'heads 2 kept as 1, feed-forward 6 kept as 2'
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.errors import MdlkitError
from mdlkit.models.layers import quiet_empty_layers
from mdlkit.models.sequence import Block, ByteTransformer, CausalSelfAttention

__all__ = [
    "ShrunkTransformer",
    "TransformerSizes",
    "build_transformer",
    "shrink_transformer",
    "transformer_sizes",
]


@dataclass(frozen=True)
class TransformerSizes:
    """What a (shrunk) byte transformer is made of: its width, vocabulary, positions, and per
    block ``(heads, d_head, d_ff)``."""

    context: int
    d_model: int
    vocab_size: int
    positions: str
    blocks: tuple[tuple[int, int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TransformerSizes:
        try:
            blocks = tuple((_size(h, 0), _size(w, 1), _size(f, 0)) for h, w, f in d["blocks"])
            return cls(_size(d["context"], 1), _size(d["d_model"], 1),
                       _size(d["vocab_size"], 1), str(d["positions"]), blocks)  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise MdlkitError(f"the transformer description is damaged ({exc!r})") from None


def _size(value: Any, least: int) -> int:
    """``value`` if it is a whole number ≥ ``least`` (a shrunk block may keep 0 heads or units;
    a JSON 8.7 or true is no size, and is not rounded into one)."""
    if type(value) is not int or value < least:
        raise ValueError(f"{value!r} is not a size of at least {least}")
    return value


def _block_sizes(block: Block) -> tuple[int, int, int]:
    """``(heads, d_head, d_ff)`` of one block."""
    first = block.mlp[0]
    assert isinstance(first, nn.Linear)
    return block.attn.n_heads, block.attn.d_head, first.out_features


def transformer_sizes(model: ByteTransformer) -> TransformerSizes:
    """The sizes of ``model``."""
    blocks = []
    for block in model.blocks:
        assert isinstance(block, Block)
        blocks.append(_block_sizes(block))
    positions = "learned" if model.positions is not None else "sinusoidal"
    return TransformerSizes(model.context, model.embed.embedding_dim,
                            model.embed.num_embeddings, positions, tuple(blocks))  # fmt: skip


def build_transformer(sizes: TransformerSizes) -> ByteTransformer:
    """A byte transformer of ``sizes`` (weights arbitrary: load a state dict next)."""
    d = sizes.d_model
    with quiet_empty_layers():
        model = ByteTransformer(sizes.context, d, max(len(sizes.blocks), 1), 1, 1,
                                sizes.positions, sizes.vocab_size)  # fmt: skip
        blocks = []
        for heads, d_head, d_ff in sizes.blocks:
            block = Block(d, 1, 1)
            block.attn = CausalSelfAttention(d, heads, d_head)
            block.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
            blocks.append(block)
    model.blocks = nn.ModuleList(blocks)
    return model.eval()


@dataclass(frozen=True)
class ShrunkTransformer:
    """The smaller transformer and what was kept."""

    model: ByteTransformer
    """the transformer without its dead heads and units, in eval mode"""
    heads: tuple[tuple[int, int], ...]
    """(kept, original) heads of every block"""
    units: tuple[tuple[int, int], ...]
    """(kept, original) feed-forward units of every block"""
    folded: int
    """removed heads and units whose constant output went into a bias"""

    @property
    def sizes(self) -> TransformerSizes:
        return transformer_sizes(self.model)

    def layout(self) -> str:
        """``"heads 4+4 kept as 3+1, feed-forward 256+256 kept as 40+17"``."""

        def joined(pairs: tuple[tuple[int, int], ...], i: int) -> str:
            return "+".join(str(p[i]) for p in pairs)

        return (
            f"heads {joined(self.heads, 1)} kept as {joined(self.heads, 0)}, "
            f"feed-forward {joined(self.units, 1)} kept as {joined(self.units, 0)}"
        )


def _linear(weight: torch.Tensor, bias: torch.Tensor, dtype: torch.dtype) -> nn.Linear:
    with quiet_empty_layers():
        layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight.to(dtype))
        layer.bias.copy_(bias.to(dtype))
    return layer


def _shrink_mlp(mlp: nn.Module) -> tuple[nn.Sequential, int, int]:
    """The block's feed-forward map without its dead units; (kept, folded)."""
    first, act, second = mlp[0], mlp[1], mlp[2]  # type: ignore[index]
    assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
    if not isinstance(act, nn.GELU):
        raise MdlkitError(f"a transformer block with a {type(act).__name__} is not shrunk")
    dtype = first.weight.dtype
    w1, b1 = first.weight.detach().double(), first.bias.detach().double()
    w2, b2 = second.weight.detach().double(), second.bias.detach().double().clone()
    no_inputs = (w1 == 0).all(dim=1)
    keep = ~((w2 == 0).all(dim=0) | no_inputs)
    constant = F.gelu(b1, approximate=act.approximate) * (no_inputs & ~(w2 == 0).all(dim=0))
    b2 += w2 @ constant  # the removed units without inputs send GELU(b1) on every position
    folded = int((constant != 0).sum())
    mlp_out = nn.Sequential(
        _linear(w1[keep], b1[keep], dtype), copy.deepcopy(act), _linear(w2[:, keep], b2, dtype)
    )
    return mlp_out, int(keep.sum()), folded


def _shrink_attention(attn: CausalSelfAttention) -> tuple[CausalSelfAttention, int, int]:
    """The attention without its dead heads; (kept, folded)."""
    heads, width = attn.n_heads, attn.d_head
    inner = heads * width
    dtype = attn.qkv.weight.dtype
    w, b = attn.qkv.weight.detach().double(), attn.qkv.bias.detach().double()
    wo, bo = attn.out.weight.detach().double(), attn.out.bias.detach().double().clone()
    keep, folded = [], 0
    for h in range(heads):
        cols = slice(h * width, (h + 1) * width)
        rows = slice(2 * inner + h * width, 2 * inner + (h + 1) * width)  # the value rows
        if bool((wo[:, cols] == 0).all()):
            continue
        if bool((w[rows] == 0).all()):
            # Every value is b[rows]; attention weights sum to 1: the output is that bias.
            bo += wo[:, cols] @ b[rows]
            folded += int(bool((b[rows] != 0).any()))
            continue
        keep.append(h)
    head_cols = torch.tensor([h * width + j for h in keep for j in range(width)], dtype=torch.int64)
    qkv_rows = torch.cat([head_cols + i * inner for i in range(3)])
    with quiet_empty_layers():
        new = CausalSelfAttention(attn.qkv.in_features, len(keep), width)
    new.qkv = _linear(w[qkv_rows], b[qkv_rows], dtype)
    new.out = _linear(wo[:, head_cols], bo, dtype)
    return new, len(keep), folded


def shrink_transformer(model: ByteTransformer) -> ShrunkTransformer:
    """``model`` without the heads and feed-forward units that cannot change its outputs;
    ``model`` is not changed."""
    if not isinstance(model, ByteTransformer):
        raise MdlkitError(f"only a ByteTransformer is shrunk here, not {type(model).__name__}")
    heads, units, blocks, folded = [], [], [], 0
    for block in model.blocks:
        assert isinstance(block, Block)
        attn, kept_heads, folded_heads = _shrink_attention(block.attn)
        mlp, kept_units, folded_units = _shrink_mlp(block.mlp)
        new = copy.deepcopy(block)
        new.attn, new.mlp = attn, mlp
        blocks.append(new)
        heads.append((kept_heads, block.attn.n_heads))
        units.append((kept_units, _block_sizes(block)[2]))
        folded += folded_heads + folded_units
    shrunk = copy.deepcopy(model)
    shrunk.blocks = nn.ModuleList(blocks)
    return ShrunkTransformer(shrunk.eval(), tuple(heads), tuple(units), folded)
