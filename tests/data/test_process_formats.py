"""Tests for step-labelled user data: rewardpipe.data.process_formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardpipe.data.process_formats import (
    StepItem,
    detect_format,
    label_value,
    resolve_neutral,
    to_step_items,
)
from rewardpipe.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _rows(name):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_prm800k_fixture_takes_chosen_human_and_stopping_completions():
    rows = _rows("prm800k_small.jsonl")
    assert detect_format(list(rows[0]), "f") == "prm800k"
    items, skipped = to_step_items(rows, "prm800k", "prm800k_small.jsonl", neutral="keep")
    assert skipped == 0
    assert items[0] == StepItem(
        "What is 2 + 3 * 4?",
        ("First multiply: 3 * 4 = 12.", "Then add: 2 + 12 = 14.", "# Answer\n\n14"),
        (1, 1, 1),
    )
    # chosen_completion 1, then no completion chosen at the last step: the one rated -1
    assert items[1].steps == ("We need 5 boxes.", "So 5 + 6 = 11 eggs.")
    assert items[1].labels == (1, -1)
    assert items[2].steps[0] == "10 - 4 = 6." and items[2].labels == (1, 1)  # human completion


def test_math_shepherd_fixture_splits_question_and_tagged_steps():
    rows = _rows("math_shepherd_small.jsonl")
    assert detect_format(list(rows[0]), "f") == "math_shepherd"
    items, _ = to_step_items(rows, "math_shepherd", "ms.jsonl")
    assert items[0].prompt == "Tom has 3 apples and buys 2 more. How many apples does he have?"
    assert items[0].steps == (
        "Step 1: Tom starts with 3 apples.",
        "Step 2: He buys 2 more, so 3 + 2 = 5.",
        "Step 3: The answer is: 5",
    )
    assert [it.labels for it in items] == [(1, 1, 1), (1, -1, -1), (-1, -1)]


def test_custom_columns_and_trl_stepwise_names():
    rows = [{"q": "Q?", "s": ["a", "b"], "y": [1, -1]}]
    items, _ = to_step_items(
        rows, "custom", "c", columns={"question": "q", "steps": "s", "labels": "y"}
    )
    assert items == [StepItem("Q?", ("a", "b"), (1, -1))]
    trl = [{"prompt": "P?", "completions": ["x", "y"], "labels": [True, False]}]
    assert detect_format(list(trl[0]), "t") == "custom"
    assert to_step_items(trl, "custom", "t")[0][0].labels == (1, -1)


@pytest.mark.parametrize(
    ("neutral", "expected"), [("correct", (1, 1, -1)), ("wrong", (1, -1, -1)), ("keep", (1, 0, -1))]
)
def test_neutral_is_configurable(neutral, expected):
    assert resolve_neutral((1, 0, -1), neutral) == expected
    rows = [{"question": "Q", "steps": ["a", "b", "c"], "labels": [1, 0, -1]}]
    assert to_step_items(rows, "custom", "c", neutral=neutral)[0][0].labels == expected


def test_label_values():
    assert [label_value(v, "w") for v in (1, 0, -1, True, False, "+", "-", 1.0)] == [
        1,
        0,
        -1,
        1,
        -1,
        1,
        -1,
        1,
    ]
    with pytest.raises(UserError, match="w: expected a step label"):
        label_value(2, "w")


@pytest.mark.parametrize(
    ("fmt", "row", "message"),
    [
        (
            "custom",
            {"question": "Q", "steps": ["a", "b"], "labels": [1]},
            r"f:1: labels: expected a list of 2 step labels",
        ),
        (
            "custom",
            {"question": "Q", "steps": ["a"], "labels": [5]},
            r"f:1: labels\[0\]: expected a step label",
        ),
        (
            "custom",
            {"question": "", "steps": ["a"], "labels": [1]},
            r"f:1: question: expected a non-empty string",
        ),
        (
            "prm800k",
            {"question": "Q", "label": {}},
            r"f:1: question: expected an object with 'problem'",
        ),
        (
            "prm800k",
            {"question": {"problem": "Q"}, "label": {"steps": []}},
            r"f:1: label.steps: expected a non-empty list",
        ),
        (
            "prm800k",
            {
                "question": {"problem": "Q"},
                "label": {
                    "steps": [
                        {
                            "completions": [{"text": "a", "rating": 1}, {"text": "b", "rating": 1}],
                            "chosen_completion": None,
                        },
                        {"completions": [{"text": "c", "rating": 1}]},
                    ]
                },
            },
            r"f:1: label.steps\[0\].chosen_completion: expected the index",
        ),
        (
            "math_shepherd",
            {"input": "Q Step 1: a", "label": "Q Step 1: a"},
            r"f:1: input: expected steps each ended by",
        ),
        (
            "math_shepherd",
            {"input": "Q Step 1: a ки", "label": "Q Step 1: b +"},
            r"f:1: label: expected input with each",
        ),
        (
            "math_shepherd",
            {"input": "Q Step 1: a ки", "label": "Q Step 1: a ?"},
            r"f:1: label: step 1: expected a step label",
        ),
    ],
)
def test_bad_rows_name_file_row_and_field(fmt, row, message):
    with pytest.raises(UserError, match=message):
        to_step_items([row], fmt, "f")
    items, skipped = to_step_items([row], fmt, "f", strict=False)
    assert (items, skipped) == ([], 1)


def test_detect_format_explains_what_it_expects():
    with pytest.raises(UserError, match="f: columns a, b: expected PRM800K rows"):
        detect_format(["a", "b"], "f")
    with pytest.raises(UserError, match="format: expected one of prm800k, math_shepherd, custom"):
        to_step_items([], "nope", "f")
