"""Choosing and scoring the candidate sets an evaluation runs on."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardpipe.data.split import unit_hash
from rewardpipe.inference import RewardModel


def subset(sets: list[dict[str, Any]], n: int | None) -> list[dict[str, Any]]:
    """A deterministic subset of `n` prompts (by id hash: stable when sets are appended)."""
    if n is None or n >= len(sets):
        return sets
    ranked = sorted(range(len(sets)), key=lambda i: unit_hash(str(sets[i]["id"]), 0))
    keep = sorted(ranked[:n])
    return [sets[i] for i in keep]


def score_sets(model: RewardModel, sets: list[dict[str, Any]], batch_size: int) -> list[np.ndarray]:
    """Every candidate's reward, one array per set, scored in length-bucketed batches."""
    prompts = [s["prompt"] for s in sets for _ in s["candidates"]]
    texts = [c["text"] for s in sets for c in s["candidates"]]
    flat = np.asarray(model.score_batch(prompts, texts, batch_size=batch_size), dtype=np.float64)
    out, start = [], 0
    for s in sets:
        out.append(flat[start : start + len(s["candidates"])])
        start += len(s["candidates"])
    return out
