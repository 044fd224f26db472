"""Markdown report: header, metric tables, baselines, signed deltas, deterministic output."""

from __future__ import annotations

import copy

from rewardpipe.evaluation import evaluate_sets
from rewardpipe.evaluation.report import fmt, fmt_delta, render_report


def sol(answer):
    return f"Steps.\n#### {answer}"


SETS = [
    {
        "id": "a",
        "prompt": "q",
        "reference": "18",
        "candidates": [
            {"text": sol("18"), "label": True, "source": "ref"},
            {"text": sol("20"), "label": False, "source": "arithmetic"},
        ],
    },
    {
        "id": "b",
        "prompt": "q2",
        "reference": "7",
        "candidates": [
            {"text": sol("7"), "label": True, "source": "ref"},
            {"text": sol("8"), "label": False, "source": "final_answer"},
        ],
    },
]
INFO = {"dataset": "gsm8k", "split": "test", "model": "models/model"}


def metrics():
    return evaluate_sets(SETS, [[1.0, 0.0], [0.0, 1.0]])


def test_header_and_tables():
    text = render_report(metrics(), info=INFO)
    lines = text.splitlines()
    assert lines[0] == "# Reward model evaluation"
    for row in (
        "| Dataset | gsm8k |",
        "| Split | test |",
        "| Model | models/model |",
        "| Prompts | 2 |",
        "| Candidates | 4 |",
        "| Metric | Value | Count |",
        "| best_of_n exact_accuracy | 0.5000 | 1 |",
        "| weighted_vote format_compliance | 1.0000 | 2 |",
        "| pairwise_accuracy | 0.5000 | 2 |",
        "| auc | 0.5000 |  |",
        "| pairwise_accuracy [final_answer] | 0.0000 | 1 |",
        "| length_correlation | n/a |  |",
        "| Metric | Model | random | majority_vote | rule_based | longest | oracle |",
        "| exact_accuracy | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 1.0000 |",
    ):
        assert row in lines, row
    assert "Δ" not in text


def test_info_overrides_counts_and_extra_keys_sorted():
    lines = render_report(metrics(), info={**INFO, "n_prompts": 99, "z": "last", "commit": "abc"})
    lines = lines.splitlines()
    assert "| Prompts | 99 |" in lines
    assert lines.index("| commit | abc |") < lines.index("| z | last |")


def test_deltas_with_signs():
    current = metrics()
    base = copy.deepcopy(current)
    base["best_of_n"]["exact_accuracy"]["value"] = 0.25  # now 0.5: +0.25
    base["ranking"]["auc"] = 0.6  # now 0.5: -0.1
    del base["weighted_vote"]  # missing in the baseline: n/a
    lines = render_report(current, info=INFO, baseline=base).splitlines()
    assert "| Metric | Value | Count | Δ |" in lines
    assert "| best_of_n exact_accuracy | 0.5000 | 1 | +0.2500 |" in lines
    assert "| best_of_n numerical_accuracy | 0.5000 | 1 | +0.0000 |" in lines
    assert "| auc | 0.5000 |  | -0.1000 |" in lines
    assert "| weighted_vote exact_accuracy | 0.5000 | 1 | n/a |" in lines
    assert (
        "| exact_accuracy | 0.5000 | +0.2500 | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 1.0000 |"
        in lines
    )


def test_deterministic():
    assert render_report(metrics(), info=INFO) == render_report(metrics(), info=INFO)


def test_formatters():
    assert fmt(None) == "n/a"
    assert fmt(3) == "3"
    assert fmt(1 / 3) == "0.3333"
    assert fmt("a|b") == "a\\|b"
    assert fmt_delta(0.1, 0.1 + 1e-12) == "+0.0000"  # no "-0.0000"
    assert fmt_delta(0.2, 0.5) == "-0.3000"
    assert fmt_delta(None, 0.5) == "n/a"
