"""Best-of-N selection rules, baselines and expected-value metrics, worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation import evaluate_sets
from rewardpipe.evaluation.selection import (
    best_of_n,
    candidate_metrics,
    longest,
    majority_vote,
    rule_based,
    selection_metrics,
    weighted_vote,
)


def sol(answer, steps="Step one.\nStep two."):
    """A well-formatted GSM8K solution (format reward 3.0 + 1.0)."""
    return f"{steps}\n#### {answer}"


def make_set(texts, reference="18", labels=None, id_="p"):
    labels = labels if labels is not None else [False] * len(texts)
    return {
        "id": id_,
        "prompt": "q",
        "reference": reference,
        "candidates": [
            {"text": t, "label": lab, "source": "sampled"}
            for t, lab in zip(texts, labels, strict=True)
        ],
    }


def value(metrics, name="exact_accuracy"):
    return metrics[name]["value"], metrics[name]["count"]


def test_candidate_metrics_variants():
    tol = {"partial_tolerance": 0.1}
    exact = candidate_metrics(sol("18"), "18", **tol)
    assert exact["extracted"] == "18"
    assert all(exact[m] for m in ("exact_accuracy", "numerical_accuracy", "partial_accuracy"))
    assert exact["format_compliance"]
    numeric = candidate_metrics(sol("18.0"), "18", **tol)
    assert not numeric["exact_accuracy"] and numeric["numerical_accuracy"]
    close = candidate_metrics(sol("19"), "18", **tol)
    assert not close["numerical_accuracy"] and close["partial_accuracy"]
    assert not candidate_metrics(sol("25"), "18", **tol)["partial_accuracy"]
    unformatted = candidate_metrics("So the answer is 18.", "18", **tol)
    assert unformatted["exact_accuracy"] and not unformatted["format_compliance"]
    twice = candidate_metrics("#### 18\n#### 18", "18", **tol)
    assert not twice["format_compliance"]
    nothing = candidate_metrics("no idea", "18", **tol)
    assert nothing["extracted"] is None and not any(
        nothing[m] for m in ("exact_accuracy", "numerical_accuracy", "partial_accuracy")
    )


def test_best_of_n_ties_split_evenly():
    assert best_of_n([1.0, 1.0, 0.0]).tolist() == [0.5, 0.5, 0.0]
    sets = [make_set([sol("18"), sol("20"), sol("18")])]
    out = selection_metrics(sets, [[1.0, 1.0, 0.0]])
    assert value(out["best_of_n"]) == (0.5, 0.5)
    assert out["best_of_n"]["n"] == 1


def test_weighted_vote_disagrees_with_best_of_n():
    # best_of_n picks the lone 20 (score 2.0); at T=1 the two 18s weigh 2·e^-0.5 ≈ 1.21 > 1.
    sets = [make_set([sol("20"), sol("18"), sol("18")])]
    scores = [[2.0, 1.5, 1.5]]
    out = selection_metrics(sets, scores, vote_temperature=1.0)
    assert value(out["best_of_n"]) == (0.0, 0)
    assert value(out["weighted_vote"]) == (1.0, 1)
    # A low temperature approaches best-of-N: 1 vs 2·e^-5.
    cold = selection_metrics(sets, scores, vote_temperature=0.1)
    assert value(cold["weighted_vote"]) == (0.0, 0)


def test_weighted_vote_representative_and_ties():
    answers = ["18", "20", "18"]
    # group 18 wins (e^0 + e^-1 > e^-0.5); its top member (index 0) represents it.
    assert weighted_vote([1.0, 0.5, 0.0], answers, 1.0).tolist() == [1.0, 0.0, 0.0]
    # two single-member groups with equal weight: split evenly
    assert weighted_vote([1.0, 1.0], ["18", "20"], 1.0).tolist() == [0.5, 0.5]
    # candidates without an answer don't vote; none with an answer -> best-of-N
    assert weighted_vote([9.0, 0.0], [None, "20"], 1.0).tolist() == [0.0, 1.0]
    assert weighted_vote([9.0, 0.0], [None, None], 1.0).tolist() == [1.0, 0.0]


def test_weighted_vote_is_stable_for_large_rewards():
    probs = weighted_vote([1000.0, 999.0, 999.0], ["1", "2", "2"], 1.0)
    assert np.all(np.isfinite(probs))
    assert probs.tolist() == [1.0, 0.0, 0.0]  # e^0 = 1 > 2·e^-1 ≈ 0.74


def test_weighted_vote_rejects_bad_temperature():
    with pytest.raises(UserError, match="vote_temperature"):
        weighted_vote([1.0], ["1"], 0.0)


def test_majority_vote_ties_and_non_voters():
    assert majority_vote(["18", "20", "18", "20", None]).tolist() == [0.25] * 4 + [0.0]
    assert majority_vote([None, None, "20"]).tolist() == [0.0, 0.0, 1.0]
    assert majority_vote([None, None]).tolist() == [0.5, 0.5]
    sets = [make_set([sol("18"), sol("20"), sol("18"), sol("20"), "no answer"])]
    out = selection_metrics(sets, [[0.0] * 5])
    assert value(out["baselines"]["majority_vote"]) == (0.5, 0.5)


def test_majority_vote_groups_normalised_answers():
    # "18.0" and "$18" normalise to 18 and outvote 20; the 18 group is picked uniformly.
    sets = [make_set([sol("18.0"), sol("$18"), sol("20")])]
    out = selection_metrics(sets, [[0.0, 0.0, 0.0]])["baselines"]["majority_vote"]
    assert value(out, "numerical_accuracy") == (1.0, 1)
    assert value(out, "exact_accuracy") == (0.0, 0)


def test_random_is_uniform_expectation():
    sets = [make_set([sol("18"), sol("1"), sol("2"), sol("3")])]
    out = selection_metrics(sets, [[0.0, 5.0, 5.0, 5.0]])["baselines"]["random"]
    assert value(out) == (0.25, 0.25)


def test_longest_and_ties():
    assert longest(["aa", "bbb", "ccc"]).tolist() == [0.0, 0.5, 0.5]
    sets = [make_set([sol("18", steps="A much longer chain of steps."), sol("20", steps="x")])]
    out = selection_metrics(sets, [[0.0, 1.0]])
    assert value(out["baselines"]["longest"]) == (1.0, 1)
    assert value(out["best_of_n"]) == (0.0, 0)


def test_rule_based_uses_format_reward():
    assert rule_based([4.0, -1.0, 4.0]).tolist() == [0.5, 0.0, 0.5]
    # the well-formatted 18 beats an unformatted 20 whatever the rewards say
    sets = [make_set([sol("18"), "I think the answer is 20."])]
    out = selection_metrics(sets, [[0.0, 9.0]])["baselines"]["rule_based"]
    assert value(out) == (1.0, 1)
    assert value(out, "format_compliance") == (1.0, 1)


def test_oracle_per_metric():
    sets = [
        make_set([sol("105"), sol("7")], reference="100"),  # only partial (5 % off)
        make_set([sol("100"), sol("7")], reference="100"),
    ]
    out = selection_metrics(sets, [[0.0, 1.0], [0.0, 1.0]])["baselines"]["oracle"]
    assert value(out) == (0.5, 1)
    assert value(out, "partial_accuracy") == (1.0, 2)
    assert value(out, "format_compliance") == (1.0, 2)


def test_fractional_counts_over_prompts():
    sets = [
        make_set([sol("18"), sol("20"), sol("21")]),
        make_set([sol("18"), sol("20")]),
    ]
    out = selection_metrics(sets, [[1.0, 1.0, 1.0], [3.0, 0.0]])["best_of_n"]
    # 1/3 + 1 = 4/3 of 2 prompts
    assert out["exact_accuracy"]["count"] == pytest.approx(4 / 3)
    assert out["exact_accuracy"]["value"] == pytest.approx(2 / 3)


def _plain(node):
    """Only dict/list/str/int/float/bool/None, recursively (no numpy scalars)."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_plain(v) for v in node)
    return node is None or type(node) in (str, int, float, bool)


def test_evaluate_sets_structure():
    sets = [
        make_set([sol("18"), sol("20")], labels=[True, False], id_="a"),
        make_set([sol("18"), sol("18")], labels=[True, True], id_="b"),  # degenerate
    ]
    out = evaluate_sets(sets, [np.array([1.0, 0.0]), [0.5, 0.5]])
    assert _plain(out)
    json.dumps(out, allow_nan=False)
    assert out["n_prompts"] == 2 and out["n_candidates"] == 4 and out["degenerate_sets"] == 1
    assert out["ranking"]["pairs"] == 1 and out["ranking"]["pairwise_accuracy"] == 1.0
    assert value(out["best_of_n"]) == (1.0, 2)  # degenerate sets still count for best-of-N
    assert set(out["baselines"]) == {"random", "majority_vote", "rule_based", "longest", "oracle"}
    assert set(out["weighted_vote"]) == {
        "n",
        "exact_accuracy",
        "numerical_accuracy",
        "partial_accuracy",
        "format_compliance",
    }


def test_evaluate_sets_empty_input():
    with pytest.raises(UserError, match="empty"):
        evaluate_sets([], [])
