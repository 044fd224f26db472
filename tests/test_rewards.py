from __future__ import annotations

import functools

import pytest

from rewardpipe import rewards as r
from rewardpipe.answers import UnknownChoiceError
from rewardpipe.rewards import (
    REWARD_FUNCTIONS,
    check_answer,
    check_numbers,
    completion_text,
    format_reward,
    match_format_approximately,
    match_format_exactly,
    reward_functions,
)

GOOD_TAGS = "<reasoning>2 + 3 = 5</reasoning>\n<answer>5</answer>"
GOOD_GSM8K = "2 + 3 = <<2+3=5>>5\n#### 5"
REF_SOLUTION = "Add them: 2 + 3 = <<2+3=5>>5\n#### 5"


def tags(answer: str) -> str:
    return f"<reasoning>thinking</reasoning><answer>{answer}</answer>"


def gsm(answer: str) -> str:
    return f"step one\nstep two\n#### {answer}"


def test_constants_match_the_tunix_demo():
    assert r.FORMAT_EXACT_REWARD == 3.0
    assert (r.FORMAT_PART_REWARD, r.FORMAT_PART_PENALTY) == (0.5, -0.5)
    assert (r.ANSWER_EXACT_REWARD, r.ANSWER_STRIPPED_REWARD) == (3.0, 1.5)
    assert (r.ANSWER_CLOSE_REWARD, r.ANSWER_NEAR_REWARD) == (0.5, 0.25)
    assert (r.ANSWER_WRONG_PENALTY, r.ANSWER_UNPARSEABLE_PENALTY) == (-1.0, -0.5)
    assert r.ANSWER_MISSING_REWARD == 0.0
    assert (r.ANSWER_CLOSE_RATIO, r.ANSWER_NEAR_RATIO) == ((0.9, 1.1), (0.8, 1.2))
    assert r.NUMBER_MATCH_REWARD == 1.5
    assert [fn.__name__ for fn in REWARD_FUNCTIONS] == [
        "match_format_exactly",
        "match_format_approximately",
        "check_answer",
        "check_numbers",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_TAGS, 3.0),
        ("  \n" + GOOD_TAGS + "\n\n", 3.0),
        ("<reasoning>r</reasoning> so <answer>5</answer>", 3.0),  # text between is allowed
        ("<answer>5</answer>", 0.0),
        ("<reasoning>r</reasoning><answer>5", 0.0),
        ("<reasoning></reasoning><answer>5</answer>", 0.0),  # empty reasoning
        (GOOD_TAGS + " trailing words", 0.0),
        ("preamble " + GOOD_TAGS, 0.0),
        (GOOD_TAGS + "<answer>6</answer>", 0.0),  # a second answer
        ("<answer>5</answer><reasoning>r</reasoning>", 0.0),  # wrong order
    ],
)
def test_match_format_exactly_tags(text, expected):
    assert match_format_exactly(None, [text], None) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_GSM8K, 3.0),
        (GOOD_GSM8K + "\n\n", 3.0),
        ("#### 5", 0.0),  # no steps
        ("steps\n#### 5\nmore text", 0.0),  # not last
        ("steps\n#### 4\n#### 5", 0.0),  # two final lines
        ("steps, answer 5", 0.0),
        (GOOD_TAGS, 0.0),
    ],
)
def test_match_format_exactly_gsm8k(text, expected):
    assert match_format_exactly(None, [text], None, answer_format="gsm8k") == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_TAGS, 2.0),
        ("<reasoning>r</reasoning>", 0.0),  # two tags present, two missing
        ("no tags", -2.0),
        (GOOD_TAGS + "<answer>6</answer>", 0.0),  # answer tags twice
        ("<reasoning>r<answer>5</answer>", 1.0),  # only reasoning end missing
    ],
)
def test_match_format_approximately_tags(text, expected):
    assert match_format_approximately(None, [text]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_GSM8K, 1.0),
        ("steps\n#### 5\nmore", 0.0),  # one final line, not last
        ("steps\n#### 4\n#### 5", 0.0),  # last but two
        ("steps\n#### 4\nmore\n#### 5\nmore", -1.0),
        ("no final line", -1.0),
        ("#### Step 1\nwork\n#### 5", 1.0),  # markdown heading is not a final line
    ],
)
def test_match_format_approximately_gsm8k(text, expected):
    assert match_format_approximately(None, [text], answer_format="gsm8k") == [expected]


@pytest.mark.parametrize(
    ("completion", "ref", "expected"),
    [
        (tags("5"), "5", 3.0),
        (tags(" 5 "), "5", 1.5),
        (tags("5"), " 5", 1.5),
        (tags("5.4"), "5", 0.5),  # ratio 1.08
        (tags("4.5"), "5", 0.5),  # ratio 0.9, inclusive
        (tags("5.5"), "5", 0.5),  # ratio 1.1, inclusive
        (tags("5.75"), "5", 0.25),  # ratio 1.15
        (tags("4"), "5", 0.25),  # ratio 0.8
        (tags("6.5"), "5", -1.0),
        (tags("-5"), "5", -1.0),
        (tags("5.0"), "5", 0.5),  # numerically equal, different string
        (tags("$1,200"), "1200", 0.5),
        (tags("0.0"), "0", 0.5),
        (tags("1"), "0", -1.0),
        (tags("five"), "5", -0.5),
        (tags("5"), "five", -0.5),
        ("<answer>5</answer>", "5", 0.0),  # not fully formatted: nothing extracted
        ("no answer at all", "5", 0.0),
    ],
)
def test_check_answer_tags(completion, ref, expected):
    assert check_answer(None, [completion], [ref]) == [expected]


