"""The reward model: a Flax NNX transformer encoder with a scalar head, LoRA and BERT loading."""

from __future__ import annotations

from rewardpipe.model.bert import load_bert
from rewardpipe.model.config import ModelConfig
from rewardpipe.model.transformer import (
    RewardTransformer,
    build_model,
    make_rngs,
    trainable_filter,
)
from rewardpipe.model.weights import (
    load_flat,
    load_safetensors,
    merge_lora,
    save_safetensors,
    to_flat,
)

__all__ = [
    "ModelConfig",
    "RewardTransformer",
    "build_model",
    "load_bert",
    "load_flat",
    "load_safetensors",
    "make_rngs",
    "merge_lora",
    "save_safetensors",
    "to_flat",
    "trainable_filter",
]
