from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from rewardpipe.data import negatives
from rewardpipe.data.negatives import KINDS, length_audit, make_negative, sample_negatives
from rewardpipe.data.solution import (
    annotations,
    final_answer,
    inconsistent_annotations,
    parse_number,
    split_final,
    values_match,
)
from rewardpipe.data.solution_edit import parse, styled
from rewardpipe.errors import UserError
from rewardpipe.params import DEFAULT_NEGATIVE_KINDS

GSM8K_TRAIN = Path(__file__).resolve().parents[3] / "shared/data/gsm8k/train.jsonl"

QUESTION = (
    "A baker makes 7 trays of 9 rolls. She sells 13 rolls and packs the rest into bags of 5. "
    "Each bag costs $2. How many bags does she fill?"
)
SOLUTION = (
    "She makes 7 * 9 = <<7*9=63>>63 rolls.\n"
    "After selling, 63 - 13 = <<63-13=50>>50 rolls are left.\n"
    "She fills 50 / 5 = <<50/5=10>>10 bags.\n"
    "#### 10"
)
ONE_STEP = "He writes 3*2=<<3*2=6>>6 pages a week.\n#### 6"
NO_MATH = "She reads the whole book in one sitting.\n#### 12"


def _final(text: str) -> float:
    value = parse_number(final_answer(text) or "")
    assert value is not None, text
    return value


def _assert_format(text: str) -> None:
    steps, final = split_final(text)
    assert final is not None and parse_number(final) is not None, text
    assert any(line.strip() for line in steps), text


def _assert_visible_consistent(text: str) -> None:
    """Each `a op b = <<expr=value>>value` shows the annotation's numbers and value."""
    for line in text.split("\n"):
        for m in re.finditer(r"([\d.]+(?: [-+*/] [\d.]+)*) = <<([^=]+)=([^>]+)>>([\d.]+)", line):
            shown, expr, value, result = m.groups()
            assert shown.replace(" ", "") == expr, line
            assert value == result, line


def _op_pattern(expr: str) -> str:
    return re.sub(r"[\d.,]+", "N", expr)


def _neg(kind: str, seed: int = 0, question: str = QUESTION, solution: str = SOLUTION, pool=()):
    return make_negative(kind, question, solution, random.Random(seed), pool)


# --- each kind on a hand-written solution -------------------------------------------------


def test_final_answer_changes_only_the_final_line():
    for seed in range(20):
        neg = _neg("final_answer", seed)
        assert neg is not None
        steps, final = split_final(neg)
        assert steps == split_final(SOLUTION)[0]
        assert final != "10" and len(final) == 2  # same length as the reference answer
        assert not values_match(_final(neg), 10)


def test_arithmetic_slips_one_result_and_keeps_its_expression():
    ref = annotations(SOLUTION)
    for seed in range(20):
        neg = _neg("arithmetic", seed)
        assert neg is not None
        _assert_format(neg)
        anns = annotations(neg)
        assert len(anns) == len(ref)
        bad = [a for a in anns if inconsistent_annotations(f"<<{a.expr}={a.value}>>")]
        assert len(bad) == 1  # the slip; everything after it follows the wrong value
        slipped = bad[0]
        assert slipped.expr == ref[anns.index(slipped)].expr
        assert slipped.value != ref[anns.index(slipped)].value
        assert not values_match(_final(neg), 10)
        _assert_visible_consistent(neg)


def test_operator_swaps_one_operator_and_recomputes():
    for seed in range(20):
        neg = _neg("operator", seed)
        assert neg is not None
        _assert_format(neg)
        assert inconsistent_annotations(neg) == 0
        ref_ops = [_op_pattern(a.expr) for a in annotations(SOLUTION)]
        new_ops = [_op_pattern(a.expr) for a in annotations(neg)]
        assert sum(a != b for a, b in zip(ref_ops, new_ops, strict=True)) == 1
        assert not values_match(_final(neg), 10)
        assert _final(neg) >= 0  # the reference has no negative values
        _assert_visible_consistent(neg)