@pytest.mark.parametrize(
    ("completion", "ref", "expected"),
    [
        (gsm("5"), "5", 3.0),
        (gsm("5"), REF_SOLUTION, 3.0),  # reference is a full solution
        (gsm("5"), " 5 ", 1.5),
        (gsm("5.2"), "5", 0.5),
        (gsm("6"), "5", 0.25),
        (gsm("50"), REF_SOLUTION, -1.0),
        (gsm("5 apples and more"), "5", 0.5),
        ("steps\n#### 5\nmore", "5", 0.0),
        (tags("5"), "5", 0.0),
    ],
)
def test_check_answer_gsm8k(completion, ref, expected):
    assert check_answer(None, [completion], [ref], answer_format="gsm8k") == [expected]


@pytest.mark.parametrize(
    ("completion", "ref", "fmt", "expected"),
    [
        (tags("5"), "5", "tags", 1.5),
        (tags("$5.00"), "5", "tags", 1.5),
        (tags("5 dollars"), REF_SOLUTION, "tags", 1.5),
        ("<answer>1</answer> no, <answer>5</answer>", "5", "tags", 1.5),  # format not needed
        (tags("6"), "5", "tags", 0.0),
        (tags("five"), "5", "tags", 0.0),
        ("no answer", "5", "tags", 0.0),
        (gsm("-5"), "-5", "gsm8k", 1.5),
        (gsm("1,200"), "#### 1200", "gsm8k", 1.5),
        ("steps\n#### 5\ntrailing", "5", "gsm8k", 1.5),
        (gsm("4"), "5", "gsm8k", 0.0),
        (tags("5"), "5", "gsm8k", 0.0),
    ],
)
def test_check_numbers(completion, ref, fmt, expected):
    assert check_numbers(None, [completion], [ref], answer_format=fmt) == [expected]


def test_chat_message_completions():
    chat = [
        {"role": "user", "content": "ignored <answer>9</answer>"},
        {"role": "assistant", "content": "draft"},
        {"role": "assistant", "content": GOOD_TAGS},
        {"role": "tool", "content": "ignored"},
    ]
    assert completion_text(chat) == GOOD_TAGS
    assert completion_text({"role": "assistant", "content": "x"}) == "x"
    assert completion_text([{"role": "user", "content": "x"}]) == ""
    parts = [{"role": "assistant", "content": [{"type": "text", "text": GOOD_TAGS}]}]
    assert completion_text(parts) == GOOD_TAGS
    completions = [chat, parts]
    assert match_format_exactly(None, completions) == [3.0, 3.0]
    assert match_format_approximately(None, completions) == [2.0, 2.0]
    assert check_answer(None, completions, ["5", "5"]) == [3.0, 3.0]
    assert check_numbers(None, completions, ["5", "4"]) == [1.5, 0.0]


def test_returned_lengths_and_extra_kwargs():
    completions = [tags("5"), tags("7"), "junk", gsm("5")]
    answers = ["5", "5", "5", "5"]
    for fn in REWARD_FUNCTIONS:
        scores = fn(
            prompts=["q"] * 4,
            completions=completions,
            answer=answers,
            question=["q"] * 4,
            mode="train",
        )
        assert len(scores) == 4
        assert all(isinstance(s, float) for s in scores)
    assert check_answer(["q"] * 4, completions, answers) == [3.0, -1.0, 0.0, 0.0]
    assert match_format_exactly(prompts=[], completions=[]) == []


def test_answer_format_via_partial():
    gsm8k_check = functools.partial(check_answer, answer_format="gsm8k")
    assert gsm8k_check(prompts=None, completions=[gsm("5")], answer=["5"]) == [3.0]
    bound = reward_functions("gsm8k")
    assert [fn.__name__ for fn in bound] == [fn.__name__ for fn in REWARD_FUNCTIONS]
    scores = [fn(prompts=None, completions=[GOOD_GSM8K], answer=[REF_SOLUTION]) for fn in bound]
    assert scores == [[3.0], [1.0], [3.0], [1.5]]


def test_bad_arguments():
    with pytest.raises(UnknownChoiceError, match="tags, gsm8k"):
        match_format_exactly(None, ["x"], answer_format="xml")
    with pytest.raises(ValueError, match="unknown answer_format"):
        reward_functions("boxed")
    with pytest.raises(ValueError, match="one reference per completion"):
        check_answer(None, ["a", "b"], ["5"])
    with pytest.raises(ValueError, match="one reference per completion"):
        check_numbers(None, ["a"], "5")
    with pytest.raises(ValueError, match="one reference per completion"):
        check_answer(None, ["a"], None)


def test_format_reward():
    assert format_reward(GOOD_TAGS, "tags") == 5.0
    assert format_reward("nothing", "tags") == -2.0
    assert format_reward(GOOD_GSM8K, "gsm8k") == 4.0
    assert format_reward("nothing", "gsm8k") == -1.0
    assert format_reward([{"role": "assistant", "content": GOOD_TAGS}]) == 5.0
