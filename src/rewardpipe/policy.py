"""A causal LM policy on the decoder backbone: logits, token log-probs, batched sampling.

`PolicyLM` wraps a `DecoderRewardModel` (its `score` head is unused) and adds the LM head: tied
to the embeddings when config.json says `tie_word_embeddings`, else `lm_head.weight`. The forward
pass here takes explicit positions and an optional KV cache; it calls the backbone's own
sublayers, so the reward-model forward (decoder.py) is untouched.

Generation takes left-padded prompts. The cache has one slot per prompt column plus one per new
token; a slot's position is its row's token count before it, and attention is causal in
positions, so the slots of tokens not yet generated are never read.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rewardpipe.errors import UserError
from rewardpipe.model.decoder import Attention, Block, DecoderConfig, DecoderRewardModel, rotate
from rewardpipe.model.decoder_weights import decoder_state_dict, load_decoder, read_hf_json
from rewardpipe.model.weights import read_safetensors

_LM_HEAD_NAMES = ("lm_head.weight", "language_model.lm_head.weight")
# transformers' default tie_word_embeddings per family (config.json may leave it out).
_TIED_DEFAULT = {"llama": False, "qwen2": False, "qwen3": False, "gemma3_text": True}


class PolicyLM(nnx.Module):
    """tokens int32[B,T] -> next-token logits float32[B,T,V] (see `logits`)."""

    def __init__(
        self,
        backbone: DecoderRewardModel,
        *,
        tied: bool,
        eos_ids: tuple[int, ...] = (),
        final_softcap: float | None = None,
        head_std: float = 0.02,
        rngs: nnx.Rngs,
    ):
        cfg = backbone.config
        self.backbone = backbone
        self.config = cfg
        self.lm_head = (
            None
            if tied
            else nnx.Linear(
                cfg.hidden_size,
                cfg.vocab_size,
                use_bias=False,
                kernel_init=nnx.initializers.normal(head_std),
                rngs=rngs,
            )
        )
        self.eos_ids = tuple(int(i) for i in eos_ids)
        self.final_softcap = final_softcap

    def head(self, h: jax.Array) -> jax.Array:
        """Final-norm hidden states [..., D] -> logits float32[..., V]."""
        h = h.astype(jnp.float32)
        if self.lm_head is None:
            logits = h @ self.backbone.embed_tokens.embedding[...].astype(jnp.float32).T
        else:
            logits = h @ self.lm_head.kernel[...].astype(jnp.float32)
        if self.final_softcap:
            logits = jnp.tanh(logits / self.final_softcap) * self.final_softcap
        return logits


class Cache(NamedTuple):
    """Per layer keys and values [B,S,K,Dh]; `pos` int32[B,S] and `valid` bool[B,S] per slot."""

    keys: tuple[jax.Array, ...]
    values: tuple[jax.Array, ...]
    pos: jax.Array
    valid: jax.Array


def positions(mask: jax.Array) -> jax.Array:
    """Position of each token: its row's count of real tokens before it (left padding -> 0)."""
    return jnp.maximum(jnp.cumsum(mask.astype(jnp.int32), axis=1) - 1, 0)


