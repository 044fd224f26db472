"""Evaluation of reward scores on candidate sets: ranking, best-of-N selection, baselines, report.

Pure functions: scores are given as arrays aligned with each set's candidates; no model here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardpipe.evaluation.ranking import check_sets, is_degenerate, labels_of, ranking_metrics
from rewardpipe.evaluation.selection import selection_metrics

__all__ = ["evaluate_sets"]


def evaluate_sets(
    sets: Sequence[dict[str, Any]],
    scores: Sequence[Any],
    *,
    partial_tolerance: float = 0.1,
    vote_temperature: float = 1.0,
    answer_format: str = "gsm8k",
) -> dict[str, Any]:
    """The metrics dict written to metrics/eval.json (plain floats/ints/None, nested for DVC).

    Degenerate sets (all candidates correct or all incorrect) are counted and add no pairs to the
    pairwise metrics; best-of-N selection and the baselines still use them.
    """
    arrays = check_sets(sets, scores)
    selection = selection_metrics(
        sets,
        arrays,
        partial_tolerance=partial_tolerance,
        vote_temperature=vote_temperature,
        answer_format=answer_format,
    )
    return {
        "n_prompts": len(sets),
        "n_candidates": sum(len(item["candidates"]) for item in sets),
        "degenerate_sets": sum(is_degenerate(labels_of(item)) for item in sets),
        "ranking": ranking_metrics(sets, arrays),
        **selection,
    }
