"""The reward model: a transformer encoder plus a linear head to one scalar (nanoGPT-style).

One architecture covers both backbones: `norm="pre"` (scratch: GPT-2 layout, final LayerNorm)
and `norm="post"` (BERT: embedding LayerNorm, LayerNorm after each residual).
A scratch process model adds causal attention, rotary positions and `seen_tokens` (a learned
mark on each token that already stands earlier in the text: a copy check for numbers).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from rewardpipe.errors import UserError
from rewardpipe.model.config import ModelConfig

_init = nnx.initializers.normal(0.02)


class Dense(nnx.Linear):
    """Linear layer with an optional LoRA adapter: y = xW + b + scale·(xA)B, B starts at zero."""

    def __init__(self, d_in: int, d_out: int, cfg: ModelConfig, *, rngs: nnx.Rngs):
        dtype = jnp.dtype(cfg.compute_dtype)
        super().__init__(d_in, d_out, use_bias=cfg.bias, dtype=dtype, kernel_init=_init, rngs=rngs)
        self.lora = (
            nnx.LoRA(d_in, cfg.lora_rank, d_out, dtype=dtype, rngs=rngs) if cfg.lora_rank else None
        )
        self.scale = cfg.lora_scale

    def __call__(self, x: jax.Array) -> jax.Array:
        y = super().__call__(x)
        return y if self.lora is None else y + self.scale * self.lora(x)


def layer_norm(cfg: ModelConfig, rngs: nnx.Rngs) -> nnx.LayerNorm:
    dtype = jnp.dtype(cfg.compute_dtype)
    return nnx.LayerNorm(cfg.d_model, epsilon=cfg.layer_norm_eps, dtype=dtype, rngs=rngs)


def dropout(cfg: ModelConfig, rngs: nnx.Rngs) -> nnx.Dropout:
    # Without dropout the model holds no RNG state: its state is its Params only.
    return nnx.Dropout(cfg.dropout, rngs=rngs if cfg.dropout else None)


def seen_before(tokens: jax.Array, mask: jax.Array) -> jax.Array:
    """bool [B,T]: the token at each position also stands at an earlier real position."""
    T = tokens.shape[1]
    earlier = jnp.tril(jnp.ones((T, T), bool), -1)[None]
    return ((tokens[:, :, None] == tokens[:, None, :]) & earlier & mask[:, None, :]).any(-1)


def rotary(x: jax.Array, positions: jax.Array | None = None, base: float = 10000.0) -> jax.Array:
    """Rotary position embedding (RoPE, half-split layout) of queries or keys [B,T,H,d] at
    `positions` ([B or 1, T]; default 0..T-1)."""
    T, d = x.shape[1], x.shape[-1]
    positions = jnp.arange(T)[None] if positions is None else positions
    freqs = base ** (-jnp.arange(d // 2, dtype=jnp.float32) * 2 / d)
    angles = positions.astype(jnp.float32)[..., None] * freqs  # [B or 1, T, d/2]
    cos, sin = jnp.cos(angles)[:, :, None], jnp.sin(angles)[:, :, None]
    x1, x2 = x[..., : d // 2].astype(jnp.float32), x[..., d // 2 :].astype(jnp.float32)
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).astype(x.dtype)


class SelfAttention(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        d = cfg.d_model
        self.query, self.key, self.value, self.out = (Dense(d, d, cfg, rngs=rngs) for _ in range(4))
        self.drop = dropout(cfg, rngs)
        self.n_heads, self.causal = cfg.n_heads, cfg.causal
        self.rotary = cfg.positions == "rotary"

    def __call__(
        self, x: jax.Array, mask: jax.Array, deterministic: bool, at: jax.Array | None = None
    ) -> jax.Array:
        """[B,T,D] -> [B,T,D]; with `at` ([B] positions) only those queries: [B,1,D]."""
        B, T, D = x.shape
        H = self.n_heads
        keys = jnp.arange(T)[None]
        queries = keys if at is None else at[:, None]  # [1,T] or [B,1]
        xq = x if at is None else take(x, at)
        q = self.query(xq).reshape(B, xq.shape[1], H, D // H)
        k, v = (f(x).reshape(B, T, H, D // H) for f in (self.key, self.value))
        if self.rotary:
            q, k = rotary(q, queries), rotary(k)
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (D // H) ** -0.5
        allowed = mask[:, None, None, :]
        if self.causal:  # a step's score then depends only on the text up to it
            allowed = allowed & (keys[:, None, None, :] <= queries[:, None, :, None])
        scores = jnp.where(allowed, scores, jnp.finfo(scores.dtype).min)
        probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(x.dtype)
        probs = self.drop(probs, deterministic=deterministic)
        return self.out(jnp.einsum("bhqk,bkhd->bqhd", probs, v).reshape(B, xq.shape[1], D))


def take(x: jax.Array, at: jax.Array) -> jax.Array:
    """Rows `at` ([B]) of each sequence in x [B,T,D]: [B,1,D]."""
    return jnp.take_along_axis(x, at[:, None, None], axis=1)


class Block(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.attn = SelfAttention(cfg, rngs=rngs)
        self.ln1, self.ln2 = layer_norm(cfg, rngs), layer_norm(cfg, rngs)
        self.fc = Dense(cfg.d_model, cfg.d_ff, cfg, rngs=rngs)
        self.proj = Dense(cfg.d_ff, cfg.d_model, cfg, rngs=rngs)
        self.drop = dropout(cfg, rngs)
        self.pre_norm = cfg.norm == "pre"
        self.approximate = cfg.activation == "gelu"

    def mlp(self, x: jax.Array) -> jax.Array:
        return self.proj(jax.nn.gelu(self.fc(x), approximate=self.approximate))

    def __call__(
        self, x: jax.Array, mask: jax.Array, deterministic: bool, at: jax.Array | None = None
    ) -> jax.Array:
        """With `at` ([B]) only those positions' outputs [B,1,D]: the rest of the sequence is
        read as keys and values only."""
        drop = partial(self.drop, deterministic=deterministic)
        xq = x if at is None else take(x, at)
        if self.pre_norm:
            x = xq + drop(self.attn(self.ln1(x), mask, deterministic, at))
            return x + drop(self.mlp(self.ln2(x)))
        x = self.ln1(xq + drop(self.attn(x, mask, deterministic, at)))
        return self.ln2(x + drop(self.mlp(x)))


class RewardTransformer(nnx.Module):
    """tokens int32[B,T], mask bool[B,T] (True = real token) -> reward float32[B]."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        cfg, dtype = config, jnp.dtype(config.compute_dtype)
        self.config = cfg

        def embed(n: int) -> nnx.Embed:
            return nnx.Embed(n, cfg.d_model, dtype=dtype, embedding_init=_init, rngs=rngs)

        self.tok_emb = embed(cfg.vocab_size)
        self.pos_emb = embed(cfg.max_len) if cfg.positions == "learned" else None
        self.type_emb = embed(cfg.type_vocab_size) if cfg.type_vocab_size else None
        self.seen_emb = embed(2) if cfg.seen_tokens else None
        self.ln_emb = layer_norm(cfg, rngs) if cfg.norm == "post" else None
        self.drop = dropout(cfg, rngs)
        self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.n_layers)])
        self.ln_f = layer_norm(cfg, rngs) if cfg.norm == "pre" else None
        self.head = nnx.Linear(cfg.d_model, 1, kernel_init=_init, rngs=rngs)  # float32 head

    def encode(
        self,
        tokens: jax.Array,
        mask: jax.Array,
        *,
        deterministic: bool = True,
        at: jax.Array | None = None,
    ) -> jax.Array:
        """Hidden states [B,T,D] after the last block (and final LayerNorm if pre-norm); with
        `at` ([B]) the last block computes those positions only: [B,1,D]."""
        seq_len = tokens.shape[1]
        if seq_len > self.config.max_len:
            raise UserError(
                f"sequence length {seq_len} exceeds model.max_len {self.config.max_len}"
            )
        mask = mask.astype(bool)
        x = self.tok_emb(tokens)
        if self.pos_emb is not None:
            x = x + self.pos_emb(jnp.arange(seq_len))[None]
        if self.seen_emb is not None:
            x = x + self.seen_emb(seen_before(tokens, mask).astype(jnp.int32))
        if self.type_emb is not None:
            x = x + self.type_emb(jnp.zeros_like(tokens))
        if self.ln_emb is not None:
            x = self.ln_emb(x)
        x = self.drop(x, deterministic=deterministic)
        *rest, last = self.blocks
        for block in rest:
            x = block(x, mask, deterministic)
        x = last(x, mask, deterministic, at)
        return x if self.ln_f is None else self.ln_f(x)

    def pool_index(self, mask: jax.Array) -> jax.Array:
        """[B] the position "cls" (first real token) or "last" (last real token) pooling reads."""
        mask = mask.astype(bool)
        if self.config.pooling == "cls":
            return jnp.argmax(mask, axis=1)
        return mask.shape[1] - 1 - jnp.argmax(mask[:, ::-1], axis=1)

    def pool(self, h: jax.Array, mask: jax.Array) -> jax.Array:
        """[B,T,D] -> [B,D] over real tokens only (works for left or right padding)."""
        h, mask = h.astype(jnp.float32), mask.astype(bool)
        if self.config.pooling == "mean":
            m = mask[..., None].astype(jnp.float32)
            return (h * m).sum(1) / jnp.maximum(m.sum(1), 1.0)
        return take(h, self.pool_index(mask))[:, 0]

    def __call__(
        self, tokens: jax.Array, mask: jax.Array, *, deterministic: bool = True
    ) -> jax.Array:
        if self.config.pooling == "mean":
            h = self.pool(self.encode(tokens, mask, deterministic=deterministic), mask)
        else:  # the head reads one position: the last block computes only that one
            at = self.pool_index(mask)
            h = self.encode(tokens, mask, deterministic=deterministic, at=at)[:, 0]
        return self.head(h.astype(jnp.float32))[:, 0]


def trainable_filter(config: ModelConfig) -> nnx.filterlib.Filter:
    """What the optimizer updates: LoRA adapters + head when lora_rank > 0, else every Param."""
    if config.lora_rank:
        return nnx.All(nnx.Param, nnx.Any(nnx.LoRAParam, nnx.PathContains("head")))
    return nnx.Param


def make_rngs(seed: int) -> nnx.Rngs:
    """Independent `params` and `dropout` streams from one seed (dropout never shifts init)."""
    params, drop = jax.random.split(jax.random.key(seed))
    return nnx.Rngs(params=params, dropout=drop)


def build_model(config: ModelConfig, *, seed: int) -> RewardTransformer:
    """A freshly initialised model."""
    return RewardTransformer(config, rngs=make_rngs(seed))
