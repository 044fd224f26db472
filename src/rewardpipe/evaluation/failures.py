"""Failure analysis: the prompts the reward model ranks most confidently wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardpipe.evaluation.ranking import UNKNOWN_SOURCE, check_sets, labels_of


def worst_rankings(
    sets: Sequence[dict[str, Any]], scores: Sequence[Any], k: int
) -> list[dict[str, Any]]:
    """Up to `k` prompts whose top-scored candidate is incorrect although a correct one exists.

    A prompt fails when its best incorrect candidate scores at or above its best correct one (a tie
    is a failure, as in pairwise accuracy). Rows are flat (CSV-friendly) and sorted by
    `gap` = chosen_score − correct_score, largest first, then by position in the input.
    """
    arrays = check_sets(sets, scores)
    rows = []
    for item, arr in zip(sets, arrays, strict=True):
        labels = labels_of(item)
        if labels.all() or not labels.any():
            continue
        # Highest-scored candidate of each class; the first one wins a tie within a class.
        wrong = int(np.flatnonzero(~labels)[np.argmax(arr[~labels])])
        right = int(np.flatnonzero(labels)[np.argmax(arr[labels])])
        if arr[wrong] < arr[right]:
            continue
        chosen, correct = item["candidates"][wrong], item["candidates"][right]
        rows.append(
            {
                "id": str(item.get("id", "")),
                "prompt": str(item.get("prompt", "")),
                "reference": item["reference"],
                "gap": float(arr[wrong] - arr[right]),
                "chosen_score": float(arr[wrong]),
                "chosen_source": str(chosen.get("source") or UNKNOWN_SOURCE),
                "chosen_text": chosen["text"],
                "correct_score": float(arr[right]),
                "correct_text": correct["text"],
            }
        )
    # Stable sort: equal gaps keep input order, so the output is deterministic.
    rows.sort(key=lambda row: -row["gap"])
    return rows[: max(k, 0)]
