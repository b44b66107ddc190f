"""Next-token models over bytes (or any small vocabulary): a decoder-only transformer and an
LSTM/GRU.

Both map token ids ``x`` of shape (B, T) (int64 in ``[0, vocab_size)``) to logits of shape
(B, T, vocab_size): the logits at position t predict token t + 1 from tokens ≤ t. Every weight is
an ordinary parameter (no buffers to code), so the weight codec, the masks and the pruning steps
treat them like any other model. The transformer's causal mask is built on the fly and its
sinusoidal positions are a non-persistent buffer, recomputed by the constructor.

Both also run incrementally, as a coder that predicts one token at a time needs it. The
transformer keeps the keys and values of the positions it has seen in a :data:`KVCache`
(:meth:`ByteTransformer.new_cache`, :meth:`ByteTransformer.forward_cached`): a window's first
positions in one pass, then one new position per call, each attending to the cached ones. The
recurrent model carries its state (:meth:`ByteRNN.step`): a batch of B parallel segments, one
token each.

>>> torch.manual_seed(0) and None
>>> model = ByteTransformer(context=8, d_model=16, n_layers=1, n_heads=2)
>>> model(torch.zeros(3, 8, dtype=torch.int64)).shape
torch.Size([3, 8, 256])
>>> rnn = ByteRNN("gru", d_embed=8, d_hidden=16)
>>> logits, state = rnn.step(torch.tensor([104, 105]), rnn.initial_state(2))
>>> logits.shape, state[0].shape
(torch.Size([2, 256]), torch.Size([1, 2, 16]))
>>> cache = model.new_cache(batch=3)
>>> model.forward_cached(torch.zeros(3, 5, dtype=torch.int64), 0, cache).shape
torch.Size([3, 256])
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from mdlkit.errors import MdlkitError

__all__ = [
    "CELLS",
    "POSITIONS",
    "ByteRNN",
    "ByteTransformer",
    "KVCache",
    "RNNState",
    "norm_parameter_names",
]

POSITIONS = ("learned", "sinusoidal")
CELLS = ("lstm", "gru")

RNNState = tuple[torch.Tensor, ...]
"""A recurrent model's state: ``(h, c)`` for an LSTM, ``(h,)`` for a GRU; each tensor is
(n_layers, B, d_hidden), so segment b's state is ``tuple(s[:, b] for s in state)``."""

KVCache = list[torch.Tensor]
"""A transformer's keys and values by window position: one (2, B, n_heads, context, d_head)
tensor per block (index 0 keys, 1 values), written by :meth:`ByteTransformer.forward_cached`."""

_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def norm_parameter_names(model: nn.Module) -> frozenset[str]:
    """Names of the parameters of normalisation layers (gains and shifts).

    Regularizers leave these alone by default in sequence training: a LayerNorm gain of 1 is a
    scale, not a connection, and pulling it to 0 would switch a whole block off.

    >>> sorted(norm_parameter_names(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))))
    ['1.bias', '1.weight']
    """
    return frozenset(
        f"{module_name}.{name}" if module_name else name
        for module_name, module in model.named_modules()
        if isinstance(module, _NORMS)
        for name, _ in module.named_parameters(recurse=False)
    )


def _check_tokens(x: torch.Tensor, limit: int | None = None) -> None:
    if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
        raise MdlkitError(
            f"a sequence model takes token ids of shape (batch, time) as int64, got "
            f"{x.dtype} of shape {list(x.shape)}"
        )
    if limit is not None and x.shape[1] > limit:
        raise MdlkitError(f"the model's context is {limit} tokens, the input has {x.shape[1]}")


