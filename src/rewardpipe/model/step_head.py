"""Per-step logits of a process reward model: the backbone's own reward head read at each
step's position (`step_encoding`). Every backbone keeps its one head (`head` of
`RewardTransformer`, `score` of `DecoderRewardModel`), so parameters, checkpoints, the LoRA
filter and export are those of the outcome model."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rewardpipe.model.decoder import DecoderRewardModel
from rewardpipe.model.transformer import RewardTransformer


def step_logits(
    model: RewardTransformer | DecoderRewardModel,
    tokens: jax.Array,
    mask: jax.Array,
    positions: jax.Array,
    *,
    deterministic: bool = True,
) -> jax.Array:
    """tokens/mask [B,T], positions int32[B,S] (-1: no step; read as position 0) -> float32
    logits [B,S] that each step is correct."""
    if isinstance(model, DecoderRewardModel):
        h, head = model.hidden(tokens, mask), model.score
    else:
        h, head = model.encode(tokens, mask, deterministic=deterministic), model.head
    index = jnp.maximum(positions, 0)
    picked = jnp.take_along_axis(h.astype(jnp.float32), index[..., None], axis=1)  # [B,S,D]
    return head(picked)[..., 0]
