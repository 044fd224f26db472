"""Final-answer extraction (`#### N`, `<answer>`, `\\boxed{}`, "The answer is", `Answer:`) and
normalisation of the extracted strings for exact / numeric / tolerance comparisons."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from rewardpipe.data.solution import format_number
from rewardpipe.errors import UserError


class UnknownChoiceError(UserError, ValueError):
    """An unknown pattern or format name; a UserError that is also a ValueError."""


# GSM8K answers start like a number, so markdown `#### Heading` lines are not answers.
_NUMBER_AHEAD = r"(?=[-+−=$€£.*` \t]*\d)"
# Up to two levels of nested braces inside \boxed{...}: Python's `re` has no recursion.
_BRACED = r"(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*"

PATTERNS: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "gsm8k": re.compile(rf"^[ \t]*####[ \t]*({_NUMBER_AHEAD}[^\n]*?)[ \t\r]*$", re.M),
        "answer_tag": re.compile(r"<answer>(.*?)</answer>", re.S | re.I),
        "boxed": re.compile(rf"\\boxed[ \t]*\{{({_BRACED})\}}"),
        # The answer stops at a sentence-ending period (not the one in `3.5`) or the line end.
        "the_answer_is": re.compile(
            r"\bthe[ \t]+(?:final[ \t]+)?answer[ \t]+is[ \t]*:?[ \t]*\$?[ \t]*"
            r"([^\n]*?)[ \t]*(?:\.(?=\s|$)|$)",
            re.I | re.M,
        ),
        # Only the last non-blank line; tolerates markdown bold (`**Answer:**`) and `Final answer:`.
        "answer_line": re.compile(
            r"^[ \t]*\**[ \t]*(?:final[ \t]+)?answer\**[ \t]*:\**[ \t]*([^\n]*?)\s*\Z",
            re.I | re.M,
        ),
    }
)
DEFAULT_ORDER = ("gsm8k", "answer_tag", "boxed", "the_answer_is", "answer_line")
NUMERIC_REL_TOL = 1e-6

_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Optional `=`, sign and currency, a number or a simple fraction, then anything without digits
# (units, words, `%`, a trailing period); a tail with digits ("18 or 20") is ambiguous -> None.
_NUMBER = re.compile(
    r"""=?[ \t]*
    (?P<sign>[-+]?)[ \t]*
    [$€£]?[ \t]*
    (?P<sign2>[-+]?)
    (?P<num>\d+(?:\.\d*)?|\.\d+)
    (?:[ \t]*/[ \t]*(?P<den>\d+(?:\.\d+)?))?
    \D*""",
    re.X,
)


def _pattern(name: str) -> re.Pattern[str]:
    if name not in PATTERNS:
        raise UnknownChoiceError(
            f"unknown answer pattern {name!r}; expected one of: {', '.join(PATTERNS)}"
        )
    return PATTERNS[name]


def _answers(text: str, name: str) -> list[str]:
    """Every non-empty stripped answer the pattern `name` finds, in reading order."""
    found = (m.group(1).strip() for m in _pattern(name).finditer(text))
    return [answer for answer in found if answer]


def extract_answer(text: str, order: Sequence[str] = DEFAULT_ORDER) -> str | None:
    """The last answer of the first pattern in `order` that matches `text`, stripped; else None."""
    names = (order,) if isinstance(order, str) else tuple(order)
    for name in names:
        _pattern(name)  # validate every name, even after a match
    for name in names:
        found = _answers(text, name)
        if found:
            return found[-1]
    return None


def count_answers(text: str, pattern: str = "gsm8k") -> int:
    """How many final answers in the `pattern` format `text` holds (compliance: exactly one)."""
    return len(_answers(text, pattern))


def normalize_number(s: str) -> float | None:
    """The number an answer string states (`$1,200.50`, `-3`, `18 dollars`, `40%`, `3/4`), or None."""
    text = _FRAC.sub(r"\1/\2", s)
    for old, new in (("−", "-"), ("\\$", "$"), ("{,}", ","), ("\\,", ","), ("\\!", "")):
        text = text.replace(old, new)
    text = _THOUSANDS.sub("", text).strip().strip("*`").strip()
    match = _NUMBER.fullmatch(text)
    if match is None or (match["sign"] and match["sign2"]):
        return None
    value = float(match["num"])
    if match["den"] is not None:
        denominator = float(match["den"])
        if denominator == 0:
            return None
        value /= denominator
    if "-" in (match["sign"], match["sign2"]):
        value = -value
    return value if math.isfinite(value) else None


def normalize_answer(s: str) -> str:
    """Canonical form: numbers as GSM8K writes them (`$18.00` -> `18`), else folded lower text."""
    value = normalize_number(s)
    if value is not None:
        return format_number(value)
    return " ".join(s.lower().split())


def _as_number(x: str | float | None) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        return normalize_number(x)
    value = float(x)
    return value if math.isfinite(value) else None


def exact_match(pred: str | None, ref: str | None) -> bool:
    """The strings are equal after trimming surrounding whitespace."""
    return pred is not None and ref is not None and pred.strip() == ref.strip()


def numeric_match(pred: str | float | None, ref: str | float | None) -> bool:
    """Both state a number and the numbers agree to a relative 1e-6 (`18.0` == `$18`)."""
    p, r = _as_number(pred), _as_number(ref)
    return p is not None and r is not None and math.isclose(p, r, rel_tol=NUMERIC_REL_TOL)


def within_tolerance(pred: str | float | None, ref: str | float | None, rel_tol: float) -> bool:
    """|pred - ref| <= rel_tol * |ref| (so ref == 0 needs pred == 0)."""
    if rel_tol < 0:
        raise ValueError(f"rel_tol must be >= 0, got {rel_tol}")
    p, r = _as_number(pred), _as_number(ref)
    if p is None or r is None:
        return False
    # The 1e-9 slack keeps band edges inclusive despite float rounding (1.1 vs 1.0 at 10 %).
    return abs(p - r) <= rel_tol * abs(r) * (1 + 1e-9)
