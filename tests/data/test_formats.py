"""Tests for dataset formats: raw rows -> problems or preference pairs (rewardpipe.data.formats)."""

from __future__ import annotations

import re

import pytest

from rewardpipe.data.formats import (
    Pair,
    Problem,
    flatten_chat,
    load_custom_config,
    resolve_columns,
    split_chat,
    to_pairs,
    to_problems,
    with_rubric,
)
from rewardpipe.data.sources import load_file
from rewardpipe.errors import UserError
from rewardpipe.io import read_jsonl


def rows_of(fixtures, name):
    path = fixtures / name
    return read_jsonl(path), str(path)


def pairs_for(kind, rows, origin, overrides=None, strict=True):
    columns = resolve_columns(kind, list(rows[0]), overrides or {}, origin)
    return to_pairs(rows, columns, origin, kind, strict=strict)


def test_gsm8k_fixture_becomes_problems(fixtures):
    rows, origin = rows_of(fixtures, "gsm8k.jsonl")
    columns = resolve_columns("gsm8k", list(rows[0]), {}, origin)
    assert columns == {"question": "question", "answer": "answer"}
    problems, skipped = to_problems(rows, columns, origin, strict=True)
    assert skipped == 0
    assert [p.answer for p in problems] == ["72", "10", "624", "48"]
    assert problems[0] == Problem(rows[0]["question"], rows[0]["answer"], "72")


def test_gsm8k_columns_are_detected_under_other_names():
    rows = [{"problem": "What is 1 + 1?", "solution": "1 + 1 = 2\n#### 2", "id": 1}]
    columns = resolve_columns("gsm8k", list(rows[0]), {}, "x.jsonl")
    assert columns == {"question": "problem", "answer": "solution"}
    (problem,), _ = to_problems(rows, columns, "x.jsonl", strict=True)
    assert problem.answer == "2"


def test_preference_fixture_with_detected_columns_and_a_chat_row(fixtures):
    rows, origin = rows_of(fixtures, "preference.jsonl")
    pairs, skipped = pairs_for("preference", rows, origin)
    assert skipped == 0
    assert pairs[0] == Pair(
        "What is the capital of France?",
        "The capital of France is Paris.",
        "The capital of France is Lyon.",
    )
    # A conversation in `chosen`: its last assistant turn is the response.
    assert pairs[2] == Pair(
        "How many legs does a spider have?", "A spider has eight legs.", "A spider has six legs."
    )


def test_preference_columns_overrides(fixtures):
    rows, origin = rows_of(fixtures, "preference.jsonl")
    renamed = [{"ask": r["prompt"], "good": r["chosen"], "bad": r["rejected"]} for r in rows]
    with pytest.raises(UserError, match="prompt: no column found"):
        pairs_for("preference", renamed, origin)
    overrides = {"prompt": "ask", "chosen": "good", "rejected": "bad"}
    pairs, _ = pairs_for("preference", renamed, origin, overrides)
    assert pairs == pairs_for("preference", rows, origin)[0]
    # An override wins over detection even when a detectable column exists.
    swapped, _ = pairs_for("preference", rows, origin, {"chosen": "rejected", "rejected": "chosen"})
    assert swapped[0].chosen == "The capital of France is Lyon."


def test_override_naming_an_absent_column(fixtures):
    rows, origin = rows_of(fixtures, "preference.jsonl")
    with pytest.raises(UserError, match=r"column 'winner' \(mapped to chosen\) not found"):
        pairs_for("preference", rows, origin, {"chosen": "winner"})


def test_chat_prompt_list_and_conversation_without_prompt():
    conversation = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Add 2 and 2."},
        {"role": "assistant", "content": "4"},
    ]
    prompt, response = split_chat(None, conversation)
    assert response == "4"
    assert prompt == "User: Hi\nAssistant: Hello!\nUser: Add 2 and 2."
    assert flatten_chat(conversation[:1]) == "User: Hi"
    assert flatten_chat("plain") == "plain"
    assert flatten_chat(None) == ""
    assert split_chat("Q", "A") == ("Q", "A")


def test_rubric_with_chosen_and_rejected(fixtures):
    rows, origin = rows_of(fixtures, "rubric_pairs.jsonl")
    pairs, skipped = pairs_for("rubric", rows, origin)
    assert skipped == 0 and len(pairs) == 2
    assert pairs[1] == Pair(
        with_rubric("Convert 3 km to metres.", "Gives the number with the unit."),
        "3 km is 3000 metres.",
        "3 km is 300.",
    )
    assert (
        pairs[1].prompt.startswith("Rubric:\nGives the number") and "Prompt:\n" in pairs[1].prompt
    )


