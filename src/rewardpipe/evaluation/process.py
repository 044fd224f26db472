"""Process (step-level) reward-model metrics: step AUC, ProcessBench-style first-error
location, and best-of-N / weighted vote with PRM aggregations of step scores.

Pure functions. Step rows carry `labels` (+1 correct, 0 neutral, -1 wrong, as in PRM800K); the
first wrong step is the first label < 0 (None: no error). Step scores are probabilities in
[0, 1] that a step is correct (the sigmoid of the model's step logits), one array per row.

ProcessBench (Zheng et al. 2024): a model predicts the first step whose score is below a
threshold (None when every step is at or above it). `error_accuracy` is the share of erroneous
solutions whose predicted first error is exactly the labelled one, `correct_accuracy` the share
of correct solutions predicted error-free, `f1` their harmonic mean. The threshold is fitted
on val (`fit_threshold`) and applied unchanged on test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardpipe.aggregate import AGGREGATIONS, check_aggregate, prm_aggregate
from rewardpipe.errors import UserError
from rewardpipe.evaluation.ranking import auc
from rewardpipe.evaluation.selection import selection_metrics

__all__ = [
    "AGGREGATIONS",
    "first_error",
    "fit_threshold",
    "predict_first_error",
    "prm_aggregate",
    "process_metrics",
    "process_section",
    "processbench",
    "selection_by_aggregation",
    "step_auc",
    "step_score_curves",
]


def first_error(labels: Sequence[int]) -> int | None:
    """Index of the first wrong (< 0) step label, None when no step is wrong."""
    return next((i for i, label in enumerate(labels) if label < 0), None)


def _check(rows: Sequence[dict[str, Any]], scores: Sequence[Any]) -> list[np.ndarray]:
    if len(rows) != len(scores):
        raise UserError(f"process metrics: {len(rows)} step rows but {len(scores)} score arrays")
    arrays = []
    for i, (row, s) in enumerate(zip(rows, scores, strict=True)):
        arr = np.asarray(s, dtype=np.float64).reshape(-1)
        if arr.shape[0] != len(row["labels"]):
            raise UserError(
                f"process metrics: row {i} ({row.get('id', '?')}): {len(row['labels'])} step "
                f"labels but {arr.shape[0]} step scores"
            )
        arrays.append(arr)
    return arrays


def step_auc(rows: Sequence[dict[str, Any]], scores: Sequence[Any]) -> float | None:
    """ROC AUC of step scores for correct (+1) vs wrong (-1) steps, pooled over every step up to
    and including each row's first error (later steps are masked, as in training; neutral steps
    are left out). None without both classes."""
    values, labels = [], []
    for row, arr in zip(rows, _check(rows, scores), strict=True):
        first = first_error(row["labels"])
        stop = len(row["labels"]) if first is None else first + 1
        for label, value in zip(row["labels"][:stop], arr[:stop], strict=True):
            if label != 0:
                values.append(value)
                labels.append(label > 0)
    return auc(np.asarray(values), np.asarray(labels, dtype=bool)) if values else None


def predict_first_error(step_scores: np.ndarray, threshold: float) -> int | None:
    """The first step scored below `threshold`, None when there is none."""
    below = np.flatnonzero(np.asarray(step_scores) < threshold)
    return int(below[0]) if below.size else None


def processbench(
    rows: Sequence[dict[str, Any]], scores: Sequence[Any], threshold: float
) -> dict[str, Any]:
    """`error_accuracy`, `correct_accuracy`, their harmonic mean `f1`, the counts and threshold."""
    hits = {True: 0, False: 0}
    totals = {True: 0, False: 0}
    for row, arr in zip(rows, _check(rows, scores), strict=True):
        truth = first_error(row["labels"])
        erroneous = truth is not None
        totals[erroneous] += 1
        hits[erroneous] += predict_first_error(arr, threshold) == truth
    err = hits[True] / totals[True] if totals[True] else None
    cor = hits[False] / totals[False] if totals[False] else None
    f1 = None
    if err is not None and cor is not None:
        f1 = 2 * err * cor / (err + cor) if err + cor else 0.0
    return {
        "error_accuracy": err,
        "correct_accuracy": cor,
        "f1": f1,
        "threshold": float(threshold),
        "n_erroneous": totals[True],
        "n_correct": totals[False],
    }


def fit_threshold(rows: Sequence[dict[str, Any]], scores: Sequence[Any]) -> float:
    """The threshold that maximises ProcessBench F1 on `rows` (val): candidates are the midpoints
    between distinct step scores (plus both ends); ties go to the threshold nearest 0.5."""
    arrays = _check(rows, scores)
    values = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0)
    if values.size == 0:
        return 0.5
    candidates = np.concatenate(
        [[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]]
    )
    if candidates.size > 512:  # a quantile grid keeps large val sets cheap
        candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, 512)))
    best, best_f1 = 0.5, -1.0
    for t in candidates:
        f1 = processbench(rows, arrays, float(t))["f1"] or 0.0
        if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(t), f1
    return best


def selection_by_aggregation(
    sets: Sequence[dict[str, Any]],
    step_scores: Sequence[Sequence[Any]],
    *,
    partial_tolerance: float = 0.1,
    vote_temperature: float = 1.0,
) -> dict[str, Any]:
    """`best_of_n` and `weighted_vote` summaries per aggregation; `step_scores[i][j]` holds the
    step probabilities of candidate j of set i."""
    if len(sets) != len(step_scores):
        raise UserError(f"process metrics: {len(sets)} sets but {len(step_scores)} score lists")
    out: dict[str, Any] = {"best_of_n": {}, "weighted_vote": {}}
    for how in AGGREGATIONS:
        agg = [np.array([prm_aggregate(s, how) for s in per_set]) for per_set in step_scores]
        table = selection_metrics(
            sets, agg, partial_tolerance=partial_tolerance, vote_temperature=vote_temperature
        )
        out["best_of_n"][how] = table["best_of_n"]
        out["weighted_vote"][how] = table["weighted_vote"]
    return out


def process_metrics(
    val_rows: Sequence[dict[str, Any]],
    val_scores: Sequence[Any],
    test_rows: Sequence[dict[str, Any]],
    test_scores: Sequence[Any],
) -> dict[str, Any]:
    """The step-level half of eval.json's `process` section: step AUC on test and ProcessBench
    metrics on test at the threshold fitted on val."""
    threshold = fit_threshold(val_rows, val_scores)
    return {
        "step_auc": step_auc(test_rows, test_scores),
        "processbench": processbench(test_rows, test_scores, threshold),
    }


def process_section(
    val_rows: Sequence[dict[str, Any]],
    val_scores: Sequence[Any],
    test_rows: Sequence[dict[str, Any]],
    test_scores: Sequence[Any],
    sets: Sequence[dict[str, Any]],
    set_step_scores: Sequence[Sequence[Any]],
    *,
    aggregate: str = "min",
    partial_tolerance: float = 0.1,
    vote_temperature: float = 1.0,
) -> dict[str, Any]:
    """eval.json's whole `process` section: step metrics, then best-of-N and weighted vote per
    aggregation on the candidate sets; `aggregate` records which one `score` uses."""
    check_aggregate(aggregate, "evaluate.prm_aggregate")
    return {
        "aggregate": aggregate,
        **process_metrics(val_rows, val_scores, test_rows, test_scores),
        **selection_by_aggregation(
            sets,
            set_step_scores,
            partial_tolerance=partial_tolerance,
            vote_temperature=vote_temperature,
        ),
    }


def step_score_curves(
    rows: Sequence[dict[str, Any]], scores: Sequence[Any]
) -> list[dict[str, Any]]:
    """Plot data: the mean step score at each step position for correct solutions and for
    erroneous ones (`wrong`: every step of an erroneous solution, `after_error`: from its first
    error on), one record per position (None where no solution has that many steps)."""
    sums: dict[str, dict[int, list[float]]] = {"correct": {}, "wrong": {}, "after_error": {}}
    for row, arr in zip(rows, _check(rows, scores), strict=True):
        first = first_error(row["labels"])
        for i, value in enumerate(arr):
            if first is None:
                sums["correct"].setdefault(i, []).append(float(value))
                continue
            sums["wrong"].setdefault(i, []).append(float(value))
            if i >= first:
                sums["after_error"].setdefault(i, []).append(float(value))
    n = max((len(a) for a in _check(rows, scores)), default=0)
    return [
        {
            "position": i,
            **{k: (float(np.mean(v[i])) if i in v else None) for k, v in sums.items()},
        }
        for i in range(n)
    ]