def test_quantity_uses_another_number_from_the_question():
    question_numbers = {7.0, 9.0, 13.0, 5.0, 2.0}
    for seed in range(20):
        neg = _neg("quantity", seed)
        assert neg is not None
        _assert_format(neg)
        assert inconsistent_annotations(neg) == 0
        ref_anns, new_anns = annotations(SOLUTION), annotations(neg)
        first = next(
            i for i, (a, b) in enumerate(zip(ref_anns, new_anns, strict=True)) if a.expr != b.expr
        )
        ref_nums = re.findall(r"\d+", ref_anns[first].expr)
        new_nums = re.findall(r"\d+", new_anns[first].expr)
        changed = [(a, b) for a, b in zip(ref_nums, new_nums, strict=True) if a != b]
        assert len(changed) == 1 and float(changed[0][1]) in question_numbers
        assert not values_match(_final(neg), 10)
        _assert_visible_consistent(neg)


def test_extra_step_adds_one_step_the_answer_follows_from():
    for seed in range(20):
        neg = _neg("extra_step", seed)
        assert neg is not None
        _assert_format(neg)
        assert inconsistent_annotations(neg) == 0
        assert len(split_final(neg)[0]) == len(split_final(SOLUTION)[0]) + 1
        assert len(annotations(neg)) == len(annotations(SOLUTION)) + 1
        assert values_match(_final(neg), parse_number(annotations(neg)[-1].value))
        assert not values_match(_final(neg), 10)


def test_drop_step_removes_one_step():
    for seed in range(20):
        neg = _neg("drop_step", seed)
        assert neg is not None
        _assert_format(neg)
        assert inconsistent_annotations(neg) == 0
        assert len(split_final(neg)[0]) == len(split_final(SOLUTION)[0]) - 1
        assert values_match(_final(neg), parse_number(annotations(neg)[-1].value))
        assert not values_match(_final(neg), 10)
        _assert_visible_consistent(neg)


def test_drop_last_step_takes_the_previous_result():
    seen = {_neg("drop_step", seed) for seed in range(30)}
    assert (
        "She makes 7 * 9 = <<7*9=63>>63 rolls.\nAfter selling, 63 - 13 = <<63-13=50>>50 rolls are left.\n#### 50"
        in seen
    )


def test_foreign_takes_another_solution_with_another_answer():
    pool = [SOLUTION, ONE_STEP, "Same answer 5*2=<<5*2=10>>10.\n#### 10"]
    for seed in range(10):
        assert _neg("foreign", seed, pool=pool) == ONE_STEP
    assert _neg("foreign", pool=()) is None
    assert _neg("foreign", pool=[SOLUTION, "Same answer 5*2=<<5*2=10>>10.\n#### 10"]) is None


# --- propagation --------------------------------------------------------------------------


def test_propagation_through_three_dependent_steps():
    """A slip in step 1 flows through steps 2 and 3, their visible text and the final answer."""
    for seed in range(100):
        neg = _neg("arithmetic", seed)
        assert neg is not None
        first = annotations(neg)[0]
        if first.value == "63":
            continue
        v1 = parse_number(first.value)
        lines = neg.split("\n")
        v2 = v1 - 13
        v3 = v2 / 5
        assert lines[0] == f"She makes 7 * 9 = <<7*9={first.value}>>{first.value} rolls."
        n1, n2, n3 = (styled(v, "") for v in (v1, v2, v3))
        assert lines[1] == f"After selling, {n1} - 13 = <<{n1}-13={n2}>>{n2} rolls are left."
        assert lines[2] == f"She fills {n2} / 5 = <<{n2}/5={n3}>>{n3} bags."
        assert lines[3] == f"#### {n3}"
        return
    pytest.fail("no seed slipped the first step")


# --- not applicable -----------------------------------------------------------------------


