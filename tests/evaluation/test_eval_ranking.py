"""Ranking metrics: pairwise accuracy (ties wrong), AUC, ROC, margin, by-kind, length bias."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation.ranking import (
    auc,
    average_ranks,
    check_sets,
    length_correlation,
    margin_mean,
    pairwise_accuracy,
    pairwise_by_kind,
    ranking_metrics,
    roc_curve,
)


def make_set(labels, sources=None, texts=None, id_="p"):
    sources = sources or ["sampled"] * len(labels)
    texts = texts or [f"step\n#### {i}" for i in range(len(labels))]
    return {
        "id": id_,
        "prompt": "q",
        "reference": "0",
        "candidates": [
            {"text": t, "label": lab, "source": s}
            for t, lab, s in zip(texts, labels, sources, strict=True)
        ],
    }


def test_pairwise_ties_count_wrong():
    # correct [3, 1] vs incorrect [2, 1]: 3>2 win, 3>1 win, 1<2 lose, 1=1 tie -> wrong.
    sets = [make_set([True, True, False, False])]
    acc, pairs = pairwise_accuracy(sets, [[3.0, 1.0, 2.0, 1.0]])
    assert pairs == 4
    assert acc == pytest.approx(0.5)


def test_degenerate_sets_add_no_pairs():
    sets = [
        make_set([True, False]),
        make_set([True, True]),  # all correct
        make_set([False, False, False]),  # all wrong
    ]
    scores = [[1.0, 0.0], [5.0, 5.0], [9.0, 9.0, 9.0]]
    acc, pairs = pairwise_accuracy(sets, scores)
    assert (acc, pairs) == (1.0, 1)
    assert margin_mean(sets, scores) == pytest.approx(1.0)


def test_only_degenerate_sets_give_none():
    sets = [make_set([True, True]), make_set([False])]
    assert pairwise_accuracy(sets, [[1.0, 2.0], [0.0]]) == (None, 0)
    assert margin_mean(sets, [[1.0, 2.0], [0.0]]) is None
    assert pairwise_by_kind(sets, [[1.0, 2.0], [0.0]]) == {}


def test_margin_mean_by_hand():
    # pairs: (3-2) + (3-0.5) + (1-2) + (1-0.5) = 1 + 2.5 - 1 + 0.5 = 3 over 4 pairs
    sets = [make_set([True, True, False, False])]
    assert margin_mean(sets, [[3.0, 1.0, 2.0, 0.5]]) == pytest.approx(0.75)


def test_pairwise_by_kind_uses_incorrect_source():
    sets = [make_set([True, True, False, False], ["ref", "ref", "arithmetic", "final_answer"])]
    by_kind = pairwise_by_kind(sets, [[3.0, 1.0, 2.0, 0.5]])
    assert by_kind == {
        "arithmetic": {"pairwise_accuracy": 0.5, "pairs": 2},
        "final_answer": {"pairwise_accuracy": 1.0, "pairs": 2},
    }


def test_auc_known_vectors():
    labels = np.array([False, False, True, True])
    assert auc(np.array([1.0, 2.0, 3.0, 4.0]), labels) == 1.0
    assert auc(np.array([4.0, 3.0, 2.0, 1.0]), labels) == 0.0
    assert auc(np.array([7.0, 7.0, 7.0, 7.0]), labels) == 0.5
    # pos [0.8, 0.4] vs neg [0.5, 0.4, 0.1]: 0.8 wins 3; 0.4 loses, ties (0.5), wins -> 4.5 / 6
    scores = np.array([0.8, 0.4, 0.5, 0.4, 0.1])
    assert auc(scores, np.array([True, True, False, False, False])) == pytest.approx(0.75)


def test_auc_single_class_is_none():
    assert auc(np.array([1.0, 2.0]), np.array([True, True])) is None


def test_auc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=40).astype(float)
    labels = rng.random(40) < 0.4
    pos, neg = scores[labels], scores[~labels]
    brute = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    assert auc(scores, labels) == pytest.approx(brute / (len(pos) * len(neg)))


def test_average_ranks_ties():
    assert average_ranks(np.array([10.0, 20.0, 10.0, 5.0])).tolist() == [2.5, 4.0, 2.5, 1.0]


def test_roc_curve_points():
    fpr, tpr, thr = roc_curve(np.array([0.9, 0.8, 0.8, 0.1]), np.array([True, False, True, False]))
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert thr[0] == np.inf
    assert thr[1:].tolist() == [0.9, 0.8, 0.1]


def test_length_correlation_sign():
    texts = ["a", "aaa", "aaaaaaaaa"]
    longer_higher = make_set([True, False, False], texts=texts)
    assert length_correlation([longer_higher], [[1.0, 2.0, 3.0]]) == pytest.approx(
        float(np.corrcoef([1, 2, 3], [1, 3, 9])[0, 1])
    )
    assert length_correlation([longer_higher], [[3.0, 2.0, 1.0]]) < 0


def test_length_correlation_skips_constant_and_single():
    texts = ["a", "bb"]
    sets = [
        make_set([True, False], texts=texts),  # r = +1
        make_set([True, False], texts=texts),  # constant reward: skipped
        make_set([True], texts=["abc"]),  # single candidate: skipped
        make_set([True, False], texts=["ab", "cd"]),  # constant length: skipped
    ]
    scores = [[0.0, 1.0], [2.0, 2.0], [1.0], [0.0, 1.0]]
    assert length_correlation(sets, scores) == pytest.approx(1.0)
    assert length_correlation(sets[1:], scores[1:]) is None


def test_ranking_metrics_keys():
    sets = [make_set([True, False], ["ref", "operator"])]
    out = ranking_metrics(sets, [[1.0, 0.0]])
    assert out == {
        "pairwise_accuracy": 1.0,
        "pairs": 1,
        "auc": 1.0,
        "margin_mean": 1.0,
        "by_kind": {"operator": {"pairwise_accuracy": 1.0, "pairs": 1}},
        "length_correlation": None,  # equal lengths
    }


@pytest.mark.parametrize(
    ("sets", "scores", "needle"),
    [
        ([], [], "empty"),
        ([make_set([True])], [], "1 candidate sets but 0"),
        ([make_set([True, False])], [[1.0]], "expected 2 scores"),
        ([make_set([True, False])], [[1.0, float("nan")]], "finite"),
        ([{"id": "x", "reference": "1", "candidates": []}], [[]], "non-empty list"),
        (
            [{"id": "x", "reference": "1", "candidates": [{"text": "t", "label": "yes"}]}],
            [[1.0]],
            "label: expected true or false",
        ),
    ],
)
def test_check_sets_errors(sets, scores, needle):
    with pytest.raises(UserError, match=needle):
        check_sets(sets, scores)
