"""The sample stage's candidates rows are exactly what the candidates reader (prepare and
evaluate's `candidates_path`) takes in: same questions, references and labels, and the labels
the reader itself would give unlabelled candidates."""

from __future__ import annotations

from rewardpipe.data.candidates import load_candidates
from rewardpipe.io import write_jsonl
from rewardpipe.sample import candidate_rows

ROWS = [
    {"question": "Tom has 2 apples and buys 3. How many?", "answer": "2 + 3 = 5\n#### 5"},
    {"question": "A box holds 1,200 pens. How many?", "answer": "#### 1,200"},
    {"question": "What is 7 - 9?", "answer": "7 - 9 = -2\n#### -2"},
]
SAMPLES = [
    [("2 + 3 = 5\n#### 5", True), ("#### 6", True), ("The answer is 5.", True)],
    [("#### 1200", True), ("#### 120", False), ("1,200 pens\n#### 1,200.00", True)],
    [("#### -2", True), ("#### 2", True), ("", False)],
]


def test_rows_round_trip_through_the_candidates_reader(tmp_path):
    rows, stats = candidate_rows(ROWS, SAMPLES, "test")
    path = tmp_path / "c.jsonl"
    write_jsonl(path, rows)
    loaded = load_candidates(path)
    assert loaded.duplicate_rows == 0
    assert [s["prompt"] for s in loaded.sets] == [r["question"] for r in ROWS]
    assert [s["reference"] for s in loaded.sets] == ["5", "1,200", "-2"]
    got = [[(c["text"], c["label"], c["source"]) for c in s["candidates"]] for s in loaded.sets]
    assert got == [[(c["text"], c["label"], c["source"]) for c in r["candidates"]] for r in rows]
    labels = [[c["label"] for c in s["candidates"]] for s in loaded.sets]
    assert labels == [[True, False, True], [True, False, True], [True, False]]
    assert stats["correct"] == 5 and stats["empty"] == 1 and stats["unfinished"] == 2

    # Without the labels the reader labels them the same way (one rule for both).
    write_jsonl(
        path,
        [{**r, "candidates": [c["text"] for c in r["candidates"]]} for r in rows],
    )
    relabelled = [[c["label"] for c in s["candidates"]] for s in load_candidates(path).sets]
    assert relabelled == labels
