"""Tests for the built-in GSM8K-style problem generator."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections import Counter

import pytest

from rewardpipe.data import synthetic
from rewardpipe.data.solution import (
    annotations,
    parse_number,
    safe_eval,
    split_final,
    values_match,
)
from rewardpipe.errors import UserError

SAMPLE = 3000
ANNOTATION_CHARS = re.compile(r"^[0-9.+\-*/()]+$")
TOPICS = {
    "shopping", "rates", "work", "time", "ages", "percentages", "fractions", "units", "sharing",
    "profit", "savings", "recipes", "geometry", "tickets", "wages", "sports", "reading", "fuel",
    "gardening", "classroom", "interest", "averages", "comparisons",
}  # fmt: skip


@pytest.fixture(scope="module")
def drawn() -> list[tuple[synthetic.Template, dict[str, str]]]:
    return [synthetic.draw(0, i) for i in range(SAMPLE)]


@pytest.fixture(scope="module")
def rows(drawn) -> list[dict[str, str]]:
    return [row for _, row in drawn]


def check_row(row: dict[str, str]) -> None:
    """Every guarantee a single generated row must meet."""
    assert set(row) == {"question", "answer"}
    assert row["question"].strip() and row["question"].endswith("?")
    steps, final = split_final(row["answer"])
    assert synthetic.MIN_STEPS <= len(steps) <= synthetic.MAX_STEPS, row["answer"]
    assert final is not None and re.fullmatch(r"\d+(\.\d{1,2})?", final), row["answer"]
    found = annotations(row["answer"])
    assert [a.line for a in found] == list(range(len(steps))), row["answer"]
    for ann in found:
        line = steps[ann.line]
        assert ANNOTATION_CHARS.match(ann.expr), ann.expr
        computed, written = safe_eval(ann.expr), parse_number(ann.value)
        assert computed is not None and written is not None
        assert values_match(computed, written), (ann.expr, ann.value)
        assert written >= 0 and abs(written * 100 - round(written * 100)) < 1e-6
        rest = line[ann.end :]
        assert rest.startswith(ann.value), line
        assert not re.match(r"\.?\d", rest[len(ann.value) :]), line
        assert re.search(r"= \$?$", line[: ann.start]), line
    assert final == found[-1].value


def test_sample_rows_meet_every_guarantee(rows):
    for row in rows:
        check_row(row)


def test_every_template_meets_every_guarantee_on_many_draws():
    for template in synthetic.TEMPLATES:
        for i in range(150):
            check_row(template(random.Random(f"test:{template.name}:{i}")))


def test_templates_are_many_named_and_cover_the_topics():
    names = [t.name for t in synthetic.TEMPLATES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    assert TOPICS.issubset({t.topic for t in synthetic.TEMPLATES})


def test_all_templates_appear_in_a_sample(drawn):
    used = {template.name for template, _ in drawn}
    assert used == {t.name for t in synthetic.TEMPLATES}


def test_step_counts_span_two_to_eight(rows):
    counts = Counter(len(split_final(row["answer"])[0]) for row in rows)
    assert set(counts) == set(range(2, 9))
    assert sum(n for steps, n in counts.items() if steps >= 5) >= 0.1 * len(rows)


def test_questions_are_mostly_unique(rows):
    assert len({row["question"] for row in rows}) > 0.95 * len(rows)


def test_names_are_varied_and_pronouns_agree(rows):
    people = {p.name: p for p in synthetic.PEOPLE}
    assert len(people) >= 30 and {p.he for p in people.values()} == {"he", "she"}
    wrong = {"he": {"she", "her", "hers", "herself"}, "she": {"he", "him", "his", "himself"}}
    any_name = re.compile(r"\b(" + "|".join(people) + r")\b")
    checked = 0
    for row in rows:
        text = f"{row['question']}\n{row['answer']}"
        named = set(any_name.findall(text))
        if len(named) == 1:
            checked += 1
            words = set(re.findall(r"[a-z]+", text.lower()))
            assert not words & wrong[people[named.pop()].he], text
    assert checked > len(rows) // 2


def test_generate_is_deterministic_and_offsets_are_stable():
    assert synthetic.generate(40, seed=7) == synthetic.generate(40, seed=7)
    assert synthetic.generate(10, seed=7, offset=30) == synthetic.generate(40, seed=7)[30:]
    assert synthetic.generate(0, seed=7) == []


def test_different_seeds_differ():
    a, b = synthetic.generate(100, seed=0), synthetic.generate(100, seed=1)
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 90


def test_same_output_in_a_fresh_process_with_another_hash_seed():
    code = "import json; from rewardpipe.data.synthetic import generate; print(json.dumps(generate(25, 3)))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == synthetic.generate(25, 3)


def test_negative_sizes_are_user_errors():
    with pytest.raises(UserError, match="n=-1"):
        synthetic.generate(-1, seed=0)
    with pytest.raises(UserError, match="offset=-2"):
        synthetic.generate(1, seed=0, offset=-2)


def test_unclean_values_are_rejected():
    solution = synthetic.Solution(random.Random(0))
    with pytest.raises(ValueError, match="unclean"):
        solution.step("It is", "10 / 3")
    with pytest.raises(ValueError, match="unclean"):
        solution.step("It is", "2 - 5")


def test_step_builds_the_gsm8k_line():
    solution = synthetic.Solution(random.Random(0))
    value = solution.step("Natalia sold", "48 / 2", "clips in May.")
    solution.step("She earned", f"{value} * 0.5", ".", money=True)
    lines = solution.text().split("\n")
    assert value == 24
    assert re.fullmatch(r"Natalia sold 48 ?/ ?2 = <<48/2=24>>24 clips in May\.", lines[0])
    assert re.fullmatch(r"She earned 24 ?[x*] ?0\.5 = \$<<24\*0\.5=12>>12\.", lines[1])
    assert lines[2] == "#### 12"


def test_too_few_steps_is_a_template_error():
    solution = synthetic.Solution(random.Random(0))
    solution.step("It is", "1 + 1")
    with pytest.raises(ValueError, match="steps"):
        solution.text()
