"""AdamW with linear warmup + cosine decay, global-norm clipping, decay only on matrices,
and gradient accumulation."""

from __future__ import annotations

import jax
import optax

NO_DECAY = ("embedding", "scale", "bias", "norm", "ln", "emb")


def schedule(lr: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
    warmup = max(0, min(warmup_steps, total_steps - 1))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0 if warmup else lr,
        peak_value=lr,
        warmup_steps=warmup,
        decay_steps=max(total_steps, warmup + 1),
        end_value=lr * 0.1,
    )


def decay_mask(params):
    """True for weight matrices; False for norms, biases and embeddings."""

    def decays(path, leaf) -> bool:
        name = "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path).lower()
        return leaf.ndim >= 2 and not any(tag in name for tag in NO_DECAY)

    return jax.tree_util.tree_map_with_path(decays, params)


def optimizer(
    *,
    lr: float,
    warmup_steps: int,
    total_steps: int,
    weight_decay: float,
    grad_clip: float,
    grad_accum: int,
) -> optax.GradientTransformation:
    """`total_steps` counts optimizer updates; with `grad_accum` > 1 the schedule advances once
    per accumulated update (optax.MultiSteps)."""
    tx = optax.chain(
        optax.clip_by_global_norm(grad_clip),
        optax.adamw(
            schedule(lr, warmup_steps, total_steps), weight_decay=weight_decay, mask=decay_mask
        ),
    )
    if grad_accum > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=grad_accum)
    return tx
