from __future__ import annotations

import pytest

from rewardpipe.answers import (
    DEFAULT_ORDER,
    PATTERNS,
    UnknownChoiceError,
    count_answers,
    exact_match,
    extract_answer,
    normalize_answer,
    normalize_number,
    numeric_match,
    within_tolerance,
)
from rewardpipe.errors import UserError


def test_patterns_and_default_order():
    assert tuple(PATTERNS) == DEFAULT_ORDER
    assert DEFAULT_ORDER == ("gsm8k", "answer_tag", "boxed", "the_answer_is", "answer_line")


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("gsm8k", "3 + 2 = <<3+2=5>>5\n#### 5", "5"),
        ("gsm8k", "steps\n  ####   -12.5  \n", "-12.5"),
        ("gsm8k", "steps\n#### $1,200", "$1,200"),
        ("answer_tag", "<reasoning>r</reasoning><answer> 42 </answer>", "42"),
        ("answer_tag", "<answer>\n7\n</answer>", "7"),
        ("boxed", r"so $\boxed{18}$.", "18"),
        ("boxed", r"\boxed{\frac{3}{4}}", r"\frac{3}{4}"),
        ("boxed", r"\boxed{\text{{a}}}", r"\text{{a}}"),
        ("the_answer_is", "So the answer is 18.", "18"),
        ("the_answer_is", "THE ANSWER IS: $1,200.50. Done.", "1,200.50"),
        ("the_answer_is", "The answer is 3.5", "3.5"),
        ("the_answer_is", "The final answer is 18 dollars.\nThanks", "18 dollars"),
        ("answer_line", "work\nAnswer: 18\n", "18"),
        ("answer_line", "work\n**Answer:** 18", "18"),
        ("answer_line", "work\nFinal answer: -4", "-4"),
    ],
)
def test_each_pattern(pattern, text, expected):
    assert extract_answer(text, order=(pattern,)) == expected


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("gsm8k", "#### Step 1: add\nno final line"),  # markdown heading, not an answer
        ("gsm8k", "the value #### 5 mid-line"),
        ("answer_tag", "<answer>   </answer>"),
        ("answer_tag", "<answer>5"),
        ("boxed", r"\boxed{}"),
        ("the_answer_is", "I know the answer."),
        ("answer_line", "Answer: 18\nthen more text"),  # not the final line
    ],
)
def test_pattern_no_match(pattern, text):
    assert extract_answer(text, order=(pattern,)) is None


def test_first_pattern_in_order_wins():
    text = "The answer is 7.\n<answer>9</answer>\n#### 5"
    assert extract_answer(text) == "5"
    assert extract_answer(text, order=("answer_tag", "gsm8k")) == "9"
    assert extract_answer(text, order=("the_answer_is", "gsm8k")) == "7"
    assert extract_answer(text, order=("boxed", "answer_line")) is None


def test_single_name_string_as_order():
    assert extract_answer("<answer>3</answer>", order="answer_tag") == "3"


def test_last_occurrence_within_a_pattern():
    assert extract_answer("<answer>1</answer> then <answer>2</answer>") == "2"
    assert extract_answer(r"\boxed{1} or \boxed{2}") == "2"
    assert extract_answer("#### 1\nmore\n#### 2\n") == "2"
    assert extract_answer("The answer is 1. No, the answer is 3.") == "3"


def test_unknown_pattern_names_are_rejected():
    with pytest.raises(ValueError, match="answer_tag") as info:
        extract_answer("#### 5", order=("gsm8k", "nope"))
    assert "nope" in str(info.value)
    assert isinstance(info.value, UserError)
    with pytest.raises(UnknownChoiceError):
        count_answers("x", pattern="latex")


def test_none_when_nothing_matches():
    assert extract_answer("no answer here") is None
    assert extract_answer("") is None


def test_count_answers():
    assert count_answers("steps\n#### 5") == 1
    assert count_answers("#### 5\n#### 6") == 2
    assert count_answers("#### Heading\n#### 6") == 1
    assert count_answers("nothing") == 0
    assert count_answers("<answer>1</answer><answer>2</answer>", pattern="answer_tag") == 2
    assert count_answers(r"\boxed{1}", pattern="boxed") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18", 18.0),
        ("18.0", 18.0),
        ("18.", 18.0),
        ("  18.  ", 18.0),
        ("-7", -7.0),
        ("−7", -7.0),
        ("+5", 5.0),
        ("-3.25", -3.25),
        (".5", 0.5),
        ("$18", 18.0),
        ("$1,200.50", 1200.5),
        ("1,200,000", 1_200_000.0),
        ("-$5", -5.0),
        ("$-5", -5.0),
        ("18 dollars", 18.0),
        ("5 cm", 5.0),
        ("40%", 40.0),
        ("= 12", 12.0),
        ("=12", 12.0),
        ("3/4", 0.75),
        ("-3 / 4", -0.75),
        (r"\frac{3}{4}", 0.75),
        (r"\$1{,}200", 1200.0),
        ("**18**", 18.0),
    ],
)
def test_normalize_number(text, expected):
    assert normalize_number(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["", "   ", "abc", "eighteen", "18 or 20", "1,2345", "3/0", "-$-5", "x = 5", "1/2/3"]
)
def test_normalize_number_none(text):
    assert normalize_number(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18.0", "18"),
        ("$18", "18"),
        ("18.00", "18"),
        ("1,200", "1200"),
        ("$1,200.50", "1200.5"),
        ("-0.0", "0"),
        ("3/4", "0.75"),
        ("  Hello   World ", "hello world"),
        ("Tuesday", "tuesday"),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match():
    assert exact_match(" 18 ", "18")
    assert not exact_match("18.0", "18")
    assert not exact_match(None, "18")
    assert not exact_match("18", None)
    assert not exact_match(None, None)


def test_numeric_match():
    assert numeric_match("18.0", "18")
    assert numeric_match("$1,200.50", "1200.5")
    assert numeric_match("18 dollars", "18")
    assert numeric_match("-4", "−4")
    assert numeric_match(18, "18.0")
    assert numeric_match("1000000.5", "1000000")  # within 1e-6 relative
    assert not numeric_match("18.1", "18")
    assert not numeric_match("-18", "18")
    assert not numeric_match("abc", "18")
    assert not numeric_match(None, "18")
    assert not numeric_match("18", None)


def test_within_tolerance():
    assert within_tolerance("110", "100", 0.1)
    assert within_tolerance("1.1", "1", 0.1)  # inclusive edge despite float rounding
    assert within_tolerance("90", "100", 0.1)
    assert not within_tolerance("111", "100", 0.1)
    assert not within_tolerance("89", "100", 0.1)
    assert within_tolerance("-105", "-100", 0.1)
    assert not within_tolerance("100", "-100", 0.1)
    assert within_tolerance("0", "0", 0.1)
    assert within_tolerance("0.0", "0", 0.0)
    assert not within_tolerance("0.001", "0", 0.1)
    assert not within_tolerance(None, "1", 0.1)
    assert not within_tolerance("1", None, 0.1)
    assert not within_tolerance("x", "1", 0.1)
    with pytest.raises(ValueError, match="rel_tol"):
        within_tolerance("1", "1", -0.1)
