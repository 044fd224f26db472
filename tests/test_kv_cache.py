"""The KV-cache sampler gives the same completions as the full recompute (`sampling.generate`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rewardpipe.grpo import kv_cache, sampling
from rewardpipe.grpo.policy_model import random_policy

LLAMA = {
    "model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
}  # fmt: skip
GEMMA = {
    "model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
    "query_pre_attn_scalar": 16, "sliding_window": 4, "sliding_window_pattern": 2,
    "attn_logit_softcapping": 50.0, "tie_word_embeddings": True,
}  # fmt: skip


def _batch(seed=0, b=3, p=7):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 64, (b, p)).astype(np.int32)
    mask = np.ones((b, p), bool)
    mask[1, :3] = False  # left padding
    mask[2, :5] = False
    return jnp.asarray(np.where(mask, tokens, 0)), jnp.asarray(mask)


@pytest.mark.slow
@pytest.mark.parametrize(
    "hf,temperature",
    [(LLAMA, 0.0), (LLAMA, 1.0), (GEMMA, 0.0)],
    ids=["llama", "llama-t1", "gemma3"],
)
def test_cached_and_uncached_sampling_give_the_same_completions(hf, temperature):
    graphdef, state = nnx.split(random_policy(hf, seed=1))
    tokens, mask = _batch()
    kw = dict(max_new_tokens=9, temperature=temperature, top_p=0.9, eos_id=63)
    key = jax.random.key(3)
    full = sampling.generate(graphdef, (state,), tokens, mask, key, **kw)
    cached = kv_cache.generate(graphdef, (state,), tokens, mask, key, **kw)
    np.testing.assert_array_equal(np.asarray(full[0]), np.asarray(cached[0]))
    np.testing.assert_array_equal(np.asarray(full[1]), np.asarray(cached[1]))
    assert np.asarray(full[1]).any()


@pytest.mark.slow
def test_cached_forward_logits_match_the_full_forward():
    model = random_policy(LLAMA, seed=2)
    tokens, mask = _batch(p=6)
    full = model(tokens, mask)
    caches = kv_cache.empty_caches(model.config, tokens.shape[0], 6)
    logits, _ = kv_cache.forward(model, tokens[:, :4], jnp.arange(4), caches, mask)
    real = np.asarray(mask[:, :4])  # padded positions attend to nothing: not meaningful
    np.testing.assert_allclose(np.asarray(logits)[real], np.asarray(full[:, :4])[real], atol=1e-5)
    _, caches = kv_cache.forward(model, tokens[:, :4], jnp.arange(4), caches, mask)
    step, _ = kv_cache.forward(model, tokens[:, 4:5], jnp.arange(4, 5), caches, mask)
    rows = np.asarray(mask[:, 4])
    np.testing.assert_allclose(
        np.asarray(step[:, 0])[rows], np.asarray(full[:, 4])[rows], atol=1e-5
    )


def test_last_only_gives_the_last_position_logits():
    model = random_policy(LLAMA, seed=2)
    tokens, mask = _batch(p=6)
    caches = kv_cache.empty_caches(model.config, tokens.shape[0], 6)
    every, _ = kv_cache.forward(model, tokens, jnp.arange(6), caches, mask)
    last, _ = kv_cache.forward(model, tokens, jnp.arange(6), caches, mask, last_only=True)
    assert last.shape == (3, 1, 64)
    np.testing.assert_allclose(last[:, 0], every[:, -1], atol=1e-6)
