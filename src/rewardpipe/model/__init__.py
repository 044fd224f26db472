"""The reward model: a Flax NNX transformer encoder with a scalar head, LoRA and BERT loading;
or a pretrained decoder LM (model/decoder.py)."""

from __future__ import annotations

from flax import nnx

from rewardpipe.model.bert import load_bert
from rewardpipe.model.config import ModelConfig
from rewardpipe.model.decoder import DecoderConfig, DecoderRewardModel, decoder_trainable_filter
from rewardpipe.model.transformer import (
    RewardTransformer,
    build_model,
    make_rngs,
)
from rewardpipe.model.transformer import trainable_filter as _transformer_filter
from rewardpipe.model.weights import (
    load_flat,
    load_safetensors,
    merge_lora,
    save_safetensors,
    to_flat,
)

__all__ = [
    "DecoderConfig",
    "DecoderRewardModel",
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


def trainable_filter(config: ModelConfig | DecoderConfig) -> nnx.filterlib.Filter:
    """What the optimizer updates, for either model kind: LoRA adapters + the head (`head` or
    the decoder's `score`) when lora_rank > 0, else every Param."""
    if isinstance(config, DecoderConfig):
        return decoder_trainable_filter(config)
    return _transformer_filter(config)
