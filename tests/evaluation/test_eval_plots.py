"""Plot data: ROC points, shared-bin reward histograms, gap reliability bins."""

from __future__ import annotations

import json

import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation.plots import reliability, reward_histogram, roc_points


def make_set(answers, labels, reference="18"):
    return {
        "id": "p",
        "prompt": "q",
        "reference": reference,
        "candidates": [
            {"text": f"Steps.\n#### {a}", "label": lab, "source": "sampled"}
            for a, lab in zip(answers, labels, strict=True)
        ],
    }


def test_roc_points():
    sets = [make_set(["18", "1"], [True, False]), make_set(["18", "2"], [True, False])]
    points = roc_points(sets, [[0.9, 0.8], [0.8, 0.1]])
    assert points == [
        {"fpr": 0.0, "tpr": 0.0, "threshold": None},
        {"fpr": 0.0, "tpr": 0.5, "threshold": 0.9},
        {"fpr": 0.5, "tpr": 1.0, "threshold": 0.8},
        {"fpr": 1.0, "tpr": 1.0, "threshold": 0.1},
    ]
    json.dumps(points, allow_nan=False)


def test_reward_histogram_shared_bins():
    sets = [make_set(["18", "1", "2"], [True, False, False])]
    rows = reward_histogram(sets, [[1.0, 0.0, 0.1]], bins=2)
    assert rows == [
        {"bin_center": 0.25, "correct": 0, "incorrect": 2},
        {"bin_center": 0.75, "correct": 1, "incorrect": 0},
    ]


def test_reward_histogram_constant_scores():
    rows = reward_histogram([make_set(["18", "1"], [True, False])], [[2.0, 2.0]], bins=3)
    assert sum(r["correct"] + r["incorrect"] for r in rows) == 2


def test_reliability_bins_by_gap():
    # gaps 0 (tie: 0.5 correct), 1 (wrong), 2 (right), 3 (right); single-candidate set skipped
    sets = [
        make_set(["18", "20"], [True, False]),
        make_set(["20", "18"], [False, True]),
        make_set(["18", "20"], [True, False]),
        make_set(["18", "20"], [True, False]),
        make_set(["18"], [True]),
    ]
    scores = [[1.0, 1.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [5.0]]
    assert reliability(sets, scores, bins=2) == [
        {"gap_quantile": 0.25, "gap_mean": 0.5, "accuracy": 0.25, "count": 2},
        {"gap_quantile": 0.75, "gap_mean": 2.5, "accuracy": 1.0, "count": 2},
    ]
    # more bins than prompts: one bin per prompt
    assert [r["count"] for r in reliability(sets, scores, bins=10)] == [1, 1, 1, 1]


def test_reliability_edge_cases():
    assert reliability([make_set(["18"], [True])], [[1.0]]) == []
    with pytest.raises(UserError, match="reliability metric"):
        reliability([make_set(["18"], [True])], [[1.0]], metric="accuracy")