def test_not_applicable_cases_return_none():
    assert _neg("drop_step", solution=ONE_STEP) is None
    for kind in ("arithmetic", "operator", "quantity", "extra_step", "drop_step"):
        assert _neg(kind, solution=NO_MATH) is None
    assert _neg("quantity", question="No numbers in this question at all.") is None
    for kind in KINDS:
        assert _neg(kind, solution="no final answer line", pool=[SOLUTION]) is None
    assert _neg("final_answer", solution=NO_MATH) is not None


def test_unknown_kind_is_a_user_error():
    with pytest.raises(UserError, match="typo"):
        _neg("typo")


def test_negative_final_is_rejected_when_the_reference_has_none():
    ref = parse(SOLUTION)
    assert ref is not None
    negative = replace(ref, final="-10")
    positive = replace(ref, final="12")
    assert negatives._choose(iter([negative]), ref) is None
    assert negatives._choose(iter([negative, positive]), ref) == SOLUTION.replace(
        "#### 10", "#### 12"
    )
    signed = replace(ref, lines=ref.lines, final="-4")  # a reference with a negative answer
    assert negatives._choose(iter([replace(ref, final="-10")]), signed) is not None


def test_prefers_natural_candidates():
    ref = parse(SOLUTION)
    assert ref is not None
    fraction, whole = replace(ref, final="10.5"), replace(ref, final="11")
    assert negatives._choose(iter([fraction, whole]), ref).endswith("#### 11")
    assert negatives._choose(iter([fraction]), ref).endswith("#### 10.5")  # better than nothing


# --- determinism and sampling -------------------------------------------------------------


def test_deterministic_for_a_given_seed():
    pool = [ONE_STEP, NO_MATH]
    for kind in KINDS:
        assert _neg(kind, 7, pool=pool) == _neg(kind, 7, pool=pool)
    weights = dict(DEFAULT_NEGATIVE_KINDS)
    first = sample_negatives(QUESTION, SOLUTION, 4, weights, random.Random(3), pool)
    second = sample_negatives(QUESTION, SOLUTION, 4, weights, random.Random(3), pool)
    assert first == second and len(first) == 4
    outputs = {_neg("arithmetic", s) for s in range(10)}
    assert len(outputs) > 1  # the seed matters


def test_sample_negatives_distinct_texts_and_answers():
    weights = dict(DEFAULT_NEGATIVE_KINDS)
    for seed in range(20):
        negs = sample_negatives(QUESTION, SOLUTION, 3, weights, random.Random(seed), [ONE_STEP])
        assert len(negs) == 3
        texts = [t for _, t in negs]
        assert len(set(texts)) == 3 and SOLUTION not in texts
        finals = [_final(t) for t in texts]
        assert all(not values_match(f, 10) for f in finals)
        assert len({round(f, 6) for f in finals}) == 3
        assert all(kind in KINDS for kind, _ in negs)


def test_sample_negatives_draws_every_kind_once_before_repeating(monkeypatch):
    calls: list[str] = []
    original = negatives.make_negative

    def spy(kind, *args, **kwargs):
        calls.append(kind)
        return original(kind, *args, **kwargs)

    monkeypatch.setattr(negatives, "make_negative", spy)
    weights = {kind: 1.0 for kind in KINDS if kind != "foreign"}
    for seed in range(20):
        calls.clear()
        negs = sample_negatives(QUESTION, SOLUTION, 6, weights, random.Random(seed))
        assert len(negs) == 6
        assert sorted(calls[:6]) == sorted(weights)
    orders = set()
    for seed in range(5):
        calls.clear()
        sample_negatives(QUESTION, SOLUTION, 2, weights, random.Random(seed))
        orders.add(tuple(calls))
    assert len(orders) > 1