def test_rubric_with_response_and_score_becomes_pairs(fixtures):
    rows, origin = rows_of(fixtures, "rubric_scored.jsonl")
    pairs, skipped = pairs_for("rubric", rows, origin)
    assert skipped == 0
    got = {(p.chosen, p.rejected) for p in pairs}
    assert got == {
        ("A cat sat on a mat.", "An animal rested."),
        (
            "A cat sat on a mat.",
            "The cat was sitting on the mat, which was on the floor of the room.",
        ),
        (
            "The cat was sitting on the mat, which was on the floor of the room.",
            "An animal rested.",
        ),
        ("Hello", "Goodbye"),
    }
    assert len(pairs) == 4
    assert all(p.prompt.startswith("Rubric:\n") for p in pairs)


def test_rubric_score_must_be_a_number(fixtures):
    rows, origin = rows_of(fixtures, "rubric_scored.jsonl")
    rows[1]["score"] = "high"
    with pytest.raises(UserError, match=rf"^{re.escape(str(origin))}:2: score: expected a number"):
        pairs_for("rubric", rows, origin)
    pairs, skipped = pairs_for("rubric", rows, origin, strict=False)
    assert skipped == 1 and len(pairs) == 2


def test_rubric_without_pair_or_score_columns(fixtures):
    rows = [{"prompt": "p", "rubric": "r", "text": "t"}]
    with pytest.raises(UserError, match="response: rubric data needs chosen/rejected"):
        pairs_for("rubric", rows, "r.jsonl")


def test_custom_mapping_file_gives_the_mapped_kind(fixtures):
    kind, columns = load_custom_config(fixtures / "custom_mapping.yaml")
    assert kind == "preference"
    assert columns == {"prompt": "instruction", "chosen": "good_answer", "rejected": "bad_answer"}
    rows = load_file(fixtures / "custom.csv")
    pairs, _ = pairs_for(kind, rows, str(fixtures / "custom.csv"), columns)
    assert pairs == [
        Pair("What is 2 + 2?", "2 + 2 = 4", "2 + 2 = 5"),
        Pair("Spell 'cat' backwards.", "tac", "cta"),
        Pair("Which is larger, 7 or 9?", "9 is larger.", "7 is larger."),
    ]


def test_custom_mapping_file_errors(tmp_path):
    with pytest.raises(UserError, match="custom_config file not found"):
        load_custom_config(tmp_path / "absent.yaml")
    bad = tmp_path / "m.yaml"
    bad.write_text("format: images\ncolumns: {prompt: a}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"format: expected one of gsm8k, preference, rubric"):
        load_custom_config(bad)
    bad.write_text("format: gsm8k\ncolumns: {question: q, chosen: c}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"columns: unknown field\(s\) chosen"):
        load_custom_config(bad)
    bad.write_text("format: gsm8k\n", encoding="utf-8")
    with pytest.raises(UserError, match="columns: expected a mapping"):
        load_custom_config(bad)


def test_missing_column_lists_columns_tried_and_present(fixtures):
    rows, origin = rows_of(fixtures, "gsm8k.jsonl")
    rows = [{"question": r["question"], "text": r["answer"]} for r in rows]
    with pytest.raises(UserError) as info:
        resolve_columns("gsm8k", list(rows[0]), {}, origin)
    message = str(info.value)
    assert message.startswith(f"{origin}: answer: no column found")
    assert "tried answer, solution, output, response" in message
    assert "columns are: question, text" in message
    assert "prepare.columns" in message


def test_empty_answer_names_file_row_and_field(fixtures):
    rows, origin = rows_of(fixtures, "gsm8k.jsonl")
    rows[2]["answer"] = "   "
    columns = {"question": "question", "answer": "answer"}
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(origin))}:3: answer: expected a non-empty value"
    ):
        to_problems(rows, columns, origin, strict=True)
    rows[2]["answer"] = None
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(origin))}:3: answer: expected a non-empty value"
    ):
        to_problems(rows, columns, origin, strict=True)


def test_gsm8k_answer_without_final_line(fixtures):
    rows, origin = rows_of(fixtures, "gsm8k.jsonl")
    rows[1]["answer"] = "Weng earns 12/60 = $0.2 per minute, so she earned $10."
    rows[3]["answer"] = rows[3]["answer"].replace("#### 48", "#### forty-eight")
    columns = {"question": "question", "answer": "answer"}
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(origin))}:2: answer: expected a solution ending in"
    ):
        to_problems(rows, columns, origin, strict=True)
    problems, skipped = to_problems(rows, columns, origin, strict=False)
    assert skipped == 2
    assert [p.answer for p in problems] == ["72", "624"]


def test_empty_preference_side_is_an_error_or_skipped(fixtures):
    rows, origin = rows_of(fixtures, "preference.jsonl")
    rows[0]["rejected"] = ""
    rows[1]["prompt"] = None
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(origin))}:1: rejected: expected a non-empty value"
    ):
        pairs_for("preference", rows, origin)
    pairs, skipped = pairs_for("preference", rows, origin, strict=False)
    assert skipped == 2 and len(pairs) == 1
