"""Tests for external candidates files (rewardpipe.data.candidates)."""

from __future__ import annotations

import json

import pytest

from rewardpipe.data.candidates import (
    label_of,
    load_candidates,
    pairs_from_candidates,
    pairs_to_sets,
    reference_answer,
)
from rewardpipe.errors import UserError

GOOD = {"question": "What is 6 * 7?", "answer": "6 * 7 = <<6*7=42>>42\n#### 42"}


def write(tmp_path, rows) -> str:
    path = tmp_path / "candidates.jsonl"
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return str(path)


def test_fixture_labelled_unlabelled_and_plain_string_candidates(fixtures):
    sets = load_candidates(fixtures / "candidates.jsonl").sets
    assert [s["reference"] for s in sets] == ["72", "10", "624"]
    for s in sets:
        assert set(s) == {"id", "prompt", "reference", "candidates"}
        assert all(set(c) == {"text", "label", "source"} for c in s["candidates"])
    # Labelled: kept as given.
    assert [c["label"] for c in sets[0]["candidates"]] == [True, False]
    # Unlabelled: computed by final-answer comparison with the reference (`#### N` or prose).
    assert [c["label"] for c in sets[1]["candidates"]] == [True, False, True]
    assert [c["source"] for c in sets[1]["candidates"]] == ["sampled", "sampled", "policy-v2"]
    assert sets[1]["prompt"].startswith("Weng earns $12")  # `prompt` accepted for `question`
    # Plain strings, a numeric answer, an explicit id; no answer at all is incorrect.
    assert sets[2]["id"] == "letters"
    assert [c["label"] for c in sets[2]["candidates"]] == [True, False, True, False]
    assert sets[2]["candidates"][1]["text"] == "3 * 2 * 52 = 312\n#### 312"


def test_ids_are_stable_and_distinct(fixtures):
    first, second = (
        load_candidates(fixtures / "candidates.jsonl").sets,
        load_candidates(fixtures / "candidates.jsonl").sets,
    )
    assert [s["id"] for s in first] == [s["id"] for s in second]
    assert len({s["id"] for s in first}) == 3


def test_reference_and_labels():
    assert reference_answer("a\n#### 1,234") == "1,234"
    assert reference_answer(" 18 ") == "18"
    assert label_of("So she pays $18.00.\n#### 18", "18")
    assert label_of("<answer>18</answer>", "18.0")
    assert not label_of("#### 19", "18")
    assert not label_of("no answer here", "18")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"answer": "#### 1", "candidates": ["#### 1"]}, "question"),
        ({"question": "  ", "answer": "#### 1", "candidates": ["#### 1"]}, "question"),
        ({"question": "q", "candidates": ["#### 1"]}, "answer"),
        ({"question": "q", "answer": True, "candidates": ["#### 1"]}, "answer"),
        ({"question": "q", "answer": "#### 1", "candidates": []}, "candidates"),
        ({"question": "q", "answer": "#### 1", "candidates": "#### 1"}, "candidates"),
        ({"question": "q", "answer": "#### 1", "candidates": [{"label": True}]}, "candidates[0]"),
        ({"question": "q", "answer": "#### 1", "candidates": ["ok", 5]}, "candidates[1]"),
        (
            {"question": "q", "answer": "#### 1", "candidates": [{"text": "t", "label": "yes"}]},
            "candidates[0].label",
        ),
        (
            {"question": "q", "answer": "#### 1", "candidates": [{"text": "t", "label": 1}]},
            "candidates[0].label",
        ),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, row, field):
    path = write(tmp_path, [GOOD | {"candidates": ["#### 42"]}, row])
    with pytest.raises(UserError) as info:
        load_candidates(path)
    assert str(info.value).startswith(f"{path}:2: {field}: expected"), str(info.value)


