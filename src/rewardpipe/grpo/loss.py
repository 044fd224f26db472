"""The GRPO objective per token: −min(ρA, clip(ρ, 1 ± ε)A) + β·KL₃(π‖π_ref), averaged over each
completion's tokens, then over completions (ρ = π/π_old; KL₃ = e^(ref−logp) − (ref−logp) − 1, the
k3 estimator: unbiased, non-negative)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def k3_kl(logp: jax.Array, ref_logp: jax.Array) -> jax.Array:
    """Per-token k3 estimate of KL(π‖π_ref) from sampled tokens' log-probs (0 when equal)."""
    d = ref_logp - logp
    return jnp.exp(d) - d - 1.0


def grpo_loss(
    logp: jax.Array,
    old_logp: jax.Array,
    ref_logp: jax.Array,
    advantages: jax.Array,
    mask: jax.Array,
    *,
    epsilon: float,
    beta: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """`logp`, `old_logp`, `ref_logp`, `mask`: [B, L] over completion tokens; `advantages` [B].
    Returns the loss and metrics (kl, clip fraction, mean ratio), token-averaged like the loss."""
    mask = mask.astype(jnp.float32)
    adv = advantages[:, None]
    ratio = jnp.exp(logp - old_logp)
    clipped = jnp.clip(ratio, 1.0 - epsilon, 1.0 + epsilon)
    policy = -jnp.minimum(ratio * adv, clipped * adv)
    kl = k3_kl(logp, ref_logp)
    tokens = jnp.maximum(mask.sum(axis=1), 1.0)

    def seq_mean(x: jax.Array) -> jax.Array:
        return ((x * mask).sum(axis=1) / tokens).mean()

    loss = seq_mean(policy + beta * kl)
    metrics = {
        "loss": loss,
        "kl": seq_mean(kl),
        "clip_fraction": seq_mean((jnp.abs(ratio - 1.0) > epsilon).astype(jnp.float32)),
        "ratio": seq_mean(ratio),
    }
    return loss, metrics