def test_sample_negatives_follows_weights():
    weights = {"final_answer": 3.0, "operator": 1.0, "drop_step": 0.0}
    counts = Counter(
        sample_negatives(QUESTION, SOLUTION, 1, weights, random.Random(seed))[0][0]
        for seed in range(400)
    )
    assert set(counts) == {"final_answer", "operator"}
    assert 0.65 < counts["final_answer"] / 400 < 0.85


def test_sample_negatives_falls_back_when_a_kind_does_not_apply():
    weights = {"drop_step": 5.0, "final_answer": 1.0}
    negs = sample_negatives(
        "He writes 3 pages to 2 friends.", ONE_STEP, 2, weights, random.Random(0)
    )
    assert [k for k, _ in negs] == ["final_answer", "final_answer"]
    assert len({t for _, t in negs}) == 2
    assert sample_negatives(QUESTION, SOLUTION, 3, {"foreign": 1.0}, random.Random(0)) == []


def test_sample_negatives_rejects_bad_weights():
    with pytest.raises(UserError, match="unknown kind 'nope'"):
        sample_negatives(QUESTION, SOLUTION, 1, {"nope": 1.0}, random.Random(0))
    with pytest.raises(UserError, match="final_answer"):
        sample_negatives(QUESTION, SOLUTION, 1, {"final_answer": -1.0}, random.Random(0))


# --- length audit -------------------------------------------------------------------------


def test_length_audit_counts_ties_half():
    short = "a\n#### 1"
    long = "a longer line\nsecond\n#### 1"
    same = "b\n#### 2"
    audit = length_audit(
        [(long, short), (short, long), (short, same), (long, "x" * 40 + "\n#### 3")]
    )
    assert audit["pairs"] == 4
    assert audit["chosen_longer_chars"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert audit["chosen_more_steps"] == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    # "pick the longer": more steps first, then more characters
    assert audit["longer_rule_accuracy"] == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert length_audit([])["chosen_longer_chars"] is None


# --- the real GSM8K -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gsm8k_rows():
    if not GSM8K_TRAIN.exists():
        pytest.skip(f"{GSM8K_TRAIN} not present")
    with GSM8K_TRAIN.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(2000), fh, strict=False)]
    return rows


@pytest.mark.parametrize("kind", KINDS)
def test_real_gsm8k_negatives_are_valid(gsm8k_rows, kind):
    pool = [row["answer"] for row in gsm8k_rows]
    made = 0
    for i, row in enumerate(gsm8k_rows):
        neg = make_negative(kind, row["question"], row["answer"], random.Random(i), pool)
        if neg is None:
            continue
        made += 1
        _assert_format(neg)
        reference = _final(row["answer"])
        assert not values_match(_final(neg), reference), neg
        if reference >= 0:
            assert _final(neg) >= 0, neg
        if kind != "foreign":  # a foreign solution is another row's text, as it is
            allowed = inconsistent_annotations(row["answer"]) + (kind == "arithmetic")
            assert inconsistent_annotations(neg) <= allowed, neg
    rate = made / len(gsm8k_rows)
    if kind in ("arithmetic", "operator", "final_answer", "foreign"):
        assert rate >= 0.95, rate
    else:
        assert rate >= 0.9, rate


def test_real_gsm8k_length_audit_is_balanced(gsm8k_rows):
    pool = [row["answer"] for row in gsm8k_rows]
    pairs, kinds = [], Counter()
    for i, row in enumerate(gsm8k_rows):
        negs = sample_negatives(
            row["question"], row["answer"], 3, DEFAULT_NEGATIVE_KINDS, random.Random(i), pool
        )
        assert len(negs) == 3
        kinds.update(k for k, _ in negs)
        pairs += [(row["answer"], text) for _, text in negs]
    audit = length_audit(pairs)
    assert 0.45 <= audit["chosen_longer_chars"] <= 0.55, audit
    assert 0.45 <= audit["chosen_more_steps"] <= 0.55, audit
    assert 0.45 <= audit["longer_rule_accuracy"] <= 0.55, audit
    assert set(kinds) == set(KINDS)
