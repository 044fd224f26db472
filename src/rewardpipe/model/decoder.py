"""A decoder-LM reward model (Llama 3, Qwen 2/2.5, Qwen 3, Gemma 3 text) in Flax NNX.

Hugging Face *ForSequenceClassification semantics: the final hidden state of the last real token
goes through a bias-free `score` Linear(hidden, 1). Module names follow the Hugging Face ones so
that checkpoint tensors map by name (see decoder_weights.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rewardpipe.errors import UserError
from rewardpipe.params import LORA_TARGETS, PRECISIONS

_init = nnx.initializers.normal(0.02)
FAMILIES = ("llama", "qwen2", "qwen3", "gemma3_text")
ROPE_TYPES = ("default", "linear", "llama3")
# Fields a caller may set on top of config.json; the rest are fixed by the pretrained weights.
OVERRIDABLE = ("compute_dtype", "lora_rank", "lora_alpha", "lora_targets", "remat")


@dataclasses.dataclass(frozen=True)
class Rope:
    """Rotary embedding frequencies: `kind` "default", "linear" (÷factor) or "llama3"."""

    theta: float
    kind: str = "default"
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_len: int = 8192

    def inv_freq(self, head_dim: int) -> np.ndarray:
        """float32[head_dim // 2], computed as transformers' rope init functions do."""
        exponent = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
        inv = (1.0 / np.float32(self.theta) ** exponent).astype(np.float32)
        if self.kind == "linear":
            return inv / np.float32(self.factor)
        if self.kind == "llama3":  # long wavelengths ÷ factor, short kept, smooth in between
            n, lo, hi = self.original_max_len, self.low_freq_factor, self.high_freq_factor
            wavelen = 2 * math.pi / inv
            scaled = np.where(wavelen > n / lo, inv / self.factor, inv)
            smooth = (n / wavelen - lo) / (hi - lo)
            smoothed = (1 - smooth) * scaled / self.factor + smooth * scaled
            medium = (wavelen >= n / hi) & (wavelen <= n / lo)
            return np.where(medium, smoothed, scaled).astype(np.float32)
        return inv


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Architecture of `DecoderRewardModel`; `from_hf` maps a Hugging Face config.json dict."""

    model_type: str  # one of FAMILIES ("gemma3" configs map to their "gemma3_text" text_config)
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope: Rope  # full-attention layers
    local_rope: Rope | None = None  # sliding-window layers (Gemma 3); None: same as `rope`
    layer_types: tuple[str, ...] = ()  # "full_attention" / "sliding_attention" per layer
    sliding_window: int | None = None
    rms_norm_eps: float = 1e-6
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # per-head RMSNorm on q and k (Qwen 3, Gemma 3)
    query_pre_attn_scalar: float | None = None  # scores · scalar^-0.5; None: head_dim
    attn_logit_softcapping: float | None = None
    pad_token_id: int | None = None
    compute_dtype: str = "float32"  # params stay float32; activations in this dtype
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = LORA_TARGETS
    remat: bool = False  # recompute each Block's activations in the backward pass

    def __post_init__(self) -> None:
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))  # hashable
        if not isinstance(self.lora_rank, int) or self.lora_rank < 0:
            raise UserError(f"lora_rank: expected an integer >= 0, got {self.lora_rank!r}")
        if self.model_type not in FAMILIES:
            raise UserError(
                f"model_type: expected one of {', '.join(FAMILIES)}, got {self.model_type!r}"
            )
        if self.compute_dtype not in PRECISIONS:
            raise UserError(
                f"compute_dtype: expected one of {', '.join(PRECISIONS)}, got {self.compute_dtype!r}"
            )
        if self.num_heads % self.num_kv_heads:
            raise UserError(
                f"num_attention_heads {self.num_heads} is not a multiple of "
                f"num_key_value_heads {self.num_kv_heads}"
            )
        if len(self.layer_types) != self.num_layers:
            raise UserError(
                f"layer_types: expected {self.num_layers} entries, got {len(self.layer_types)}"
            )
        unknown = sorted(set(self.lora_targets) - set(LORA_TARGETS))
        if unknown:
            raise UserError(
                f"lora_targets: unknown module(s) {', '.join(unknown)}; expected some of "
                f"{', '.join(LORA_TARGETS)}"
            )

    @property
    def gemma(self) -> bool:
        return self.model_type == "gemma3_text"

    @property
    def lora_scale(self) -> float:
        return self.lora_alpha / self.lora_rank if self.lora_rank else 0.0

    @classmethod
    def from_hf(
        cls, hf: dict[str, Any], *, source: str = "config.json", **overrides: Any
    ) -> DecoderConfig:
        """Map a Hugging Face config.json dict (`source` names it in errors); `overrides` set
        compute_dtype and the lora_* fields."""
        if hf.get("model_type") == "gemma3":  # multimodal Gemma 3: use its language model
            hf, source = hf.get("text_config") or {}, f"{source}: text_config"
            hf = {"model_type": "gemma3_text", **hf}
        model_type = hf.get("model_type")
        if model_type not in FAMILIES:
            raise UserError(
                f"{source}: model_type: expected one of {', '.join(FAMILIES)} or gemma3, "
                f"got {model_type!r}"
            )
        if model_type == "gemma3_text":
            hf = {**GEMMA3_DEFAULTS, **hf}
        fixed = sorted(set(overrides) - set(OVERRIDABLE))
        if fixed:
            raise UserError(
                f"{source}: {', '.join(fixed)} cannot be overridden for a pretrained decoder; "
                f"allowed: {', '.join(OVERRIDABLE)}"
            )
        try:
            return cls(**_hf_fields(hf, model_type, source), **overrides)
        except UserError as err:
            raise UserError(f"{source}: {err}") from None


class RMSNorm(nnx.Module):
    """x / rms(x) · w in float32; Gemma stores w - 1 and scales by (1 + w)."""

    def __init__(self, dim: int, cfg: DecoderConfig):
        self.weight = nnx.Param(jnp.zeros(dim) if cfg.gemma else jnp.ones(dim))
        self.eps, self.gemma, self.dtype = cfg.rms_norm_eps, cfg.gemma, jnp.dtype(cfg.compute_dtype)

    def __call__(self, x: jax.Array) -> jax.Array:
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        w = self.weight[...]
        return (y * (1.0 + w if self.gemma else w)).astype(self.dtype)


class Dense(nnx.Linear):
    """Linear layer with an optional LoRA adapter: y = xW + b + scale·(xA)B, B starts at zero."""

    def __init__(
        self, d_in: int, d_out: int, name: str, bias: bool, cfg: DecoderConfig, *, rngs: nnx.Rngs
    ):
        dtype = jnp.dtype(cfg.compute_dtype)
        super().__init__(d_in, d_out, use_bias=bias, dtype=dtype, kernel_init=_init, rngs=rngs)
        lora = cfg.lora_rank and name in cfg.lora_targets
        self.lora = nnx.LoRA(d_in, cfg.lora_rank, d_out, dtype=dtype, rngs=rngs) if lora else None
        self.scale = cfg.lora_scale

    def __call__(self, x: jax.Array) -> jax.Array:
        y = super().__call__(x)
        return y if self.lora is None else y + self.scale * self.lora(x)


def rotate(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """RoPE in the Hugging Face layout (rotate_half: the two halves of each head, not pairs)."""
    x32 = x.astype(jnp.float32)
    x1, x2 = jnp.split(x32, 2, axis=-1)
    return (x32 * cos + jnp.concatenate([-x2, x1], axis=-1) * sin).astype(x.dtype)


class Attention(nnx.Module):
    def __init__(self, cfg: DecoderConfig, sliding: bool, *, rngs: nnx.Rngs):
        D, H, K, Dh = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q_proj = Dense(D, H * Dh, "q_proj", cfg.qkv_bias, cfg, rngs=rngs)
        self.k_proj = Dense(D, K * Dh, "k_proj", cfg.qkv_bias, cfg, rngs=rngs)
        self.v_proj = Dense(D, K * Dh, "v_proj", cfg.qkv_bias, cfg, rngs=rngs)
        self.o_proj = Dense(H * Dh, D, "o_proj", cfg.o_bias, cfg, rngs=rngs)
        self.q_norm = RMSNorm(Dh, cfg) if cfg.qk_norm else None
        self.k_norm = RMSNorm(Dh, cfg) if cfg.qk_norm else None
        self.rope = (cfg.local_rope or cfg.rope) if sliding else cfg.rope
        self.sliding = sliding
        self.heads, self.kv_heads, self.head_dim = H, K, Dh
        self.scale = (cfg.query_pre_attn_scalar or Dh) ** -0.5
        self.softcap = cfg.attn_logit_softcapping

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        """x [B,T,D], mask bool[B,T,T] (query, key) -> [B,T,D]."""
        B, T, _ = x.shape
        K, G, Dh = self.kv_heads, self.heads // self.kv_heads, self.head_dim
        q = self.q_proj(x).reshape(B, T, K, G, Dh)  # query head k·G + g reads kv head k
        k, v = self.k_proj(x).reshape(B, T, K, Dh), self.v_proj(x).reshape(B, T, K, Dh)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        angles = jnp.arange(T, dtype=jnp.float32)[:, None] * self.rope.inv_freq(Dh)[None]
        angles = jnp.concatenate([angles, angles], axis=-1)  # [T, Dh]
        cos, sin = jnp.cos(angles)[:, None], jnp.sin(angles)[:, None]
        q, k = rotate(q, cos[:, None], sin[:, None]), rotate(k, cos, sin)
        scores = jnp.einsum("bqkgd,bskd->bkgqs", q, k).astype(jnp.float32) * self.scale
        if self.softcap:
            scores = jnp.tanh(scores / self.softcap) * self.softcap
        scores = jnp.where(mask[:, None, None], scores, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
        return self.o_proj(jnp.einsum("bkgqs,bskd->bqkgd", probs, v).reshape(B, T, -1))


class MLP(nnx.Module):
    """down(act(gate(x)) · up(x)): SwiGLU (Llama/Qwen) or GeGLU with tanh gelu (Gemma)."""

    def __init__(self, cfg: DecoderConfig, *, rngs: nnx.Rngs):
        D, F, bias = cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias
        self.gate_proj = Dense(D, F, "gate_proj", bias, cfg, rngs=rngs)
        self.up_proj = Dense(D, F, "up_proj", bias, cfg, rngs=rngs)
        self.down_proj = Dense(F, D, "down_proj", bias, cfg, rngs=rngs)
        self.gemma = cfg.gemma

    def __call__(self, x: jax.Array) -> jax.Array:
        gate = self.gate_proj(x)
        act = jax.nn.gelu(gate, approximate=True) if self.gemma else jax.nn.silu(gate)
        return self.down_proj(act * self.up_proj(x))


class Block(nnx.Module):
    def __init__(self, cfg: DecoderConfig, layer: int, *, rngs: nnx.Rngs):
        D = cfg.hidden_size
        self.sliding = cfg.layer_types[layer] == "sliding_attention"
        self.self_attn = Attention(cfg, self.sliding, rngs=rngs)
        self.mlp = MLP(cfg, rngs=rngs)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(D, cfg), RMSNorm(D, cfg)
        self.pre_feedforward_layernorm = RMSNorm(D, cfg) if cfg.gemma else None
        self.post_feedforward_layernorm = RMSNorm(D, cfg) if cfg.gemma else None

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        if (
            self.pre_feedforward_layernorm is None
        ):  # Llama/Qwen: post_attention_layernorm is pre-MLP
            x = x + self.self_attn(self.input_layernorm(x), mask)
            return x + self.mlp(self.post_attention_layernorm(x))
        x = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), mask))
        return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))


class DecoderRewardModel(nnx.Module):
    """tokens int32[B,T], mask bool[B,T] (True = real token, right padding) -> reward float32[B].

    The reward is read at the mask's last real token. transformers instead takes the rightmost
    token whose id is not pad_token_id: the same unless a sequence ends in the pad id (e.g. an
    EOS that doubles as pad), where transformers reads the token before it.
    """

    def __init__(self, config: DecoderConfig, *, rngs: nnx.Rngs):
        cfg, D = config, config.hidden_size
        self.config = cfg
        dtype = jnp.dtype(cfg.compute_dtype)
        self.embed_tokens = nnx.Embed(
            cfg.vocab_size, D, dtype=dtype, embedding_init=_init, rngs=rngs
        )
        self.layers = nnx.List([Block(cfg, i, rngs=rngs) for i in range(cfg.num_layers)])
        self.norm = RMSNorm(D, cfg)
        self.score = nnx.Linear(D, 1, use_bias=False, kernel_init=_init, rngs=rngs)  # float32

    def hidden(self, tokens: jax.Array, mask: jax.Array) -> jax.Array:
        """Final-norm hidden states [B,T,D] (padded positions are not meaningful)."""
        cfg, T = self.config, tokens.shape[1]
        x = self.embed_tokens(tokens)
        if cfg.gemma:
            x = x * jnp.asarray(math.sqrt(cfg.hidden_size), x.dtype)
        pos = jnp.arange(T)
        causal = (pos[None, :] <= pos[:, None])[None] & mask.astype(bool)[:, None, :]
        window = cfg.sliding_window or T
        local = causal & (pos[None, :] > pos[:, None] - window)[None]
        call = nnx.remat(_call_block) if cfg.remat else _call_block
        for block in self.layers:
            x = call(block, x, local if block.sliding else causal)
        return self.norm(x)

    def __call__(
        self, tokens: jax.Array, mask: jax.Array, *, deterministic: bool = True
    ) -> jax.Array:
        """`deterministic` is accepted for the training loop's sake and ignored (no dropout)."""
        del deterministic
        h = self.hidden(tokens, mask).astype(jnp.float32)
        last = mask.shape[1] - 1 - jnp.argmax(mask[:, ::-1], axis=1)  # last real token
        return self.score(jnp.take_along_axis(h, last[:, None, None], axis=1)[:, 0])[:, 0]


def _call_block(block: Block, x: jax.Array, mask: jax.Array) -> jax.Array:
    return block(x, mask)


def decoder_trainable_filter(config: DecoderConfig) -> nnx.filterlib.Filter:
    """LoRA adapters + score head when lora_rank > 0, else every Param."""
    if config.lora_rank:
        return nnx.All(nnx.Param, nnx.Any(nnx.LoRAParam, nnx.PathContains("score")))
    return nnx.Param


# transformers' Gemma3TextConfig defaults: Hub gemma3 configs leave these out of text_config.
GEMMA3_DEFAULTS = {
    "vocab_size": 262_208,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "rope_theta": 1_000_000.0,
    "rope_local_base_freq": 10_000.0,
    "pad_token_id": 0,
}


def _hf_fields(hf: dict[str, Any], model_type: str, source: str) -> dict[str, Any]:
    def need(name: str) -> Any:
        if hf.get(name) is None:
            raise UserError(
                f"{source}: missing field {name!r} (needed for model_type {model_type})"
            )
        return hf[name]

    gemma = model_type == "gemma3_text"
    act_field = "hidden_activation" if gemma and "hidden_activation" in hf else "hidden_act"
    act = hf.get(act_field) or ("gelu_pytorch_tanh" if gemma else "silu")
    if act != ("gelu_pytorch_tanh" if gemma else "silu"):
        raise UserError(f"{source}: {act_field}: {act!r} is not supported for {model_type}")
    for name in ("use_bidirectional_attention", "partial_rotary_factor"):
        if hf.get(name) not in (None, False, 1.0):
            raise UserError(f"{source}: {name}: {hf[name]!r} is not supported")
    n_layers, n_heads = need("num_hidden_layers"), need("num_attention_heads")
    sliding_window, layer_types = None, hf.get("layer_types")
    if gemma:
        sliding_window = need("sliding_window")
        pattern = hf.get("sliding_window_pattern") or 6
        layer_types = layer_types or [
            "sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(n_layers)
        ]
    elif hf.get("use_sliding_window"):
        sliding_window = need("sliding_window")
        first = hf.get("max_window_layers", 0)
        layer_types = layer_types or [
            "sliding_attention" if i >= first else "full_attention" for i in range(n_layers)
        ]
    layer_types = tuple(layer_types or ["full_attention"] * n_layers)
    if sliding_window is None:  # transformers ignores layer_types without a window
        layer_types = ("full_attention",) * n_layers
    rope, local_rope = _hf_ropes(hf, gemma, source)
    bias = bool(hf.get("attention_bias", False))
    return {
        "model_type": model_type,
        "vocab_size": need("vocab_size"),
        "hidden_size": need("hidden_size"),
        "intermediate_size": need("intermediate_size"),
        "num_layers": n_layers,
        "num_heads": n_heads,
        "num_kv_heads": hf.get("num_key_value_heads") or n_heads,
        "head_dim": hf.get("head_dim") or need("hidden_size") // n_heads,
        "rope": rope,
        "local_rope": local_rope,
        "layer_types": layer_types,
        "sliding_window": sliding_window,
        "rms_norm_eps": float(hf.get("rms_norm_eps", 1e-6)),
        "qkv_bias": model_type == "qwen2" or bias,  # Qwen 2 always has q/k/v biases
        "o_bias": model_type != "qwen2" and bias,
        "mlp_bias": bool(hf.get("mlp_bias", False)),
        "qk_norm": model_type in ("qwen3", "gemma3_text"),
        "query_pre_attn_scalar": hf.get("query_pre_attn_scalar") if gemma else None,
        "attn_logit_softcapping": hf.get("attn_logit_softcapping") if gemma else None,
        "pad_token_id": hf.get("pad_token_id"),
    }


def _hf_ropes(hf: dict[str, Any], gemma: bool, source: str) -> tuple[Rope, Rope | None]:
    """(full-attention rope, sliding-window rope) from `rope_parameters` (transformers 5) or
    `rope_theta` + `rope_scaling` (older configs; Gemma 3 also `rope_local_base_freq`)."""
    params = dict(hf.get("rope_parameters") or {})
    if gemma:
        full = dict(params.get("full_attention") or {})
        local = dict(params.get("sliding_attention") or {})
        full.update(hf.get("rope_scaling") or {})
        full.setdefault("rope_theta", hf.get("rope_theta"))
        local.setdefault("rope_theta", hf.get("rope_local_base_freq"))
        return _rope(full, hf, source), _rope(local, hf, source)
    params.update(hf.get("rope_scaling") or {})
    params.setdefault("rope_theta", hf.get("rope_theta", 10_000.0))
    return _rope(params, hf, source), None


def _rope(params: dict[str, Any], hf: dict[str, Any], source: str) -> Rope:
    kind = params.get("rope_type", params.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise UserError(
            f"{source}: rope type {kind!r} is not supported; expected one of {', '.join(ROPE_TYPES)}"
        )
    if params.get("rope_theta") is None:
        raise UserError(f"{source}: missing field 'rope_theta'")
    if kind == "default":
        return Rope(theta=float(params["rope_theta"]))
    try:
        if kind == "linear":
            return Rope(
                theta=float(params["rope_theta"]), kind=kind, factor=float(params["factor"])
            )
        original = params.get("original_max_position_embeddings") or hf["max_position_embeddings"]
        return Rope(
            theta=float(params["rope_theta"]),
            kind=kind,
            factor=float(params["factor"]),
            low_freq_factor=float(params["low_freq_factor"]),
            high_freq_factor=float(params["high_freq_factor"]),
            original_max_len=int(original),
        )
    except KeyError as err:
        raise UserError(
            f"{source}: rope_scaling: missing field {err.args[0]!r} for {kind}"
        ) from None