def test_malformed_json_and_empty_file(tmp_path):
    path = write(tmp_path, [GOOD | {"candidates": ["#### 42"]}, '{"question": "q", '])
    with pytest.raises(UserError, match=r":2: not valid JSON"):
        load_candidates(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(UserError, match="no rows"):
        load_candidates(empty)


def test_errors_name_the_file_line_past_blank_lines(tmp_path):
    path = write(tmp_path, [GOOD | {"candidates": ["#### 42"]}, "", {"question": "q"}])
    with pytest.raises(UserError, match=rf"^{path}:3: answer: expected"):
        load_candidates(path)


def test_rows_repeating_a_question_are_merged_and_counted(tmp_path):
    other = {"question": "What is 2 + 2?", "answer": "4", "candidates": ["#### 4"]}
    rows = [
        GOOD | {"id": "first", "candidates": ["#### 42", {"text": "#### 41", "label": False}]},
        other,
        # The same question (whitespace aside), its answer as a bare number, one text repeated.
        {
            "question": " What is  6 * 7? ",
            "answer": 42,
            "candidates": ["#### 41", "6 * 7 = 42\n#### 42"],
        },
    ]
    loaded = load_candidates(write(tmp_path, rows))
    assert loaded.duplicate_rows == 1
    assert [s["prompt"] for s in loaded.sets] == ["What is 6 * 7?", "What is 2 + 2?"]
    merged = loaded.sets[0]
    assert merged["id"] == "first"
    assert [(c["text"], c["label"]) for c in merged["candidates"]] == [
        ("#### 42", True),
        ("#### 41", False),
        ("6 * 7 = 42\n#### 42", True),
    ]
    assert load_candidates(write(tmp_path, rows[:2])).duplicate_rows == 0


def test_a_repeated_question_with_another_reference_is_an_error(tmp_path):
    rows = [
        GOOD | {"candidates": ["#### 42"]},
        {"question": "What is 2 + 2?", "answer": "4", "candidates": ["#### 4"]},
        {"question": GOOD["question"], "answer": "#### 43", "candidates": ["#### 43"]},
    ]
    path = write(tmp_path, rows)
    with pytest.raises(UserError) as info:
        load_candidates(path)
    assert str(info.value).startswith(
        f"{path}:3: answer: expected the reference of line 1, which has the same question ('42'), "
        "got '43'"
    ), str(info.value)


def test_a_repeated_candidate_with_another_label_is_an_error(tmp_path):
    rows = [
        GOOD | {"candidates": [{"text": "#### 6", "label": True}]},
        GOOD | {"candidates": ["#### 42", {"text": "#### 6", "label": False}]},
    ]
    path = write(tmp_path, rows)
    with pytest.raises(UserError, match=rf"^{path}:2: candidates\[1\]\.label: .* line 1"):
        load_candidates(path)


def test_pairs_from_candidates_uses_every_mistake_once():
    row = {
        "candidates": [
            {"text": "c1", "label": True},
            {"text": "w1", "label": False},
            {"text": "c2", "label": True},
            {"text": "w2", "label": False},
            {"text": "w3", "label": False},
        ]
    }
    assert pairs_from_candidates(row) == [("c1", "w1"), ("c2", "w2"), ("c1", "w3")]


def test_pairs_from_candidates_needs_both_labels():
    only_wrong = {"candidates": [{"text": "w", "label": False}]}
    only_right = {"candidates": [{"text": "c", "label": True}]}
    assert pairs_from_candidates(only_wrong) == []
    assert pairs_from_candidates(only_right) == []


def test_pairs_become_candidate_sets_per_prompt():
    pairs = [
        {"id": "p1", "prompt": "Q1", "chosen": "2 + 2 = 4\n#### 4", "rejected": "#### 5", "kind": "final_answer"},
        {"id": "p2", "prompt": "Q1", "chosen": "2 + 2 = 4\n#### 4", "rejected": "#### 3", "kind": "arithmetic"},
        {"id": "p3", "prompt": "Q2", "chosen": "good", "rejected": "bad", "kind": "preference"},
    ]  # fmt: skip
    sets = pairs_to_sets(pairs)
    assert [s["prompt"] for s in sets] == ["Q1", "Q2"]
    assert sets[0]["reference"] == "4" and sets[1]["reference"] == ""
    assert [(c["text"], c["label"], c["source"]) for c in sets[0]["candidates"]] == [
        ("2 + 2 = 4\n#### 4", True, "chosen"), ("#### 5", False, "final_answer"), ("#### 3", False, "arithmetic"),
    ]  # fmt: skip