def _attend(
    attn: Attention,
    x: jax.Array,
    pos: jax.Array,
    cache: tuple[jax.Array, jax.Array] | None,
    start: jax.Array | int,
    key_pos: jax.Array,
    key_valid: jax.Array,
    window: int | None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Attention of x [B,T,D] at positions pos [B,T]; with `cache`, its k/v are written at slot
    `start` and the queries read every slot (key_pos/key_valid [B,S]); else keys are x's own."""
    B, T, _ = x.shape
    K, G, Dh = attn.kv_heads, attn.heads // attn.kv_heads, attn.head_dim
    q = attn.q_proj(x).reshape(B, T, K, G, Dh)
    k, v = attn.k_proj(x).reshape(B, T, K, Dh), attn.v_proj(x).reshape(B, T, K, Dh)
    if attn.q_norm is not None:
        q, k = attn.q_norm(q), attn.k_norm(k)
    angles = pos.astype(jnp.float32)[..., None] * attn.rope.inv_freq(Dh)
    angles = jnp.concatenate([angles, angles], axis=-1)  # [B, T, Dh]
    cos, sin = jnp.cos(angles)[:, :, None], jnp.sin(angles)[:, :, None]
    q, k = rotate(q, cos[:, :, None], sin[:, :, None]), rotate(k, cos, sin)
    if cache is not None:
        k = jax.lax.dynamic_update_slice(cache[0], k.astype(cache[0].dtype), (0, start, 0, 0))
        v = jax.lax.dynamic_update_slice(cache[1], v.astype(cache[1].dtype), (0, start, 0, 0))
    mask = (key_pos[:, None, :] <= pos[:, :, None]) & key_valid[:, None, :]
    if attn.sliding and window:
        mask &= key_pos[:, None, :] > pos[:, :, None] - window
    scores = jnp.einsum("bqkgd,bskd->bkgqs", q, k).astype(jnp.float32) * attn.scale
    if attn.softcap:
        scores = jnp.tanh(scores / attn.softcap) * attn.softcap
    scores = jnp.where(mask[:, None, None], scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
    out = attn.o_proj(jnp.einsum("bkgqs,bskd->bqkgd", probs, v).reshape(B, T, -1))
    return out, (k, v)


def _block(block: Block, x: jax.Array, attend: Any) -> tuple[jax.Array, Any]:
    a, kv = attend(block.self_attn, block.input_layernorm(x))
    if block.pre_feedforward_layernorm is None:  # Llama/Qwen
        x = x + a
        return x + block.mlp(block.post_attention_layernorm(x)), kv
    x = x + block.post_attention_layernorm(a)
    return x + block.post_feedforward_layernorm(block.mlp(block.pre_feedforward_layernorm(x))), kv


def forward(
    model: PolicyLM,
    tokens: jax.Array,
    pos: jax.Array,
    *,
    key_valid: jax.Array,
    key_pos: jax.Array | None = None,
    cache: Cache | None = None,
    start: jax.Array | int = 0,
) -> tuple[jax.Array, Cache | None]:
    """Logits float32[B,T,V] of tokens [B,T] at positions pos [B,T], and the updated cache.

    Without a cache, keys are the tokens themselves (key_valid [B,T]: real tokens); with one,
    the tokens fill slots start..start+T and key_valid/key_pos describe every slot."""
    backbone, cfg = model.backbone, model.config
    x = backbone.embed_tokens(tokens)
    if cfg.gemma:
        x = x * jnp.asarray(math.sqrt(cfg.hidden_size), x.dtype)
    key_pos = pos if key_pos is None else key_pos
    keys, values = [], []
    for i, block in enumerate(backbone.layers):
        layer_cache = None if cache is None else (cache.keys[i], cache.values[i])
        attend = functools.partial(
            _attend,
            pos=pos,
            cache=layer_cache,
            start=start,
            key_pos=key_pos,
            key_valid=key_valid,
            window=cfg.sliding_window,
        )
        x, (k, v) = _block(block, x, attend)
        keys.append(k)
        values.append(v)
    logits = model.head(backbone.norm(x))
    if cache is None:
        return logits, None
    return logits, Cache(tuple(keys), tuple(values), cache.pos, cache.valid)


def logits(model: PolicyLM, tokens: jax.Array, mask: jax.Array) -> jax.Array:
    """Next-token logits float32[B,T,V] for padded tokens (left or right padding)."""
    mask = mask.astype(bool)
    return forward(model, tokens, positions(mask), key_valid=mask)[0]


def token_logprobs(model: PolicyLM, tokens: jax.Array, mask: jax.Array) -> jax.Array:
    """float32[B,T]: log p(tokens[:, t] | tokens[:, :t]) where mask[:, t] and t > 0, else 0.

    Feed prompt + completion; multiply by the completion mask to score the completion only."""
    mask = mask.astype(bool)
    logp = jax.nn.log_softmax(logits(model, tokens, mask)[:, :-1], axis=-1)
    picked = jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]
    out = jnp.concatenate([jnp.zeros_like(picked[:, :1]), picked], axis=1)
    return jnp.where(mask & (jnp.cumsum(mask, axis=1) > 1), out, 0.0)


def _sample(
    logits: jax.Array,
    rng: jax.Array,
    temperature: jax.Array,
    top_p: jax.Array,
    *,
    greedy: bool = False,
    nucleus: bool = True,
) -> jax.Array:
    """Token ids [B] from logits [B,V]: argmax when `greedy`, else sampling at `temperature`,
    restricted to the top-p nucleus when `nucleus` (static flags: no sort when top_p is 1)."""
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    scaled = logits / temperature
    if not nucleus:
        return jax.random.categorical(rng, scaled, axis=-1).astype(jnp.int32)
    order = jnp.argsort(-scaled, axis=-1)
    sorted_logits = jnp.take_along_axis(scaled, order, axis=-1)
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs  # mass strictly above each token
    keep = before < top_p  # the top token always stays
    choice = jax.random.categorical(rng, jnp.where(keep, sorted_logits, -jnp.inf), axis=-1)
    return jnp.take_along_axis(order, choice[:, None], axis=-1)[:, 0].astype(jnp.int32)


@functools.partial(
    nnx.jit, static_argnames=("max_new_tokens", "use_cache", "pad_id", "greedy", "nucleus")
)
def _generate(
    model: PolicyLM,
    prompt: jax.Array,
    prompt_mask: jax.Array,
    temperature: jax.Array,
    top_p: jax.Array,
    rng: jax.Array,
    eos: jax.Array,
    *,
    max_new_tokens: int,
    use_cache: bool,
    pad_id: int,
    greedy: bool,
    nucleus: bool,
) -> tuple[jax.Array, jax.Array]:
    B, P = prompt.shape
    N = max_new_tokens
    prompt_mask = prompt_mask.astype(bool)
    length = prompt_mask.sum(axis=1).astype(jnp.int32)
    slot_pos = jnp.concatenate([positions(prompt_mask), length[:, None] + jnp.arange(N)], axis=1)
    slot_valid = jnp.concatenate([prompt_mask, jnp.ones((B, N), bool)], axis=1)
    buffer = jnp.concatenate([prompt, jnp.full((B, N), pad_id, prompt.dtype)], axis=1)

    if use_cache:
        cfg, dtype = model.config, jnp.dtype(model.config.compute_dtype)
        shape = (B, P + N, cfg.num_kv_heads, cfg.head_dim)
        empty = tuple(jnp.zeros(shape, dtype) for _ in range(cfg.num_layers))
        cache = Cache(empty, empty, slot_pos, slot_valid)
        out, cache = forward(
            model,
            prompt,
            slot_pos[:, :P],
            key_valid=slot_valid,
            key_pos=slot_pos,
            cache=cache,
            start=0,
        )
        state = (out[:, -1], cache)
    else:
        state = buffer

    def step(carry, t):
        state, done, rng = carry
        if use_cache:
            last, cache = state
        else:
            buf = state
            full = forward(model, buf, slot_pos, key_valid=slot_valid)[0]
            last = jax.lax.dynamic_index_in_dim(full, P - 1 + t, axis=1, keepdims=False)
        rng, key = jax.random.split(rng)
        tok = _sample(last, key, temperature, top_p, greedy=greedy, nucleus=nucleus)
        tok = jnp.where(done, pad_id, tok).astype(prompt.dtype)
        live = ~done
        done = done | jnp.isin(tok, eos)
        if use_cache:
            out, cache = forward(
                model,
                tok[:, None],
                slot_pos[:, P + t][:, None],
                key_valid=slot_valid,
                key_pos=slot_pos,
                cache=cache,
                start=P + t,
            )
            state = (out[:, 0], cache)
        else:
            state = jax.lax.dynamic_update_slice(buf, tok[:, None], (0, P + t))
        return (state, done, rng), (tok, live)

    init = (state, jnp.zeros((B,), bool), rng)
    _, (tokens, live) = jax.lax.scan(step, init, jnp.arange(N))
    return tokens.T, live.T


def generate(
    model: PolicyLM,
    prompt_tokens: jax.Array,
    prompt_mask: jax.Array,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    rng: jax.Array,
    *,
    eos_ids: tuple[int, ...] | None = None,
    pad_id: int = 0,
    use_cache: bool = True,
) -> tuple[jax.Array, jax.Array]:
    """Sample completions for left-padded prompts [B,P] -> (tokens int32[B,N], mask bool[B,N]).

    Each row stops after its first EOS (`eos_ids`, default the model's); the EOS is in the mask,
    later columns are `pad_id` and masked out. temperature 0 is greedy; top_p keeps the smallest
    set of tokens whose probability reaches top_p. `use_cache=False` recomputes the full forward
    for every token (the reference and the benchmark's baseline)."""
    if max_new_tokens < 1:
        raise UserError(f"max_new_tokens: expected >= 1, got {max_new_tokens!r}")
    if temperature < 0 or not 0 < top_p <= 1:
        raise UserError(
            f"temperature/top_p: expected temperature >= 0 and 0 < top_p <= 1, "
            f"got {temperature!r}/{top_p!r}"
        )
    eos = model.eos_ids if eos_ids is None else tuple(eos_ids)
    return _generate(
        model,
        jnp.asarray(prompt_tokens, jnp.int32),
        jnp.asarray(prompt_mask, bool),
        jnp.float32(temperature),
        jnp.float32(top_p),
        rng,
        jnp.asarray(eos or (-1,), jnp.int32),
        max_new_tokens=int(max_new_tokens),
        use_cache=use_cache,
        pad_id=int(pad_id),
        greedy=temperature == 0,
        nucleus=top_p < 1,
    )


def _eos_ids(folder: Path, hf: dict[str, Any]) -> tuple[int, ...]:
    gen = folder / "generation_config.json"
    value = read_hf_json(gen).get("eos_token_id") if gen.is_file() else None
    if value is None:
        value = hf.get("eos_token_id", (hf.get("text_config") or {}).get("eos_token_id"))
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (int(value),)


def _lm_head_weight(folder: Path) -> np.ndarray | None:
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    else:
        weight_map = read_hf_json(index).get("weight_map") or {}
        files = [folder / weight_map[name] for name in _LM_HEAD_NAMES if name in weight_map]
    for path in files:
        tensors = read_safetensors(path)
        for name in _LM_HEAD_NAMES:
            if name in tensors:
                return np.asarray(tensors[name], np.float32)
    return None


def load_policy(folder: str | Path, *, seed: int = 0, **overrides: Any) -> PolicyLM:
    """A policy from a Hugging Face *ForCausalLM folder; `overrides` as for `load_decoder`
    (compute_dtype, lora_*, remat)."""
    folder = Path(folder)
    hf = read_hf_json(folder / "config.json")
    backbone = load_decoder(folder, seed=seed, **overrides)
    cfg = backbone.config
    text = (hf.get("text_config") or {}) if hf.get("model_type") == "gemma3" else hf
    tied = bool(hf.get("tie_word_embeddings", _TIED_DEFAULT[cfg.model_type]))
    model = PolicyLM(
        backbone,
        tied=tied,
        eos_ids=_eos_ids(folder, hf),
        final_softcap=text.get("final_logit_softcapping") if cfg.gemma else None,
        rngs=nnx.Rngs(seed),
    )
    if not tied:
        weight = _lm_head_weight(folder)
        if weight is None:
            raise UserError(
                f"{folder}: missing tensor lm_head.weight (config.json: tie_word_embeddings "
                "is false)"
            )
        want = (cfg.vocab_size, cfg.hidden_size)
        if weight.shape != want:
            raise UserError(
                f"{folder}: tensor lm_head.weight: expected shape {want}, got {weight.shape}"
            )
        model.lm_head.kernel[...] = jnp.asarray(weight.T)
    return model


def policy_state_dict(model: PolicyLM) -> dict[str, np.ndarray]:
    """The transformers *ForCausalLM state dict (float32, LoRA merged in, no score head)."""
    out = decoder_state_dict(model.backbone)
    out.pop("score.weight", None)
    if model.lm_head is not None:
        out["lm_head.weight"] = np.array(model.lm_head.kernel[...].T, np.float32, order="C")
    return out


def random_policy(hf: dict[str, Any], seed: int = 0, **overrides: Any) -> PolicyLM:
    """A randomly initialised policy for a Hugging Face config.json dict (tests, smoke runs); an
    untied LM head's init std is the config's `initializer_range` (default 0.02)."""
    config = DecoderConfig.from_hf(hf, **overrides)
    tied = bool(hf.get("tie_word_embeddings", _TIED_DEFAULT[config.model_type]))
    eos = hf.get("eos_token_id")
    eos_ids = () if eos is None else tuple(eos) if isinstance(eos, list) else (int(eos),)
    rngs = nnx.Rngs(seed)
    return PolicyLM(
        DecoderRewardModel(config, rngs=rngs),
        tied=tied,
        eos_ids=eos_ids,
        head_std=float(hf.get("initializer_range", 0.02)),
        rngs=rngs,
    )
