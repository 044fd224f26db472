"""Tests for process (step-level) metrics: rewardpipe.evaluation.process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation import process


def _row(labels, rid="r"):
    return {"id": rid, "labels": list(labels)}


def test_first_error_skips_neutral_steps():
    assert process.first_error([1, 0, -1, -1]) == 2
    assert process.first_error([1, 0, 1]) is None
    assert process.first_error([-1]) == 0


@pytest.mark.parametrize(
    ("how", "expected"),
    [("min", 0.2), ("last", 0.5), ("prod", 0.9 * 0.2 * 0.5), ("mean", (0.9 + 0.2 + 0.5) / 3)],
)
def test_prm_aggregate(how, expected):
    assert math.isclose(process.prm_aggregate([0.9, 0.2, 0.5], how), expected)


def test_prm_aggregate_rejects_unknown_and_empty():
    with pytest.raises(UserError, match="expected one of min, last, prod, mean"):
        process.prm_aggregate([0.5], "max")
    with pytest.raises(UserError, match="without steps"):
        process.prm_aggregate([], "min")


def test_step_auc_masks_steps_after_the_first_error_and_neutral_steps():
    rows = [_row([1, 1, -1, -1]), _row([1, 0, 1])]
    # Step 3 of row 0 (after the first error) scores high: masked, so the AUC stays perfect.
    scores = [[0.9, 0.8, 0.1, 0.99], [0.7, 0.0, 0.6]]
    assert process.step_auc(rows, scores) == 1.0
    assert process.step_auc(rows, [[0.1, 0.2, 0.9, 0.0], [0.3, 0.5, 0.4]]) == 0.0
    assert process.step_auc([_row([1, 1])], [[0.2, 0.3]]) is None


def test_processbench_counts_exact_first_error_hits():
    rows = [_row([1, -1, -1]), _row([-1, -1]), _row([1, 1]), _row([1, 1, 1])]
    scores = [
        [0.9, 0.2, 0.1],  # first below 0.5 at 1: hit
        [0.8, 0.3],  # predicted 1, truth 0: miss
        [0.9, 0.7],  # no error predicted: hit
        [0.9, 0.4, 0.9],  # error predicted: miss
    ]
    m = process.processbench(rows, scores, 0.5)
    assert m["error_accuracy"] == 0.5 and m["correct_accuracy"] == 0.5
    assert math.isclose(m["f1"], 0.5)
    assert (m["n_erroneous"], m["n_correct"], m["threshold"]) == (2, 2, 0.5)
    only_wrong = process.processbench(rows[:2], scores[:2], 0.5)
    assert only_wrong["correct_accuracy"] is None and only_wrong["f1"] is None


def test_processbench_f1_is_zero_when_one_side_never_hits():
    m = process.processbench([_row([1, -1]), _row([1, 1])], [[0.9, 0.1], [0.9, 0.2]], 0.5)
    assert m["error_accuracy"] == 1.0 and m["correct_accuracy"] == 0.0 and m["f1"] == 0.0


def test_fit_threshold_separates_a_separable_val_set():
    rows = [_row([1, -1]), _row([1, 1]), _row([-1]), _row([1, 1, 1])]
    scores = [[0.8, 0.3], [0.9, 0.7], [0.35], [0.6, 0.75, 0.95]]
    t = process.fit_threshold(rows, scores)
    assert 0.35 < t <= 0.6
    assert process.processbench(rows, scores, t)["f1"] == 1.0


def test_shape_mismatch_is_a_user_error():
    with pytest.raises(UserError, match="row 0 \\(a\\): 2 step labels but 3 step scores"):
        process.step_auc([_row([1, -1], "a")], [[0.1, 0.2, 0.3]])
    with pytest.raises(UserError, match="1 step rows but 2 score arrays"):
        process.processbench([_row([1])], [[0.1], [0.2]], 0.5)


def test_selection_by_aggregation_min_picks_the_solution_without_a_bad_step():
    sets = [
        {
            "id": "q",
            "prompt": "p",
            "reference": "4",
            "candidates": [
                {"text": "a\nb\n#### 4", "label": True},
                {"text": "a\nc\n#### 5", "label": False},
            ],
        }
    ]
    # The wrong candidate has the higher mean and last score, but one very low step.
    step_scores = [[np.array([0.6, 0.6]), np.array([0.99, 0.3, 0.99])]]
    out = process.selection_by_aggregation(sets, step_scores)
    assert set(out["best_of_n"]) == set(process.AGGREGATIONS)
    assert out["best_of_n"]["min"]["exact_accuracy"]["value"] == 1.0
    assert out["best_of_n"]["mean"]["exact_accuracy"]["value"] == 0.0
    assert out["best_of_n"]["last"]["exact_accuracy"]["value"] == 0.0
    assert out["weighted_vote"]["min"]["exact_accuracy"]["value"] == 1.0


def test_process_metrics_fits_on_val_and_reports_on_test():
    val = [_row([1, -1]), _row([1, 1])]
    test = [_row([1, -1]), _row([1, 1])]
    out = process.process_metrics(val, [[0.9, 0.2], [0.8, 0.7]], test, [[0.9, 0.1], [0.9, 0.6]])
    assert out["step_auc"] == 1.0
    assert out["processbench"]["f1"] == 1.0
    assert 0.2 < out["processbench"]["threshold"] <= 0.7


def _sets():
    return [
        {
            "id": "q",
            "prompt": "p",
            "reference": "4",
            "candidates": [
                {"text": "a\n#### 4", "label": True},
                {"text": "b\n#### 5", "label": False},
            ],
        }
    ]


def test_process_section_has_every_part_and_checks_the_aggregate():
    rows = [_row([1, 1]), _row([1, -1])]
    scores = [[0.9, 0.8], [0.9, 0.2]]
    out = process.process_section(rows, scores, rows, scores, _sets(), [[[0.9], [0.1]]])
    assert out["aggregate"] == "min"
    assert out["processbench"]["f1"] == 1.0 and out["step_auc"] == 1.0
    assert out["best_of_n"]["prod"]["exact_accuracy"]["value"] == 1.0
    with pytest.raises(UserError, match=r"evaluate\.prm_aggregate: expected one of"):
        process.process_section(
            rows, scores, rows, scores, _sets(), [[[0.9], [0.1]]], aggregate="x"
        )


def test_step_score_curves_per_position():
    rows = [_row([1, 1]), _row([1, -1, -1]), _row([1])]
    curves = process.step_score_curves(rows, [[0.8, 0.6], [0.9, 0.2, 0.1], [0.4]])
    assert [c["position"] for c in curves] == [0, 1, 2]
    assert math.isclose(curves[0]["correct"], 0.6) and curves[0]["after_error"] is None
    assert curves[1]["wrong"] == 0.2 and curves[1]["after_error"] == 0.2
    assert curves[2]["correct"] is None and curves[2]["wrong"] == 0.1


def test_process_lines_render_every_aggregation_and_the_orm_row():
    from rewardpipe.evaluation.process_report import process_lines

    rows = [_row([1, 1]), _row([1, -1])]
    section = process.process_section(
        rows, [[0.9, 0.8], [0.9, 0.2]], rows, [[0.9, 0.8], [0.9, 0.2]], _sets(), [[[0.9], [0.1]]]
    )
    orm = {"best_of_n": {"exact_accuracy": {"value": 0.25}}}
    text = "\n".join(process_lines(section, orm))
    assert "| ProcessBench F1 | 1.0000 |" in text
    for how in process.AGGREGATIONS:
        assert f"| {how} | 1.0000 |" in text
    assert "| ORM | 0.2500 | n/a | n/a |" in text
