"""Group-normalised advantages: each completion's reward against its prompt's group."""

from __future__ import annotations

import numpy as np

EPS = 1e-4


def group_advantages(rewards: np.ndarray, group_size: int, eps: float = EPS) -> np.ndarray:
    """(r − mean) / (std + eps) within each consecutive group of `group_size` completions (the
    completions of one prompt). A group whose rewards are all equal gets zero advantages."""
    r = np.asarray(rewards, dtype=np.float32)
    if group_size < 1 or r.ndim != 1 or r.size % group_size:
        raise ValueError(f"{r.size} rewards do not split into groups of {group_size}")
    groups = r.reshape(-1, group_size)
    mean = groups.mean(axis=1, keepdims=True)
    std = groups.std(axis=1, keepdims=True)
    return ((groups - mean) / (std + eps)).reshape(-1)