def _sinusoids(context: int, d_model: int) -> torch.Tensor:
    """The (context, d_model) table sin(t / 10000^(2i/d)), cos(…) of "Attention is all you need"."""
    position = torch.arange(context, dtype=torch.float32)[:, None]
    frequency = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(context, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return table


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions ≤ t only.

    ``qkv`` projects to queries, keys and values at once (a (3·H·d_head, d) weight: all heads'
    queries, then keys, then values); ``out`` mixes the heads back. ``d_head`` defaults to
    d / H; a shrunk transformer (:mod:`mdlkit.models.shrink_transformer`) keeps d_head and has
    fewer heads.
    """

    def __init__(self, d_model: int, n_heads: int, d_head: int | None = None) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads if d_head is None else d_head
        inner = self.n_heads * self.d_head
        self.qkv = nn.Linear(d_model, 3 * inner)
        self.out = nn.Linear(inner, d_model)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values of ``x`` (B, t, d), each (B, n_heads, t, d_head)."""
        batch, time, _ = x.shape
        inner = self.n_heads * self.d_head
        qkv = self.qkv(x)
        return tuple(  # sliced, not split: a block may keep no head at all
            qkv[..., i * inner : (i + 1) * inner]
            .reshape(batch, time, self.n_heads, self.d_head)
            .transpose(1, 2)
            for i in range(3)
        )

    def _mix(self, y: torch.Tensor) -> torch.Tensor:
        """The heads' outputs (B, n_heads, t, d_head) back to the residual stream (B, t, d)."""
        batch, _, time, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(batch, time, self.out.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n_heads == 0:  # a shrunk block that kept no head adds its output bias alone
            return self.out.bias.expand_as(x)
        q, k, v = self._heads(x)
        # is_causal builds the triangular mask on the fly: nothing to store or code.
        return self._mix(F.scaled_dot_product_attention(q, k, v, is_causal=True))

    def new_cache(self, batch: int, context: int) -> torch.Tensor:
        """Zero keys and values for ``context`` positions: (2, batch, n_heads, context, d_head)."""
        return torch.zeros(2, batch, self.n_heads, context, self.d_head)

    def forward_cached(self, x: torch.Tensor, position: int, kv: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` for ``x`` (B, t, d) at positions ``position`` … ``position + t − 1``,
        writing their keys and values into ``kv`` (see :meth:`ByteTransformer.forward_cached`)."""
        if self.n_heads == 0:
            return self.out.bias.expand_as(x)
        q, k, v = self._heads(x)
        end = position + x.shape[1]
        kv[0, :, :, position:end] = k
        kv[1, :, :, position:end] = v
        if position == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, kv[0, :, :, :end], kv[1, :, :, :end])
        return self._mix(y)


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x)) (GELU)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

    def forward_cached(self, x: torch.Tensor, position: int, kv: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with the attention read from and written to ``kv``."""
        x = x + self.attn.forward_cached(self.ln1(x), position, kv)
        return x + self.mlp(self.ln2(x))


class ByteTransformer(nn.Module):
    """A small decoder-only transformer: token embedding + positions → pre-norm blocks → final
    LayerNorm → a linear map to ``vocab_size`` logits (not tied to the embedding, so each can be
    pruned on its own).

    Args:
        context: the longest input (positions 0 … context − 1).
        d_model: width of the residual stream; a multiple of ``n_heads``.
        n_layers: number of blocks.
        n_heads: attention heads per block.
        d_ff: hidden width of each block's MLP (default 4·d_model).
        positions: ``"learned"`` (a (context, d_model) parameter) or ``"sinusoidal"`` (fixed,
            not a parameter).
        vocab_size: number of token values (256 for bytes).

    Weights start as in GPT-2: N(0, 0.02²), the projections into the residual stream
    N(0, 0.02² / (2·n_layers)), biases 0, LayerNorms at gain 1; seed torch first.
    """

    sinusoids: torch.Tensor | None

    def __init__(
        self,
        context: int = 64,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int | None = None,
        positions: str = "learned",
        vocab_size: int = 256,
    ) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        if min(context, d_model, n_layers, n_heads, d_ff, vocab_size) < 1:
            raise MdlkitError("a transformer's sizes must all be >= 1")
        if d_model % n_heads:
            raise MdlkitError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        if positions not in POSITIONS:
            raise MdlkitError(f"positions must be one of {', '.join(POSITIONS)}, got {positions!r}")
        self.context = context
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(context, d_model) if positions == "learned" else None
        table = _sinusoids(context, d_model) if positions == "sinusoidal" else None
        self.register_buffer("sinusoids", table, persistent=False)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self._init_weights(n_layers)

    @torch.no_grad()
    def _init_weights(self, n_layers: int) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self._blocks():
            for residual in (block.attn.out, block.mlp[2]):
                assert isinstance(residual, nn.Linear)
                nn.init.normal_(residual.weight, std=0.02 / math.sqrt(2 * n_layers))

    def _blocks(self) -> list[Block]:
        blocks = list(self.blocks)
        assert all(isinstance(b, Block) for b in blocks)
        return blocks  # type: ignore[return-value]

    def _embed(self, x: torch.Tensor, position: int) -> torch.Tensor:
        """Token embeddings plus the positions ``position`` … ``position + T − 1`` of ``x``."""
        end = position + x.shape[1]
        if self.positions is not None:
            where = self.positions.weight[position:end]
        else:
            assert self.sinusoids is not None
            where = self.sinusoids[position:end]
        return self.embed(x) + where

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab_size) for token ids ``x`` (B, T), T ≤ context."""
        _check_tokens(x, self.context)
        h = self._embed(x, 0)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def new_cache(self, batch: int, context: int | None = None) -> KVCache:
        """An empty :data:`KVCache` for ``batch`` sequences of up to ``context`` positions (the
        model's by default)."""
        context = self.context if context is None else context
        return [block.attn.new_cache(batch, context) for block in self._blocks()]

    def forward_cached(self, x: torch.Tensor, position: int, cache: KVCache) -> torch.Tensor:
        """Logits (B, vocab_size) of the LAST of the tokens ``x`` (B, t), which sit at window
        positions ``position`` … ``position + t − 1``; keys and values of earlier positions are
        read from ``cache`` and those of ``x`` written into it.

        Either a prefill from the window's start (``position == 0``, causal attention among the
        t tokens) or one new token (t == 1, attending to every cached position ≤ its own). Same
        modules and the same attention kernel as :meth:`forward`; it agrees with it up to float
        rounding (the shapes differ).
        """
        h = self._embed(x, position)
        for block, kv in zip(self._blocks(), cache, strict=True):
            h = block.forward_cached(h, position, kv)
        return self.head(self.norm(h[:, -1]))


class ByteRNN(nn.Module):
    """A recurrent next-token model: embedding → ``n_layers`` LSTM or GRU layers → a linear map
    to ``vocab_size`` logits.

    Args:
        cell: ``"lstm"`` or ``"gru"``.
        d_embed: embedding width.
        d_hidden: hidden width of every recurrent layer.
        n_layers: stacked recurrent layers.
        vocab_size: number of token values (256 for bytes).

    :meth:`forward` runs whole sequences from a zero state; :meth:`forward_with_state` and
    :meth:`step` carry the state, and agree with it up to float rounding (the kernels differ).
    """

    def __init__(
        self,
        cell: str = "lstm",
        d_embed: int = 32,
        d_hidden: int = 128,
        n_layers: int = 1,
        vocab_size: int = 256,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise MdlkitError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if min(d_embed, d_hidden, n_layers, vocab_size) < 1:
            raise MdlkitError("a recurrent model's sizes must all be >= 1")
        self.cell = cell
        self.n_layers = n_layers
        self.d_hidden = d_hidden
        self.embed = nn.Embedding(vocab_size, d_embed)
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_class(d_embed, d_hidden, n_layers, batch_first=True)
        self.head = nn.Linear(d_hidden, vocab_size)

    def initial_state(self, batch_size: int) -> RNNState:
        """The zero state of ``batch_size`` segments (what :meth:`forward` starts from)."""
        zeros = torch.zeros(self.n_layers, batch_size, self.d_hidden)
        return (zeros, zeros.clone()) if self.cell == "lstm" else (zeros,)

    def forward_with_state(
        self, x: torch.Tensor, state: RNNState | None = None
    ) -> tuple[torch.Tensor, RNNState]:
        """Logits (B, T, vocab_size) for ``x`` (B, T) from ``state`` (None: zeros), and the state
        after the last token."""
        _check_tokens(x)
        h = self.embed(x)
        new_state: RNNState
        if isinstance(self.rnn, nn.LSTM):
            lstm_state = None if state is None else (state[0], state[1])
            h, (hidden, memory) = self.rnn(h, lstm_state)
            new_state = (hidden, memory)
        else:
            h, hidden = self.rnn(h, None if state is None else state[0])
            new_state = (hidden,)
        return self.head(h), new_state

    def step(self, tokens: torch.Tensor, state: RNNState) -> tuple[torch.Tensor, RNNState]:
        """One time step of B segments: logits (B, vocab_size) of the NEXT token after
        ``tokens`` (B,), and the new state."""
        logits, new_state = self.forward_with_state(tokens[:, None], state)
        return logits[:, 0], new_state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab_size) for token ids ``x`` (B, T), from the zero state."""
        return self.forward_with_state(x)[0]
