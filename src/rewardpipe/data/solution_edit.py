"""A parsed GSM8K solution and its editing engine.

A solution is parsed into step lines of text and calculations (`<<expr=value>>` annotations with
the visible expression before and the number after them, and plain written equations such as
`20/4 = $5`), rendered back unchanged. A changed value is propagated through every later
calculation, cascading, into the final `#### N`, so an edited solution stays internally consistent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from rewardpipe.data.solution import (
    annotations,
    format_number,
    parse_number,
    safe_eval,
    split_final,
    values_match,
)

NUM = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+")
_TOKEN = re.compile(
    rf"(?P<num>{NUM.pattern})|(?P<op>\*\*|//|[-+*/×÷%−]|(?<![A-Za-z])x(?![A-Za-z]))|(?P<open>\()|(?P<close>\))"
)
_RESULT = re.compile(rf"-?(?:{NUM.pattern})")
_JOINT = re.compile(r"\s*=\s*\$?\s*$")
_BREAK = re.compile(r"[.!?;:](?:\s|$)|=")  # a sentence break inside a visible expression
_EQUALS = re.compile(r"\s*=\s*\$?(?=\.?\d)")
_SHOWN_CHARS = frozenset("0123456789.,$+-*/x×÷()% −")
CANONICAL = {"x": "*", "×": "*", "÷": "/", "−": "-", "+": "+", "-": "-", "*": "*", "/": "/"}


@dataclass(frozen=True)
class Calc:
    """One annotation with its visible surroundings: `{shown}{joint}<<{expr}={value}>>{result}`,
    or (not `annotated`) a plain written equation `{shown}{joint}{result}` evaluated as `expr`."""

    shown: str  # visible expression before the annotation, "" if none
    joint: str  # text between `shown` and `<<`, e.g. " = $"
    expr: str
    value: str
    result: str  # visible number right after `>>`, "" if none
    aligned: bool  # `shown` has the same numbers as `expr`, in order (or is empty)
    annotated: bool = True

    def render(self) -> str:
        if not self.annotated:
            return f"{self.shown}{self.joint}{self.result}"
        return f"{self.shown}{self.joint}<<{self.expr}={self.value}>>{self.result}"

    @property
    def number(self) -> float | None:
        return parse_number(self.value)


Part = str | Calc
Line = tuple[Part, ...]


@dataclass(frozen=True)
class Doc:
    """A parsed solution: step lines split into text and calculations, and the final answer."""

    lines: tuple[Line, ...]
    final: str
    flaws: int = 0  # stale visible expressions and ambiguous propagations so far
    given: tuple[float, ...] = ()  # the question's numbers (never restated in prose)

    def render(self) -> str:
        steps = [
            "".join(p if isinstance(p, str) else p.render() for p in line) for line in self.lines
        ]
        return "\n".join([*steps, f"#### {self.final}"])

    def calcs(self) -> list[tuple[int, int, Calc]]:
        return [
            (li, pi, p)
            for li, line in enumerate(self.lines)
            for pi, p in enumerate(line)
            if isinstance(p, Calc)
        ]


# ---------------------------------------------------------------------------------------------
# Parsing and rendering


def parse(solution: str) -> Doc | None:
    """`solution` as a Doc that renders back unchanged; None without steps or a numeric final."""
    steps, final = split_final(solution)
    if final is None or parse_number(final) is None or not any(s.strip() for s in steps):
        return None
    by_line: dict[int, list] = {}
    for ann in annotations("\n".join(steps)):
        by_line.setdefault(ann.line, []).append(ann)
    lines = []
    for i, line in enumerate(steps):
        parts: list[Part] = []
        cursor = 0
        for ann in by_line.get(i, []):
            prefix, shown, joint, aligned = _split_shown(line[cursor : ann.start], ann.expr)
            parts += _text_parts(prefix)
            match = _RESULT.match(line, ann.end)
            result = ""
            if match and _same(parse_number(match.group()), parse_number(ann.value)):
                result = match.group()
            parts.append(Calc(shown, joint, ann.expr, ann.value, result, aligned))
            cursor = ann.end + len(result)
        parts += _text_parts(line[cursor:])
        lines.append(tuple(parts or [""]))
    return Doc(tuple(lines), final)


def _split_shown(segment: str, expr: str) -> tuple[str, str, str, bool]:
    """Split the text before an annotation into (prefix, visible expression, joint, aligned).

    The visible expression ends at the `=` before `<<`; it is aligned when its last numbers are
    the expression's numbers (words may sit between them: `2000 cases + 500 cases`)."""
    joint = _JOINT.search(segment)
    if joint is None:
        return segment, "", "", True
    end = joint.start()
    expr_nums = numbers(expr)
    nums = list(NUM.finditer(segment, 0, end))
    tail = nums[len(nums) - len(expr_nums) :] if 0 < len(expr_nums) <= len(nums) else []
    if (
        tail
        and all(_same(token_value(m.group()), v) for m, v in zip(tail, expr_nums, strict=True))
        and not _BREAK.search(segment, tail[0].start(), end)
    ):
        start = tail[0].start()
        while start > 0 and segment[start - 1] in "($":
            start -= 1
        return segment[:start], segment[start:end], segment[end:], True
    start = end
    while start > 0 and segment[start - 1] in _SHOWN_CHARS:
        start -= 1
    if not NUM.search(segment, start, end):
        return segment, "", "", True
    while start < end and not (segment[start].isdigit() or segment[start] in "($"):
        start += 1
    return segment[:start], segment[start:end], segment[end:], False


