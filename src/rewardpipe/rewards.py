"""Rule-based GSM8K rewards with the Tunix GRPO demo's constants, callable by GRPO trainers.

Each reward is `fn(prompts, completions, answer, **kwargs) -> list[float]`, one score per
completion, the call Tunix and TRL make (extra dataset columns arrive as ignored kwargs).
Completions are strings or chat-message lists (the last assistant message is scored); `answer`
holds one reference per completion, a bare final answer or a GSM8K solution ending in `#### N`.
`answer_format` picks the required output format: "tags" (`<reasoning>...</reasoning>
<answer>...</answer>`, the Tunix demo) or "gsm8k" (steps, then a last line `#### N`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewardpipe.answers import (
    PATTERNS,
    UnknownChoiceError,
    count_answers,
    extract_answer,
    normalize_number,
    numeric_match,
)
from rewardpipe.data.solution import final_answer

REASONING_START = "<reasoning>"
REASONING_END = "</reasoning>"
SOLUTION_START = "<answer>"
SOLUTION_END = "</answer>"
TAGS = "tags"
GSM8K = "gsm8k"
ANSWER_FORMATS = (TAGS, GSM8K)

FORMAT_EXACT_REWARD = 3.0  # match_format_exactly: the whole format matches
FORMAT_PART_REWARD = 0.5  # match_format_approximately: per check passed ...
FORMAT_PART_PENALTY = -0.5  # ... and per check failed
ANSWER_EXACT_REWARD = 3.0  # check_answer: same string
ANSWER_STRIPPED_REWARD = 1.5  # same string after strip
ANSWER_CLOSE_REWARD = 0.5  # guess / true within ANSWER_CLOSE_RATIO
ANSWER_NEAR_REWARD = 0.25  # guess / true within ANSWER_NEAR_RATIO
ANSWER_WRONG_PENALTY = -1.0  # a number outside both bands
ANSWER_UNPARSEABLE_PENALTY = -0.5  # guess (or reference) is not a number
ANSWER_MISSING_REWARD = 0.0  # nothing extracted
ANSWER_CLOSE_RATIO = (0.9, 1.1)
ANSWER_NEAR_RATIO = (0.8, 1.2)
NUMBER_MATCH_REWARD = 1.5  # check_numbers: extracted number == true number

Completion = str | Sequence[Mapping[str, Any]] | Mapping[str, Any]
RewardFunction = Callable[..., list[float]]

_ALL_TAGS = (REASONING_START, REASONING_END, SOLUTION_START, SOLUTION_END)
_NOT_A_TAG = "(?:(?!{}).)".format("|".join(re.escape(tag) for tag in _ALL_TAGS))
# The whole completion: each tag exactly once, in order, only whitespace outside them.
_TAGS_FORMAT = re.compile(
    rf"\s*{re.escape(REASONING_START)}{_NOT_A_TAG}+{re.escape(REASONING_END)}"
    rf"{_NOT_A_TAG}*{re.escape(SOLUTION_START)}({_NOT_A_TAG}+){re.escape(SOLUTION_END)}\s*",
    re.S,
)
_LENIENT_PATTERN = {TAGS: "answer_tag", GSM8K: "gsm8k"}
_RATIO_SLACK = 1e-9  # keeps the band edges inclusive despite float rounding (1.1 / 1.0)


def completion_text(completion: Completion) -> str:
    """The text of a completion: a string, or the last assistant message's content."""
    if isinstance(completion, str):
        return completion
    messages = [completion] if isinstance(completion, Mapping) else completion
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return _content_text(message.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Multi-part content: [{"type": "text", "text": ...}, ...]
    return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))


def _check_format(answer_format: str) -> None:
    if answer_format not in ANSWER_FORMATS:
        raise UnknownChoiceError(
            f"unknown answer_format {answer_format!r}; expected one of: {', '.join(ANSWER_FORMATS)}"
        )


def _format_answer(text: str, answer_format: str) -> str | None:
    """The answer when the whole text has the required format (unstripped, as Tunix), else None."""
    if answer_format == TAGS:
        match = _TAGS_FORMAT.fullmatch(text)
        return None if match is None else match.group(1)
    matches = list(PATTERNS["gsm8k"].finditer(text))
    if len(matches) != 1:
        return None
    final = matches[0]
    has_steps = bool(text[: final.start()].strip())
    is_last = not text[final.end() :].strip()
    return final.group(1).strip() if has_steps and is_last else None


def _ends_with_final(text: str) -> bool:
    """The last non-blank line is a `#### N` line."""
    return any(not text[m.end() :].strip() for m in PATTERNS["gsm8k"].finditer(text))


def _reference(ref: Any) -> str:
    """The reference final answer: the value after `####`, or the bare answer itself."""
    text = ref if isinstance(ref, str) else str(ref)
    final = final_answer(text)
    return text if final is None else final


