"""Build the reward model that `params.yaml`'s model section describes."""

from __future__ import annotations

from rewardpipe.model.bert import load_bert
from rewardpipe.model.config import ModelConfig
from rewardpipe.model.transformer import RewardTransformer, make_rngs
from rewardpipe.params import ModelParams


def create(
    mp: ModelParams, *, vocab_size: int, pad_id: int, precision: str, seed: int
) -> RewardTransformer:
    """From scratch (`backbone: transformer`) or from a pretrained BERT folder (`backbone: bert`)."""
    if mp.backbone == "bert":
        model, _ = load_bert(
            mp.pretrained,
            rngs=make_rngs(seed),
            max_len=mp.max_len,
            dropout=mp.dropout,
            lora_rank=mp.lora_rank,
            lora_alpha=mp.lora_alpha,
            compute_dtype=precision,
        )
        return model
    config = ModelConfig(
        vocab_size=vocab_size,
        d_model=mp.d_model,
        n_layers=mp.n_layers,
        n_heads=mp.n_heads,
        d_ff=mp.d_ff,
        max_len=mp.max_len,
        dropout=mp.dropout,
        lora_rank=mp.lora_rank,
        lora_alpha=mp.lora_alpha,
        pad_id=pad_id,
        compute_dtype=precision,
    )
    return RewardTransformer(config, rngs=make_rngs(seed))