def _text_parts(text: str) -> list[Part]:
    """Text with its plain written equations (`20/4 = $5`, `42 minutes + 10 minutes = 52`, no
    annotation) as calculations: the shortest run of numbers before `=` that evaluates to it."""
    parts: list[Part] = []
    cursor = 0
    for eq in _EQUALS.finditer(text):
        result = NUM.match(text, eq.end())
        if result is None or eq.start() <= cursor:
            continue
        nums = list(NUM.finditer(text, cursor, eq.start()))
        for first in reversed(nums[-6:-1]):
            start = first.start()
            while start > cursor and text[start - 1] in "($":
                start -= 1
            shown = text[start : eq.start()]
            if _BREAK.search(shown):
                break
            if binary_ops(shown) and _same(
                safe_eval(_arithmetic_of(shown)), token_value(result.group())
            ):
                if start > cursor:
                    parts.append(text[cursor:start])
                joint, number = text[eq.start() : eq.end()], result.group()
                expr = _arithmetic_of(shown)
                parts.append(Calc(shown, joint, expr, number, number, True, annotated=False))
                cursor = result.end()
                break
    if cursor < len(text):
        parts.append(text[cursor:])
    return parts


def _arithmetic_of(shown: str) -> str:
    """The arithmetic of a visible expression, words and units dropped: `3 sets * 15 push-ups/set`
    -> `3*15`."""
    tokens = []
    for m in _TOKEN.finditer(shown):
        if m.lastgroup == "op":
            if _in_word(shown, m):
                continue
            tokens.append(CANONICAL.get(m.group(), m.group()))
        else:
            tokens.append(m.group())
    return "".join(tokens)


def numbers(text: str) -> list[float]:
    """The values of the numbers written in `text`, in order."""
    return [token_value(m.group()) for m in NUM.finditer(text)]


def token_value(token: str) -> float:
    """The value of one number matched by `NUM` (thousands commas allowed)."""
    return float(token.replace(",", ""))


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and values_match(a, b)


def styled(value: float, like: str) -> str:
    """`value` rounded to cents as GSM8K writes it, with thousands commas if `like` has them."""
    value = round(value, 2)
    if "," in like and abs(value) >= 1000 and value == int(value):
        return f"{int(value):,}"
    return format_number(value)


def sub_numbers(text: str, subs: Mapping[int, str]) -> str:
    """Replace the i-th number of `text` by `subs[i]` (negative values in parentheses)."""
    out, last = [], 0
    for i, m in enumerate(NUM.finditer(text)):
        if i in subs:
            new = subs[i]
            out += [text[last : m.start()], f"({new})" if new.startswith("-") else new]
            last = m.end()
    return "".join(out) + text[last:]


def binary_ops(text: str) -> list[re.Match[str]]:
    """Binary operators in reading order; a sign touching a word (`hours/day`, `push-ups`) is
    part of a unit, not an operator."""
    ops, prev = [], None
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "op" and _in_word(text, m):
            continue
        if m.lastgroup == "op" and prev in ("num", "close"):
            ops.append(m)
        prev = m.lastgroup
    return ops


def _in_word(text: str, m: re.Match[str]) -> bool:
    before = text[m.start() - 1 : m.start()]
    return before.isalpha() or text[m.end() : m.end() + 1].isalpha()


def replace_at(text: str, m: re.Match[str], new: str) -> str:
    """`text` with the span of match `m` replaced by `new`."""
    return text[: m.start()] + new + text[m.end() :]


