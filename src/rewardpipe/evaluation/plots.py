"""Plot data for DVC plots: lists of flat records (written as JSON, drawn by DVC templates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardpipe.errors import UserError
from rewardpipe.evaluation.ranking import check_sets, pooled, roc_curve
from rewardpipe.evaluation.selection import METRICS, best_of_n, candidate_metrics


def roc_points(sets: Sequence[dict[str, Any]], scores: Sequence[Any]) -> list[dict[str, Any]]:
    """ROC curve over all candidates pooled: [{"fpr", "tpr", "threshold"}].

    The first point (0, 0) admits nothing; its threshold is None (+inf is not valid JSON).
    """
    arrays = check_sets(sets, scores)
    fpr, tpr, thresholds = roc_curve(*pooled(sets, arrays))
    return [
        {"fpr": float(f), "tpr": float(t), "threshold": float(h) if np.isfinite(h) else None}
        for f, t, h in zip(fpr, tpr, thresholds, strict=True)
    ]


def reward_histogram(
    sets: Sequence[dict[str, Any]], scores: Sequence[Any], *, bins: int = 20
) -> list[dict[str, Any]]:
    """Reward counts of correct and incorrect candidates on shared bins, one row per bin
    (`[{"bin_center", "correct", "incorrect"}]`) so DVC draws both series from one file."""
    arrays = check_sets(sets, scores)
    all_scores, labels = pooled(sets, arrays)
    edges = np.histogram_bin_edges(all_scores, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2.0
    correct, _ = np.histogram(all_scores[labels], bins=edges)
    incorrect, _ = np.histogram(all_scores[~labels], bins=edges)
    return [
        {"bin_center": float(c), "correct": int(a), "incorrect": int(b)}
        for c, a, b in zip(centers, correct, incorrect, strict=True)
    ]


def reliability(
    sets: Sequence[dict[str, Any]],
    scores: Sequence[Any],
    *,
    bins: int = 10,
    partial_tolerance: float = 0.1,
    metric: str = "numerical_accuracy",
    answer_format: str = "gsm8k",
) -> list[dict[str, Any]]:
    """Best-of-N accuracy against the top-1 − top-2 reward gap, in equal-count quantile bins.

    Prompts with a single candidate have no gap and are left out. Each bin reports its quantile
    midpoint (`gap_quantile`), mean gap, expected `metric` of the best-of-N pick, and prompt count.
    A well-calibrated reward model is more accurate where the gap is larger.
    """
    arrays = check_sets(sets, scores)
    if metric not in METRICS:
        raise UserError(f"reliability metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    gaps, accuracies = [], []
    for item, arr in zip(sets, arrays, strict=True):
        if len(arr) < 2:
            continue
        top2 = np.sort(arr)[-2:]
        hits = [
            float(
                candidate_metrics(
                    c["text"],
                    item["reference"],
                    partial_tolerance=partial_tolerance,
                    answer_format=answer_format,
                )[metric]
            )
            for c in item["candidates"]
        ]
        gaps.append(float(top2[1] - top2[0]))
        accuracies.append(float(best_of_n(arr) @ np.array(hits)))
    if not gaps:
        return []
    order = np.argsort(np.array(gaps), kind="mergesort")
    chunks = np.array_split(order, min(bins, len(order)))
    gap_arr, acc_arr = np.array(gaps), np.array(accuracies)
    return [
        {
            "gap_quantile": (i + 0.5) / len(chunks),
            "gap_mean": float(gap_arr[chunk].mean()),
            "accuracy": float(acc_arr[chunk].mean()),
            "count": len(chunk),
        }
        for i, chunk in enumerate(chunks)
    ]
