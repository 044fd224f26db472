"""The reward model's architecture settings: one frozen dataclass, JSON round-trippable."""

from __future__ import annotations

import dataclasses
from typing import Any

from rewardpipe.errors import UserError
from rewardpipe.params import PRECISIONS, ModelParams, check_architecture

_CHOICES = {
    "backbone": ("transformer", "bert"),  # a decoder backbone is a DecoderConfig
    "norm": ("pre", "post"),
    "pooling": ("last", "cls", "mean"),
    "activation": ("gelu", "gelu_exact"),
    "positions": ("learned", "rotary"),
    "compute_dtype": PRECISIONS,
}

# Hugging Face `hidden_act` values and the activation each one is.
_HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu_fast": "gelu",
}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of `RewardTransformer` (defaults: a small pre-norm model trained from scratch).

    `norm="pre"` puts a LayerNorm before each sublayer and one after the last block (GPT-2);
    `norm="post"` puts it after each residual and one on the embeddings (BERT).
    """

    backbone: str = ModelParams.backbone
    vocab_size: int = 8192
    d_model: int = ModelParams.d_model
    n_layers: int = ModelParams.n_layers
    n_heads: int = ModelParams.n_heads
    d_ff: int = ModelParams.d_ff
    max_len: int = ModelParams.max_len
    dropout: float = ModelParams.dropout
    lora_rank: int = ModelParams.lora_rank
    lora_alpha: float = ModelParams.lora_alpha
    pad_id: int = 0
    norm: str = "pre"
    pooling: str = "last"
    layer_norm_eps: float = 1e-5
    type_vocab_size: int = 0  # > 0: add the token-type-0 embedding (BERT)
    activation: str = "gelu"  # gelu: tanh approximation; gelu_exact: erf (BERT)
    bias: bool = True  # biases in every Linear layer
    compute_dtype: str = "float32"  # params stay float32; activations in this dtype
    causal: bool = False  # each position attends to itself and earlier ones only (scratch PRMs)
    # a learned vector on each token saying whether the same token stands earlier in the text: a
    # copy check (is the final answer a value already computed? is this number the question's?)
    seen_tokens: bool = False
    # learned: an embedding per position (GPT-2, BERT); rotary: queries and keys rotated by
    # position (RoPE), so "the token before" is one relation wherever it stands
    positions: str = "learned"

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"model.{name}: expected one of {', '.join(allowed)}, "
                    f"got {getattr(self, name)!r}"
                )
        check_architecture(self, where="model config")
        if not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise UserError(
                f"model.vocab_size: expected a positive integer, got {self.vocab_size!r}"
            )
        if self.type_vocab_size < 0:
            raise UserError(f"model.type_vocab_size: expected >= 0, got {self.type_vocab_size!r}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise UserError(
                f"model.pad_id: expected an id in [0, {self.vocab_size}), got {self.pad_id!r}"
            )

    @classmethod
    def from_params(cls, model_params: ModelParams, **fields: Any) -> ModelConfig:
        """The architecture `params.yaml`'s model section describes; `fields` sets the rest
        (vocab_size, pad_id, compute_dtype, ...)."""
        shared = {f.name for f in dataclasses.fields(cls)} & {
            f.name for f in dataclasses.fields(model_params)
        }
        return cls(**{name: getattr(model_params, name) for name in shared}, **fields)

    @property
    def lora_scale(self) -> float:
        """Factor on the LoRA update A·B (0 without LoRA)."""
        return self.lora_alpha / self.lora_rank if self.lora_rank else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error (a typo must not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(
                f"model config: unknown key(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def from_hf_bert(cls, hf_config: dict[str, Any], **overrides: Any) -> ModelConfig:
        """Map a Hugging Face `BertConfig` dict (config.json); `overrides` win over it."""
        model_type = hf_config.get("model_type", "bert")
        if model_type != "bert":
            raise UserError(f"config.json: model_type: expected 'bert', got {model_type!r}")
        position_type = hf_config.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise UserError(
                f"config.json: position_embedding_type: only 'absolute' is supported, "
                f"got {position_type!r}"
            )
        act = hf_config.get("hidden_act", "gelu")
        if act not in _HF_ACTIVATIONS:
            raise UserError(
                f"config.json: hidden_act: expected one of {', '.join(_HF_ACTIVATIONS)}, "
                f"got {act!r}"
            )
        try:
            mapped: dict[str, Any] = {
                "backbone": "bert",
                "vocab_size": hf_config["vocab_size"],
                "d_model": hf_config["hidden_size"],
                "n_layers": hf_config["num_hidden_layers"],
                "n_heads": hf_config["num_attention_heads"],
                "d_ff": hf_config["intermediate_size"],
                "max_len": hf_config.get("max_position_embeddings", 512),
                "dropout": hf_config.get("hidden_dropout_prob", 0.1),
                "pad_id": hf_config.get("pad_token_id") or 0,
                "norm": "post",
                "pooling": "mean",
                "layer_norm_eps": hf_config.get("layer_norm_eps", 1e-12),
                "type_vocab_size": hf_config.get("type_vocab_size", 2),
                "activation": _HF_ACTIVATIONS[act],
                "bias": True,
            }
        except KeyError as err:
            raise UserError(f"config.json: missing required key {err.args[0]!r}") from None
        return cls.from_dict({**mapped, **overrides})
