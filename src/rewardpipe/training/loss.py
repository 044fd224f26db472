"""Bradley–Terry pairwise loss on one forward over the concatenated chosen + rejected batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def pairwise_loss(
    rewards: jax.Array, margin: float, center_coef: float, weights: jax.Array | None = None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """`rewards` holds chosen rewards then rejected rewards ([2B]). Loss =
    -log σ(r_c − r_r − margin) + center_coef · mean((r_c + r_r)²); `weights` ([B], 0/1) masks
    padding pairs of a partial eval batch."""
    rewards = rewards.astype(jnp.float32)
    chosen, rejected = jnp.split(rewards, 2)
    w = jnp.ones_like(chosen) if weights is None else weights.astype(jnp.float32)
    n = jnp.maximum(w.sum(), 1.0)
    diff = chosen - rejected
    bt = -jax.nn.log_sigmoid(diff - margin)
    center = (chosen + rejected) ** 2
    loss = (w * bt).sum() / n + center_coef * (w * center).sum() / n
    mean = (w * (chosen + rejected)).sum() / (2 * n)
    var = (w * ((chosen - mean) ** 2 + (rejected - mean) ** 2)).sum() / (2 * n)
    metrics = {
        "loss": loss,
        "accuracy": (w * (diff > 0)).sum() / n,
        "margin": (w * diff).sum() / n,
        "reward_mean": mean,
        "reward_std": jnp.sqrt(var),
    }
    return loss, metrics