def _set_part(lines: tuple[Line, ...], li: int, pi: int, part: Part) -> tuple[Line, ...]:
    line = list(lines[li])
    line[pi] = part
    return (*lines[:li], tuple(line), *lines[li + 1 :])


# ---------------------------------------------------------------------------------------------
# Propagation


def lookup(changes: list[tuple[float, str]], value: float) -> str | None:
    """The new text of the latest change from `value`, or None."""
    for old, new in reversed(changes):
        if values_match(value, old):
            return new
    return None


def _forget(changes: list[tuple[float, str]], value: float | None) -> None:
    """A later, unchanged step produced `value` again: later uses of it refer to that step."""
    if value is not None:
        changes[:] = [c for c in changes if not values_match(value, c[0])]


def with_value(calc: Calc, value: float, **fields: str) -> Calc:
    """`calc` with result `value`, styled like the old one, and any other `fields` replaced."""
    text = styled(value, calc.value)
    result = styled(value, calc.result) if calc.result else ""
    return replace(calc, value=text, result=result, **fields)


def propagate(doc: Doc, start: tuple[int, int], changes: list[tuple[float, str]]) -> Doc | None:
    """Apply `changes` (old value -> new text) to every calculation at or after `start`, cascading,
    then to the final answer. None when an expression no longer evaluates."""
    changes = list(changes)
    lines = list(doc.lines)
    flaws = doc.flaws
    for li in range(start[0], len(lines)):
        parts = list(lines[li])
        local: list[tuple[float, str]] = []
        for pi, calc in enumerate(parts):
            if not isinstance(calc, Calc) or (li, pi) < start:
                continue
            subs = {}
            for i, m in enumerate(NUM.finditer(calc.expr)):
                new = lookup(changes, token_value(m.group()))
                if new is not None:
                    subs[i] = new
                    local.append((token_value(m.group()), new))
            old = calc.number
            if not subs:
                _forget(changes, old)
                continue
            expr = sub_numbers(calc.expr, subs)
            value = safe_eval(expr)
            if value is None or not math.isfinite(value):
                return None
            shown = sub_numbers(calc.shown, subs) if calc.aligned else calc.shown
            flaws += not calc.aligned
            if old is not None and values_match(value, old):
                parts[pi] = replace(calc, expr=expr, shown=shown)
                _forget(changes, old)
                continue
            parts[pi] = with_value(calc, value, expr=expr, shown=shown)
            if old is not None:
                changes.append((old, parts[pi].value))
                local.append((old, parts[pi].value))
        lines[li] = restate(tuple(parts), local, doc.given)
    final = lookup(changes, parse_number(doc.final) or 0.0) if changes else None
    if final is not None and "," not in doc.final:
        final = final.replace(",", "")
    return replace(doc, lines=tuple(lines), final=final or doc.final, flaws=flaws)


def restate(line: Line, changes: list[tuple[float, str]], given: tuple[float, ...]) -> Line:
    """Prose numbers on a line that state a changed result follow it (`He earned $60 because
    4 x 15 = 60`), unless the number is also one of the question's."""
    if not changes:
        return line
    changes = [(old, new) for old, new in changes if not any(values_match(old, g) for g in given)]
    if not changes:
        return line
    out: list[Part] = []
    for part in line:
        if isinstance(part, str):
            subs = {}
            for i, m in enumerate(NUM.finditer(part)):
                new = lookup(changes, token_value(m.group()))
                if new is not None and not part[m.end() : m.end() + 1].isalpha():
                    subs[i] = new
            part = sub_numbers(part, subs)
        out.append(part)
    return tuple(out)


def perturbed(doc: Doc, li: int, pi: int, new: Calc, old: Calc) -> Doc | None:
    """`doc` with the calculation at (li, pi) replaced by `new`, its change propagated."""
    if old.number is None or new.number is None or values_match(new.number, old.number):
        return None
    change = [(old.number, new.value)]
    line = restate(_set_part(doc.lines, li, pi, new)[li], change, doc.given)
    # Later uses of a value that another step or the question also has may not mean this step.
    earlier = [
        c.number for l2, p2, c in doc.calcs() if (l2, p2) < (li, pi) and c.number is not None
    ]
    ambiguous = any(values_match(old.number, v) for v in (*earlier, *doc.given))
    changed = replace(
        doc, lines=(*doc.lines[:li], line, *doc.lines[li + 1 :]), flaws=doc.flaws + ambiguous
    )
    return propagate(changed, (li, pi + 1), change)