def _references(answer: Sequence[Any] | None, n: int) -> list[str]:
    if answer is None or isinstance(answer, str) or len(answer) != n:
        got = "none" if answer is None else f"{type(answer).__name__} of length {len(answer)}"
        raise ValueError(
            f"answer must be a list with one reference per completion ({n}); got {got}"
        )
    return [_reference(ref) for ref in answer]


def _in_band(ratio: float, band: tuple[float, float]) -> bool:
    return band[0] * (1 - _RATIO_SLACK) <= ratio <= band[1] * (1 + _RATIO_SLACK)


def _score_answer(guess: str | None, true: str) -> float:
    if guess is None:
        return ANSWER_MISSING_REWARD
    if guess == true:
        return ANSWER_EXACT_REWARD
    if guess.strip() == true.strip():
        return ANSWER_STRIPPED_REWARD
    g, t = normalize_number(guess), normalize_number(true)
    if g is None or t is None:
        return ANSWER_UNPARSEABLE_PENALTY
    if t == 0:  # no ratio: equal counts as close, anything else as wrong
        return ANSWER_CLOSE_REWARD if g == 0 else ANSWER_WRONG_PENALTY
    ratio = g / t
    if _in_band(ratio, ANSWER_CLOSE_RATIO):
        return ANSWER_CLOSE_REWARD
    if _in_band(ratio, ANSWER_NEAR_RATIO):
        return ANSWER_NEAR_REWARD
    return ANSWER_WRONG_PENALTY


def match_format_exactly(
    prompts: Sequence[Any] | None,
    completions: Sequence[Completion],
    answer: Sequence[Any] | None = None,
    *,
    answer_format: str = TAGS,
    **kwargs: Any,
) -> list[float]:
    """FORMAT_EXACT_REWARD when the whole completion has the required format, else 0."""
    _check_format(answer_format)
    return [
        FORMAT_EXACT_REWARD
        if _format_answer(completion_text(c), answer_format) is not None
        else 0.0
        for c in completions
    ]


def match_format_approximately(
    prompts: Sequence[Any] | None,
    completions: Sequence[Completion],
    answer: Sequence[Any] | None = None,
    *,
    answer_format: str = TAGS,
    **kwargs: Any,
) -> list[float]:
    """+0.5 / -0.5 per check: tags -> each of the four tags appears exactly once;
    gsm8k -> exactly one `#### N` line, and it is the last line."""
    _check_format(answer_format)
    scores = []
    for completion in completions:
        text = completion_text(completion)
        if answer_format == TAGS:
            checks = [text.count(tag) == 1 for tag in _ALL_TAGS]
        else:
            checks = [count_answers(text, "gsm8k") == 1, _ends_with_final(text)]
        scores.append(sum(FORMAT_PART_REWARD if ok else FORMAT_PART_PENALTY for ok in checks))
    return scores


def check_answer(
    prompts: Sequence[Any] | None,
    completions: Sequence[Completion],
    answer: Sequence[Any] | None = None,
    *,
    answer_format: str = TAGS,
    **kwargs: Any,
) -> list[float]:
    """Score the answer of a fully formatted completion against the reference: 3.0 same string,
    1.5 same after strip, 0.5 / 0.25 ratio within ±10 % / ±20 %, -1.0 another number,
    -0.5 not a number, 0.0 nothing extracted (format not matched)."""
    _check_format(answer_format)
    refs = _references(answer, len(completions))
    return [
        _score_answer(_format_answer(completion_text(c), answer_format), ref)
        for c, ref in zip(completions, refs, strict=True)
    ]


def check_numbers(
    prompts: Sequence[Any] | None,
    completions: Sequence[Completion],
    answer: Sequence[Any] | None = None,
    *,
    answer_format: str = TAGS,
    **kwargs: Any,
) -> list[float]:
    """NUMBER_MATCH_REWARD when the last `<answer>` / `#### N` anywhere in the completion states
    the reference number (format not required, as in Tunix), else 0."""
    _check_format(answer_format)
    refs = _references(answer, len(completions))
    pattern = _LENIENT_PATTERN[answer_format]
    scores = []
    for completion, ref in zip(completions, refs, strict=True):
        guess = extract_answer(completion_text(completion), order=(pattern,))
        scores.append(NUMBER_MATCH_REWARD if numeric_match(guess, ref) else 0.0)
    return scores


REWARD_FUNCTIONS: list[RewardFunction] = [
    match_format_exactly,
    match_format_approximately,
    check_answer,
    check_numbers,
]


def reward_functions(answer_format: str = TAGS) -> list[RewardFunction]:
    """REWARD_FUNCTIONS bound to `answer_format`, keeping `__name__` (TRL logs rewards by name)."""
    _check_format(answer_format)
    return [
        functools.update_wrapper(functools.partial(fn, answer_format=answer_format), fn)
        for fn in REWARD_FUNCTIONS
    ]


def format_reward(text: Completion, answer_format: str = TAGS) -> float:
    """match_format_exactly + match_format_approximately for one completion."""
    return (
        match_format_exactly(None, [text], answer_format=answer_format)[0]
        + match_format_approximately(None, [text], answer_format=answer_format)[0]
    )
