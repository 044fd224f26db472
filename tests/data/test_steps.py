"""Tests for step labels (rewardpipe.data.steps) and prepare's process output."""

from __future__ import annotations

import random

import pytest
from process_support import fixture_rows, grown_rows

from rewardpipe.data import negatives, steps
from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import RawSplit, load_synthetic
from rewardpipe.errors import UserError
from rewardpipe.params import PrepareParams

REF = (
    "Tom has 3 boxes of 4 pens, 3*4=<<3*4=12>>12 pens.\n"
    "He gives away 5, 12-5=<<12-5=7>>7 pens.\n"
    "He buys 2 more, 7+2=<<7+2=9>>9 pens.\n"
    "#### 9"
)


def test_steps_are_lines_and_the_final_answer_joins_the_last_step():
    assert steps.split_steps(REF) == [
        REF.split("\n")[0],
        REF.split("\n")[1],
        REF.split("\n")[2] + "\n#### 9",
    ]
    assert steps.split_steps("one\n\n  two\n") == ["one", "  two"]


def test_first_changed_step_per_kind():
    lines = REF.split("\n")
    final = "\n".join([*lines[:3], "#### 10"])
    assert steps.first_changed_step(REF, final, "final_answer") == 2
    dropped = "\n".join([lines[0], "He buys 2 more, 12+2=<<12+2=14>>14 pens.", "#### 14"])
    assert steps.first_changed_step(REF, dropped, "drop_step") == 1  # the step after the gap
    slipped = "\n".join([lines[0], "He gives away 5, 12-5=<<12-5=8>>8 pens.", lines[2], "#### 10"])
    assert steps.first_changed_step(REF, slipped, "arithmetic") == 1
    assert steps.first_changed_step(REF, REF.replace("#### 9", "#### 8"), "foreign") == 0
    assert steps.first_changed_step(REF, "\n".join(lines[:2]), "drop_step") == 1  # a prefix
    assert steps.first_changed_step("a\nb\n#### 2", "a\nb\nc\n#### 3", "extra_step") == 2


def test_labels_are_correct_before_the_first_error_and_wrong_from_it():
    assert steps.labels_from_first_error(4, 2) == [1, 1, -1, -1]
    assert steps.labels_from_first_error(3, None) == [1, 1, 1]
    assert steps.first_error([1, 0, -1, -1]) == 2
    assert steps.first_error([1, 0]) is None


@pytest.mark.parametrize("kind", negatives.KINDS)
def test_every_negative_kind_gets_a_first_error_at_or_before_its_changed_step(kind):
    raw = load_synthetic(30, 0, seed=1)[0].rows
    pool = [r["answer"] for r in raw]
    found = 0
    for row in raw:
        neg = negatives.make_negative(kind, row["question"], row["answer"], random.Random(0), pool)
        if neg is None:
            continue
        found += 1
        k = steps.first_changed_step(row["answer"], neg, kind)
        neg_steps, ref_steps = steps.split_steps(neg), steps.split_steps(row["answer"])
        assert 0 <= k < len(neg_steps)
        before = [steps.step_body(s) for s in neg_steps[:k]]
        assert before == [steps.step_body(s) for s in ref_steps[:k]]  # the reference's steps
        if kind == "final_answer":
            assert k == len(neg_steps) - 1
    assert found > 0


@pytest.fixture(scope="module")
def prepared():
    return prepare(
        load_synthetic(40, 10, seed=0),
        PrepareParams(vocab_size=400, negatives_per_question=3),
        kind="gsm8k",
        columns={},
        source_hash="h",
        process=True,
    )


def test_prepare_process_writes_step_rows_for_every_split(prepared):
    for split in ("train", "val", "test"):
        rows = prepared.steps[split]
        assert rows
        for row in rows:
            assert set(row) == {"id", "prompt", "steps", "labels", "source"}
            assert len(row["steps"]) == len(row["labels"])
            assert (steps.first_error(row["labels"]) is None) == (row["source"] == "reference")
        assert len({r["id"] for r in rows}) == len(rows)
    test_candidates = sum(len(s["candidates"]) for s in prepared.test)
    assert len(prepared.steps["test"]) == test_candidates
    counts = prepared.stats["process"]["train"]["first_error"]
    assert counts["none"] == len({r["prompt"] for r in prepared.train})
    assert sum(counts.values()) == prepared.stats["process"]["train"]["solutions"]


def test_prepare_default_has_no_step_rows_and_no_process_stats():
    out = prepare(
        load_synthetic(20, 5, seed=0),
        PrepareParams(vocab_size=400),
        kind="gsm8k",
        columns={},
        source_hash="h",
    )
    assert out.steps is None
    assert "process" not in out.stats


@pytest.mark.parametrize("fmt", ["prm800k", "math_shepherd"])
def test_prepare_reads_step_labelled_user_data(fmt):
    raw = [RawSplit("train", f"{fmt}.jsonl", grown_rows(fmt, 40))]
    out = prepare(
        raw,
        PrepareParams(vocab_size=300, dataset="process", source="local", path="x"),
        kind="process",
        columns={},
        source_hash="h",
        process=True,
    )
    assert out.train and out.val and out.test
    for pair in out.train:
        assert pair["kind"] == "process" and pair["chosen"] != pair["rejected"]
    for s in out.test:
        assert {c["source"] for c in s["candidates"]} == {"process"}
        assert any(c["label"] for c in s["candidates"])
    n_fixture = len(fixture_rows(fmt))
    assert len(out.steps["test"]) == len(out.test) * n_fixture
    for row in out.steps["train"]:
        assert len(row["steps"]) == len(row["labels"]) and set(row["labels"]) <= {1, -1}
    assert sum(out.stats["process"]["train"]["first_error"].values()) == len(out.steps["train"])


def test_prepare_process_custom_mapping_and_row_errors():
    rows = [
        {"q": f"Question {k}?", "s": ["a", f"b{k % 2}"], "y": [1, 1 if k % 2 else -1]}
        for k in range(60)
    ]
    rows = [dict(r, q=f"Question {k // 2}?") for k, r in enumerate(rows)]
    out = prepare(
        [RawSplit("train", "mine.jsonl", rows)],
        PrepareParams(vocab_size=300, dataset="process", source="local", path="x"),
        kind="process",
        columns={"question": "q", "steps": "s", "labels": "y"},
        source_hash="h",
    )
    assert out.train and out.steps is None
    bad = [*rows[:3], {"q": "Q?", "s": ["a"], "y": [2]}]
    with pytest.raises(UserError, match=r"mine\.jsonl:4: .*expected"):
        prepare(
            [RawSplit("train", "mine.jsonl", bad)],
            PrepareParams(vocab_size=300, dataset="process", source="local", path="x"),
            kind="process",
            columns={"question": "q", "steps": "s", "labels": "y"},
            source_hash="h",
        )
