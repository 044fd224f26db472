"""Best-of-N selection rules and the answer metrics of the selected candidate.

Every rule returns a probability distribution over a prompt's candidates, so ties split evenly and
the reported metrics are exact expected values (counts may be fractional).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardpipe.answers import (
    count_answers,
    exact_match,
    extract_answer,
    normalize_answer,
    numeric_match,
    within_tolerance,
)
from rewardpipe.errors import UserError
from rewardpipe.evaluation.ranking import check_sets
from rewardpipe.rewards import format_reward

METRICS = ("exact_accuracy", "numerical_accuracy", "partial_accuracy", "format_compliance")
BASELINES = ("random", "majority_vote", "rule_based", "longest", "oracle")
# The answer pattern whose count decides format compliance, per `answer_format`.
COMPLIANCE_PATTERN = {"gsm8k": "gsm8k", "tags": "answer_tag"}
# Relative tolerance for calling two vote totals equal (sums in different orders differ in ulps).
_VOTE_TIE_RTOL = 1e-9


def candidate_metrics(
    text: str,
    reference: str,
    *,
    partial_tolerance: float,
    answer_format: str = "gsm8k",
) -> dict[str, Any]:
    """The extracted answer of `text` and whether it meets each metric against `reference`."""
    if answer_format not in COMPLIANCE_PATTERN:
        raise UserError(
            f"answer_format: expected one of {', '.join(COMPLIANCE_PATTERN)}, got {answer_format!r}"
        )
    extracted = extract_answer(text)
    found = extracted is not None
    return {
        "extracted": extracted,
        "exact_accuracy": found and bool(exact_match(extracted, reference)),
        "numerical_accuracy": found and bool(numeric_match(extracted, reference)),
        "partial_accuracy": found
        and bool(within_tolerance(extracted, reference, partial_tolerance)),
        "format_compliance": count_answers(text, COMPLIANCE_PATTERN[answer_format]) == 1,
    }


def argmax_split(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Uniform distribution over the positions holding the maximum value."""
    values = np.asarray(values, dtype=np.float64)
    top = values == values.max()
    return top / top.sum()


def uniform(n: int) -> np.ndarray:
    """The `random` baseline: every candidate equally likely."""
    return np.full(n, 1.0 / n)


def best_of_n(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """The top-scored candidate; ties split evenly."""
    return argmax_split(scores)


def longest(texts: Sequence[str]) -> np.ndarray:
    """The longest text in characters; ties split evenly."""
    return argmax_split([len(t) for t in texts])


def rule_based(format_rewards: Sequence[float] | np.ndarray) -> np.ndarray:
    """The candidate with the highest format reward alone; ties split evenly."""
    return argmax_split(format_rewards)


def _answer_groups(answers: Sequence[str | None]) -> dict[str, list[int]]:
    """Candidate indices per normalised answer, skipping candidates without an answer."""
    groups: dict[str, list[int]] = {}
    for i, answer in enumerate(answers):
        if answer is not None:
            groups.setdefault(answer, []).append(i)
    return groups


def majority_vote(answers: Sequence[str | None]) -> np.ndarray:
    """The most frequent answer, ties between answers split evenly, then a uniform member.

    `answers` are normalised answers; None (no extractable answer) does not vote. When no
    candidate has an answer every candidate is equally likely.
    """
    n = len(answers)
    groups = _answer_groups(answers)
    if not groups:
        return uniform(n)
    sizes = np.array([len(g) for g in groups.values()], dtype=np.float64)
    group_p = argmax_split(sizes)
    probs = np.zeros(n)
    for p, members in zip(group_p, groups.values(), strict=True):
        probs[members] += p / len(members)
    return probs


def weighted_vote(
    scores: Sequence[float] | np.ndarray, answers: Sequence[str | None], temperature: float
) -> np.ndarray:
    """The answer with the largest sum of exp(reward / temperature), represented by its top member.

    `answers` are normalised answers; None (no extractable answer) does not vote. Ties between
    answers and between top members split evenly. Falls back to best-of-N without any answer.
    """
    if not temperature > 0:
        raise UserError(f"evaluate.vote_temperature: expected a number > 0, got {temperature}")
    scores = np.asarray(scores, dtype=np.float64)
    groups = _answer_groups(answers)
    if not groups:
        return best_of_n(scores)
    # Shift by the maximum so the largest weight is exp(0) = 1: no overflow at any scale.
    weights = np.exp((scores - scores.max()) / temperature)
    totals = np.array([weights[m].sum() for m in groups.values()])
    winners = totals >= totals.max() * (1.0 - _VOTE_TIE_RTOL)
    probs = np.zeros(len(scores))
    for won, members in zip(winners, groups.values(), strict=True):
        if won:
            probs[members] += best_of_n(scores[members]) / winners.sum()
    return probs


def summarize(expected: np.ndarray) -> dict[str, Any]:
    """{"n", metric: {"value", "count"}} from a (prompts × metrics) matrix of expected values."""
    n = int(expected.shape[0])
    out: dict[str, Any] = {"n": n}
    for j, name in enumerate(METRICS):
        total = float(expected[:, j].sum())
        # Rounding hides float noise in sums of split ties so whole counts come out as ints.
        count = round(total, 9)
        out[name] = {
            "value": total / n if n else None,
            "count": int(count) if count.is_integer() else count,
        }
    return out


def metric_matrix(records: Sequence[dict[str, Any]]) -> np.ndarray:
    """(candidates × metrics) 0/1 matrix from `candidate_metrics` records."""
    return np.array([[float(r[m]) for m in METRICS] for r in records], dtype=np.float64)


def selection_metrics(
    sets: Sequence[dict[str, Any]],
    scores: Sequence[Any],
    *,
    partial_tolerance: float = 0.1,
    vote_temperature: float = 1.0,
    answer_format: str = "gsm8k",
) -> dict[str, Any]:
    """The `best_of_n`, `weighted_vote` and `baselines` sections of eval.json."""
    arrays = check_sets(sets, scores)
    rules = ("best_of_n", "weighted_vote", "random", "majority_vote", "rule_based", "longest")
    expected: dict[str, list[np.ndarray]] = {rule: [] for rule in (*rules, "oracle")}
    for item, arr in zip(sets, arrays, strict=True):
        texts = [c["text"] for c in item["candidates"]]
        records = [
            candidate_metrics(
                t,
                item["reference"],
                partial_tolerance=partial_tolerance,
                answer_format=answer_format,
            )
            for t in texts
        ]
        matrix = metric_matrix(records)
        answers = [
            None if r["extracted"] is None else normalize_answer(r["extracted"]) for r in records
        ]
        picks = {
            "best_of_n": best_of_n(arr),
            "weighted_vote": weighted_vote(arr, answers, vote_temperature),
            "random": uniform(len(texts)),
            "majority_vote": majority_vote(answers),
            "rule_based": rule_based([format_reward(t, answer_format) for t in texts]),
            "longest": longest(texts),
        }
        for rule, probs in picks.items():
            expected[rule].append(probs @ matrix)
        expected["oracle"].append(matrix.max(axis=0))
    table = {rule: summarize(np.array(rows)) for rule, rows in expected.items()}
    return {
        "best_of_n": table["best_of_n"],
        "weighted_vote": table["weighted_vote"],
        "baselines": {name: table[name] for name in BASELINES},
    }
