"""Ranking metrics of reward scores against correctness labels (pairwise, AUC, margin, length bias).

A candidate set is `{"id", "prompt", "reference", "candidates": [{"text", "label", "source"}]}`;
its scores are a float array aligned with `candidates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardpipe.errors import UserError

UNKNOWN_SOURCE = "unknown"


def check_sets(sets: Sequence[dict[str, Any]], scores: Sequence[Any]) -> list[np.ndarray]:
    """Validate candidate sets against their scores; return the scores as float64 arrays."""
    if len(sets) == 0:
        raise UserError("no candidate sets to evaluate: the input is empty")
    if len(sets) != len(scores):
        raise UserError(f"{len(sets)} candidate sets but {len(scores)} score arrays")
    arrays = []
    for i, (item, raw) in enumerate(zip(sets, scores, strict=True), start=1):
        where = f"candidate set {i} (id {item.get('id')!r})" if isinstance(item, dict) else ""
        if not isinstance(item, dict):
            raise UserError(f"candidate set {i}: expected an object, got {type(item).__name__}")
        cands = item.get("candidates")
        if not isinstance(cands, list) or not cands:
            raise UserError(f"{where}: candidates: expected a non-empty list")
        for j, cand in enumerate(cands, start=1):
            if not isinstance(cand, dict) or not isinstance(cand.get("text"), str):
                raise UserError(f"{where}: candidates[{j}].text: expected a string")
            if not isinstance(cand.get("label"), bool):
                raise UserError(f"{where}: candidates[{j}].label: expected true or false")
        if not isinstance(item.get("reference"), str):
            raise UserError(f"{where}: reference: expected a string")
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{where}: scores: expected numbers ({exc})") from exc
        if arr.shape != (len(cands),):
            raise UserError(
                f"{where}: scores: expected {len(cands)} scores (one per candidate), "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise UserError(f"{where}: scores: expected finite numbers, got NaN or inf")
        arrays.append(arr)
    return arrays


def labels_of(item: dict[str, Any]) -> np.ndarray:
    """Boolean correctness labels of a set's candidates."""
    return np.array([c["label"] for c in item["candidates"]], dtype=bool)


def is_degenerate(labels: np.ndarray) -> bool:
    """True when a set has no correct or no incorrect candidate (no pairs to compare)."""
    return bool(labels.all() or not labels.any())


def pair_stats(pos: np.ndarray, neg: np.ndarray) -> tuple[int, float]:
    """(pairs won, sum of margins) over pos×neg pairs; a win is pos strictly above neg."""
    sorted_pos = np.sort(pos)
    # For each negative: the number of positives strictly greater than it.
    wins = len(pos) - np.searchsorted(sorted_pos, neg, side="right")
    margin = len(neg) * float(pos.sum()) - len(pos) * float(neg.sum())
    return int(wins.sum()), margin


def pairwise_accuracy(
    sets: Sequence[dict[str, Any]], scores: Sequence[Any]
) -> tuple[float | None, int]:
    """Fraction of within-prompt correct×incorrect pairs ranked right (ties wrong), and the pair count.

    Degenerate sets contribute no pairs. The accuracy is None when there are no pairs.
    """
    arrays = check_sets(sets, scores)
    won = total = 0
    for item, arr in zip(sets, arrays, strict=True):
        labels = labels_of(item)
        w, _ = pair_stats(arr[labels], arr[~labels])
        won += w
        total += int(labels.sum()) * int((~labels).sum())
    return (won / total if total else None), total


def margin_mean(sets: Sequence[dict[str, Any]], scores: Sequence[Any]) -> float | None:
    """Mean of s_correct − s_incorrect over all within-prompt pairs (None without pairs)."""
    arrays = check_sets(sets, scores)
    margin = 0.0
    total = 0
    for item, arr in zip(sets, arrays, strict=True):
        labels = labels_of(item)
        margin += pair_stats(arr[labels], arr[~labels])[1]
        total += int(labels.sum()) * int((~labels).sum())
    return margin / total if total else None


def pairwise_by_kind(
    sets: Sequence[dict[str, Any]], scores: Sequence[Any]
) -> dict[str, dict[str, float | int | None]]:
    """Pairwise accuracy per `source` of the incorrect candidate: {kind: {pairwise_accuracy, pairs}}."""
    arrays = check_sets(sets, scores)
    won: dict[str, int] = {}
    pairs: dict[str, int] = {}
    for item, arr in zip(sets, arrays, strict=True):
        labels = labels_of(item)
        pos = arr[labels]
        if len(pos) == 0:
            continue
        for cand, score, label in zip(item["candidates"], arr, labels, strict=True):
            if label:
                continue
            kind = str(cand.get("source") or UNKNOWN_SOURCE)
            w, _ = pair_stats(pos, np.array([score]))
            won[kind] = won.get(kind, 0) + w
            pairs[kind] = pairs.get(kind, 0) + len(pos)
    return {
        kind: {"pairwise_accuracy": won[kind] / pairs[kind], "pairs": pairs[kind]}
        for kind in sorted(pairs)
    }


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (O(n log n))."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    # Start index of each run of equal values, and the run each sorted element belongs to.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    run_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    run_of = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = run_rank[run_of]
    return ranks


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC (Mann–Whitney U / (n_pos·n_neg)), ties count 0.5; None without both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    u = float(ranks[labels].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for `score >= threshold`, thresholds descending, first one +inf.

    Without positives the tpr is 0 throughout (and fpr likewise without negatives).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    # Last index of each run of equal scores: the point after admitting the whole run.
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    tpr = np.r_[0.0, tp / n_pos if n_pos else np.zeros(len(last))]
    fpr = np.r_[0.0, fp / n_neg if n_neg else np.zeros(len(last))]
    thresholds = np.r_[np.inf, s[last]]
    return fpr, tpr, thresholds


def pooled(sets: Sequence[dict[str, Any]], arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """All candidates' (scores, labels) concatenated across sets."""
    return (
        np.concatenate(list(arrays)),
        np.concatenate([labels_of(item) for item in sets]),
    )


def length_correlation(sets: Sequence[dict[str, Any]], scores: Sequence[Any]) -> float | None:
    """Mean within-prompt Pearson correlation of reward and text length in chars.

    Uses prompts with ≥ 2 candidates whose rewards and lengths both vary; None if there are none.
    Positive values mean the model prefers longer solutions (length bias).
    """
    arrays = check_sets(sets, scores)
    values = []
    for item, arr in zip(sets, arrays, strict=True):
        lengths = np.array([len(c["text"]) for c in item["candidates"]], dtype=np.float64)
        if len(arr) < 2 or np.ptp(arr) == 0 or np.ptp(lengths) == 0:
            continue
        r = float(np.corrcoef(arr, lengths)[0, 1])
        if np.isfinite(r):
            values.append(r)
    return float(np.mean(values)) if values else None


def ranking_metrics(sets: Sequence[dict[str, Any]], scores: Sequence[Any]) -> dict[str, Any]:
    """The `ranking` section of eval.json."""
    arrays = check_sets(sets, scores)
    accuracy, pairs = pairwise_accuracy(sets, arrays)
    all_scores, all_labels = pooled(sets, arrays)
    return {
        "pairwise_accuracy": accuracy,
        "pairs": pairs,
        "auc": auc(all_scores, all_labels),
        "margin_mean": margin_mean(sets, arrays),
        "by_kind": pairwise_by_kind(sets, arrays),
        "length_correlation": length_correlation(sets, arrays),
    }
