"""Sampling with a KV cache: the prompt's keys and values are computed once (prefill), then each
new token runs the decoder on that one position. Same arguments and outputs as
`sampling.generate` (which recomputes the whole sequence per token); the reward-model forward
path (`DecoderRewardModel.hidden`) is not involved."""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rewardpipe.grpo.policy_model import CausalLM
from rewardpipe.grpo.sampling import _top_p_filter
from rewardpipe.model.decoder import Attention, Block, rotate

Cache = tuple[jax.Array, jax.Array]  # keys, values [B, S, kv_heads, head_dim]


def _attend(
    attn: Attention,
    x: jax.Array,
    pos: jax.Array,
    cache: Cache,
    key_mask: jax.Array,
    window: int | None,
) -> tuple[jax.Array, Cache]:
    """x [B,T,D] at absolute positions `pos` int[T] (contiguous): their keys and values are
    written into `cache` at pos[0]; queries attend to the cached keys at positions <= their own
    (and inside the sliding window) whose `key_mask` bool[B,S] is set."""
    B, T, _ = x.shape
    K, G, Dh = attn.kv_heads, attn.heads // attn.kv_heads, attn.head_dim
    q = attn.q_proj(x).reshape(B, T, K, G, Dh)
    k, v = attn.k_proj(x).reshape(B, T, K, Dh), attn.v_proj(x).reshape(B, T, K, Dh)
    if attn.q_norm is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    angles = pos.astype(jnp.float32)[:, None] * attn.rope.inv_freq(Dh)[None]
    angles = jnp.concatenate([angles, angles], axis=-1)  # [T, Dh]
    cos, sin = jnp.cos(angles)[:, None], jnp.sin(angles)[:, None]
    q, k = rotate(q, cos[:, None], sin[:, None]), rotate(k, cos, sin)
    keys, values = cache
    start = (0, pos[0], 0, 0)
    keys = jax.lax.dynamic_update_slice(keys, k.astype(keys.dtype), start)
    values = jax.lax.dynamic_update_slice(values, v.astype(values.dtype), start)
    kpos = jnp.arange(keys.shape[1])
    allowed = (kpos[None, :] <= pos[:, None])[None] & key_mask[:, None, :]  # [B, T, S]
    if attn.sliding and window:
        allowed = allowed & (kpos[None, :] > pos[:, None] - window)[None]
    scores = jnp.einsum("bqkgd,bskd->bkgqs", q, keys).astype(jnp.float32) * attn.scale
    if attn.softcap:
        scores = jnp.tanh(scores / attn.softcap) * attn.softcap
    scores = jnp.where(allowed[:, None, None], scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
    out = jnp.einsum("bkgqs,bskd->bqkgd", probs, values).reshape(B, T, -1)
    return attn.o_proj(out), (keys, values)


def _block(block: Block, x: jax.Array, attend: Any) -> tuple[jax.Array, Cache]:
    """`Block.__call__` with its attention replaced by `attend(h) -> (out, cache)`."""
    a, cache = attend(block.input_layernorm(x))
    if block.pre_feedforward_layernorm is None:
        x = x + a
        return x + block.mlp(block.post_attention_layernorm(x)), cache
    x = x + block.post_attention_layernorm(a)
    return x + block.post_feedforward_layernorm(
        block.mlp(block.pre_feedforward_layernorm(x))
    ), cache


def forward(
    model: CausalLM,
    tokens: jax.Array,
    pos: jax.Array,
    caches: tuple[Cache, ...],
    key_mask: jax.Array,
    *,
    last_only: bool = False,
) -> tuple[jax.Array, tuple[Cache, ...]]:
    """Logits float32[B,T,V] of `tokens` [B,T] at positions `pos` (`last_only`: of the last
    position only, [B,1,V]; a prefill need not hold [B,P,V] logits), and the updated caches."""
    dec, cfg = model.decoder, model.config
    x = dec.embed_tokens(tokens)
    if cfg.gemma:
        x = x * jnp.asarray(math.sqrt(cfg.hidden_size), x.dtype)
    new = []
    for block, cache in zip(dec.layers, caches, strict=True):
        attend = functools.partial(
            _attend,
            block.self_attn,
            pos=pos,
            cache=cache,
            key_mask=key_mask,
            window=cfg.sliding_window,
        )
        x, cache = _block(block, x, attend)
        new.append(cache)
    h = dec.norm(x[:, -1:] if last_only else x).astype(jnp.float32)
    w = dec.embed_tokens.embedding[...] if model.lm_head is None else model.lm_head[...]
    return jnp.einsum("btd,vd->btv", h, w.astype(jnp.float32)), tuple(new)


def empty_caches(cfg: Any, batch: int, length: int) -> tuple[Cache, ...]:
    shape = (batch, length, cfg.num_kv_heads, cfg.head_dim)
    dtype = jnp.dtype(cfg.compute_dtype)
    return tuple((jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(cfg.num_layers))


@functools.partial(
    jax.jit, static_argnames=("graphdef", "max_new_tokens", "temperature", "top_p", "eos_id")
)
def generate(
    graphdef: Any,
    states: tuple[Any, ...],
    tokens: jax.Array,
    mask: jax.Array,
    rng: jax.Array,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    eos_id: int,
) -> tuple[jax.Array, jax.Array]:
    """`sampling.generate` with a KV cache: (completion tokens int32[B, N], completion mask
    bool[B, N]: up to and including the first EOS). The same random stream per step, so the
    same completions up to float rounding."""
    model = nnx.merge(graphdef, *states)
    b, p = tokens.shape
    key_mask = jnp.concatenate([mask, jnp.zeros((b, max_new_tokens), bool)], axis=1)
    caches = empty_caches(model.config, b, p + max_new_tokens)
    logits, caches = forward(model, tokens, jnp.arange(p), caches, key_mask, last_only=True)

    def body(i, carry):
        caches, logits, key_mask, out, done, comp_mask, key = carry
        key, sub = jax.random.split(key)
        if temperature == 0:
            token = jnp.argmax(logits, axis=-1)
        else:
            scaled = logits / temperature
            if top_p < 1.0:
                scaled = _top_p_filter(scaled, top_p)
            token = jax.random.categorical(sub, scaled, axis=-1)
        token = token.astype(tokens.dtype)
        out = out.at[:, i].set(token)
        comp_mask = comp_mask.at[:, i].set(~done)
        done = done | (token == eos_id)
        key_mask = key_mask.at[:, p + i].set(True)
        step, caches = forward(model, token[:, None], (p + i)[None], caches, key_mask)
        return caches, step[:, -1], key_mask, out, done, comp_mask, key

    init = (
        caches,
        logits[:, -1],
        key_mask,
        jnp.zeros((b, max_new_tokens), tokens.dtype),
        jnp.zeros(b, bool),
        jnp.zeros((b, max_new_tokens), bool),
        rng,
    )
    _, _, _, out, _, comp_mask, _ = jax.lax.fori_loop(0, max_new_tokens, body, init)
    return out, comp_mask
