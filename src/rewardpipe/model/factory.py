"""Build the reward model that `params.yaml`'s model section describes."""

from __future__ import annotations

from rewardpipe.model.bert import load_bert
from rewardpipe.model.config import ModelConfig
from rewardpipe.model.decoder import DecoderRewardModel
from rewardpipe.model.decoder_weights import load_decoder
from rewardpipe.model.transformer import RewardTransformer, make_rngs
from rewardpipe.params import ModelParams


def create(
    model_params: ModelParams,
    *,
    vocab_size: int,
    pad_id: int,
    precision: str,
    seed: int,
    process: bool = False,
) -> RewardTransformer | DecoderRewardModel:
    """From scratch (`backbone: transformer`), from a pretrained BERT folder (`backbone: bert`)
    or from a Hugging Face decoder folder (`backbone: decoder`; its own vocabulary: `vocab_size`
    and `pad_id` are not used). `process`: a scratch process model scores each step from the text
    up to it (causal attention, rotary positions, as a decoder does) and knows which tokens it
    has seen before (`ModelConfig.seen_tokens`); a pretrained BERT keeps its architecture."""
    if model_params.backbone == "decoder":
        return load_decoder(
            model_params.pretrained,
            seed=seed,
            compute_dtype=precision,
            lora_rank=model_params.lora_rank,
            lora_alpha=model_params.lora_alpha,
            lora_targets=tuple(model_params.lora_targets),
            remat=model_params.remat,
        )
    if model_params.backbone == "bert":
        model, _ = load_bert(
            model_params.pretrained,
            rngs=make_rngs(seed),
            max_len=model_params.max_len,
            dropout=model_params.dropout,
            lora_rank=model_params.lora_rank,
            lora_alpha=model_params.lora_alpha,
            compute_dtype=precision,
        )
        return model
    config = ModelConfig.from_params(
        model_params,
        vocab_size=vocab_size,
        pad_id=pad_id,
        compute_dtype=precision,
        causal=process,
        seen_tokens=process,
        positions="rotary" if process else "learned",
    )
    return RewardTransformer(config, rngs=make_rngs(seed))
