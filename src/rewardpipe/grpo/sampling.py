"""Prompts -> left-padded token batches; jitted sampling (temperature, top-p) and the
per-token log-probs of sampled completions."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rewardpipe.chat_format import PromptFormat, render_template


def prompt_text(fmt: PromptFormat, question: str, instruction: str = "") -> str:
    """The generation prompt: the chat template with `add_generation_prompt`, else
    `question\\n\\n` (the plain format's prefix of `question\\n\\nsolution` + EOS)."""
    content = question + instruction
    if fmt.chat_template is None:
        return content + "\n\n"
    return render_template(
        fmt._compiled,
        fmt.template_source,
        messages=[{"role": "user", "content": content}],
        tools=None,
        documents=None,
        add_generation_prompt=True,
        **fmt.special_tokens,
    )


def encode_prompts(
    fmt: PromptFormat, texts: Sequence[str], width: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded to `width` (one jit shape): (tokens int32[B, width], mask bool[B, width]);
    a longer prompt keeps its end. Special tokens as `PromptFormat.encode` adds them."""
    ids = []
    for text in texts:
        add = fmt.chat_template is None and not (fmt.bos_token and text.startswith(fmt.bos_token))
        ids.append(fmt.tokenizer.encode(text, add_special_tokens=add).ids[-width:])
    tokens = np.full((len(ids), width), pad_id, np.int32)
    mask = np.zeros((len(ids), width), bool)
    for row, seq in enumerate(ids):
        tokens[row, width - len(seq) :] = seq
        mask[row, width - len(seq) :] = True
    return tokens, mask


def _top_p_filter(logits: jax.Array, top_p: float) -> jax.Array:
    """Keep the smallest set of tokens whose probability reaches `top_p` (the top one always)."""
    order = jnp.argsort(-logits, axis=-1)
    sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs
    sorted_logits = jnp.where(before < top_p, sorted_logits, -jnp.inf)
    return jnp.put_along_axis(
        jnp.full_like(logits, -jnp.inf), order, sorted_logits, axis=-1, inplace=False
    )


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
    """(completion tokens int32[B, N], completion mask bool[B, N]: up to and including the first
    EOS) of the model `nnx.merge(graphdef, *states)` (logits [B, T, V] of (tokens, mask)).
    temperature 0 is greedy. Recomputes the whole sequence per token (no KV cache)."""
    model = nnx.merge(graphdef, *states)
    b, p = tokens.shape
    buf = jnp.concatenate([tokens, jnp.zeros((b, max_new_tokens), tokens.dtype)], axis=1)
    buf_mask = jnp.concatenate([mask, jnp.zeros((b, max_new_tokens), bool)], axis=1)

    def body(i, carry):
        buf, buf_mask, done, comp_mask, key = carry
        logits = model(buf, buf_mask)[:, p + i - 1].astype(jnp.float32)
        key, sub = jax.random.split(key)
        if temperature == 0:
            token = jnp.argmax(logits, axis=-1)
        else:
            logits = logits / temperature
            if top_p < 1.0:
                logits = _top_p_filter(logits, top_p)
            token = jax.random.categorical(sub, logits, axis=-1)
        token = token.astype(buf.dtype)
        buf = buf.at[:, p + i].set(token)
        buf_mask = buf_mask.at[:, p + i].set(True)
        comp_mask = comp_mask.at[:, i].set(~done)
        done = done | (token == eos_id)
        return buf, buf_mask, done, comp_mask, key

    init = (buf, buf_mask, jnp.zeros(b, bool), jnp.zeros((b, max_new_tokens), bool), rng)
    buf, _, _, comp_mask, _ = jax.lax.fori_loop(0, max_new_tokens, body, init)
    return buf[:, p:], comp_mask


def completion_logprobs(logits: jax.Array, tokens: jax.Array, prompt_len: int) -> jax.Array:
    """log π(token_t | tokens_<t) of the completion tokens (positions ≥ `prompt_len`) from the
    logits [B, T, V] of the whole sequence: float32[B, T - prompt_len]."""
    logp = jax.nn.log_softmax(logits[:, prompt_len - 1 : -1].astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(logp, tokens[:, prompt_len:, None], axis=-1)[..., 0]


def decode(fmt: PromptFormat, tokens: np.ndarray, mask: np.ndarray, eos_id: int) -> list[str]:
    """The completion texts (without the EOS token)."""
    out = []
    for row, keep in zip(np.asarray(tokens), np.asarray(mask), strict=True):
        ids = [int(t) for t, k in zip(row, keep, strict=True) if k and t != eos_id]
        out.append(fmt.tokenizer.decode(ids, skip_special_tokens=True))
    return out
