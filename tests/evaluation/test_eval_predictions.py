"""Predictions mode: loading a policy's completions, bad rows, scoring, atomic writers."""

from __future__ import annotations

import csv
import json

import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation.predictions import (
    load_predictions,
    score_predictions,
    write_records_csv,
    write_records_jsonl,
)

GOOD_ROWS = [
    {
        "id": "q1",
        "question": "Q1?",
        "answer": "3 + 15 = 18\n#### 18",
        "completion": "Add.\n#### 18",
    },
    {"prompt": "Q2?", "reference": "40", "prediction": "The answer is 42."},
    {"question": "Q3?", "answer": 100, "output": "Steps.\n#### 100.0"},
    {"question": "Q4?", "answer": "#### 5", "completion": "I don't know"},
]


def write_lines(path, rows):
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_load_predictions_aliases(tmp_path):
    rows = load_predictions(write_lines(tmp_path / "p.jsonl", [*GOOD_ROWS[:2], "", GOOD_ROWS[2]]))
    assert rows == [
        {"id": "q1", "question": "Q1?", "reference": "18", "completion": "Add.\n#### 18"},
        {"id": "2", "question": "Q2?", "reference": "40", "completion": "The answer is 42."},
        {"id": "4", "question": "Q3?", "reference": "100", "completion": "Steps.\n#### 100.0"},
    ]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("{not json", "p.jsonl:2: not valid JSON"),
        ("[1, 2]", "p.jsonl:2: expected a JSON object"),
        (
            {"question": "Q", "answer": "1"},
            "p.jsonl:2: completion or prediction or output: missing",
        ),
        ({"answer": "1", "completion": "x"}, "p.jsonl:2: question or prompt: missing"),
        ({"question": "Q", "completion": "x"}, "p.jsonl:2: answer or reference: missing"),
        ({"question": "Q", "answer": "1", "output": ["a"]}, "p.jsonl:2: output: expected a string"),
        ({"prompt": 3, "answer": "1", "completion": "x"}, "p.jsonl:2: prompt: expected a string"),
        (
            {"question": "Q", "answer": "step one\nstep two", "completion": "x"},
            "p.jsonl:2: answer: expected a GSM8K solution ending in '#### N'",
        ),
        ({"question": "Q", "reference": True, "completion": "x"}, "p.jsonl:2: reference: expected"),
    ],
)
def test_load_predictions_bad_rows(tmp_path, bad, needle):
    path = write_lines(tmp_path / "p.jsonl", [GOOD_ROWS[0], bad])
    with pytest.raises(UserError) as err:
        load_predictions(path)
    assert needle in str(err.value)


def test_load_predictions_empty_or_missing(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no predictions"):
        load_predictions(tmp_path / "empty.jsonl")
    with pytest.raises(UserError, match="file not found"):
        load_predictions(tmp_path / "missing.jsonl")


def test_score_predictions(tmp_path):
    rows = load_predictions(write_lines(tmp_path / "p.jsonl", GOOD_ROWS))
    records, summary = score_predictions(rows, partial_tolerance=0.1)
    assert records[0] == {
        "id": "q1",
        "extracted": "18",
        "reference": "18",
        "exact_accuracy": True,
        "numerical_accuracy": True,
        "partial_accuracy": True,
        "format_compliance": True,
    }
    # 42 vs 40: 5 % off -> partial only; no `#### ` line -> not compliant
    assert [records[1][k] for k in ("extracted", "numerical_accuracy", "partial_accuracy")] == [
        "42",
        False,
        True,
    ]
    assert not records[1]["format_compliance"]
    # 100.0 vs 100: numerically equal, strings differ
    assert (records[2]["exact_accuracy"], records[2]["numerical_accuracy"]) == (False, True)
    assert records[3]["extracted"] is None
    assert summary == {
        "n": 4,
        "exact_accuracy": {"value": 0.25, "count": 1},
        "numerical_accuracy": {"value": 0.5, "count": 2},
        "partial_accuracy": {"value": 0.75, "count": 3},
        "format_compliance": {"value": 0.5, "count": 2},
    }
    with pytest.raises(UserError, match="empty"):
        score_predictions([], partial_tolerance=0.1)


def test_writers_roundtrip(tmp_path):
    records = [
        {"id": "a", "extracted": None, "exact_accuracy": False},
        {"id": "b", "extracted": "7", "exact_accuracy": True},
    ]
    write_records_csv(records, tmp_path / "out" / "r.csv")
    with (tmp_path / "out" / "r.csv").open(encoding="utf-8", newline="") as f:
        assert list(csv.DictReader(f)) == [
            {"id": "a", "extracted": "", "exact_accuracy": "False"},
            {"id": "b", "extracted": "7", "exact_accuracy": "True"},
        ]
    write_records_jsonl(records, tmp_path / "r.jsonl")
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    # no temp files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "r.jsonl"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.csv"]
