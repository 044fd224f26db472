"""Synthesized wrong solutions (negatives) for GSM8K-format data.

Each kind makes one plausible mistake in a reference solution. A changed value is propagated
through every later calculation (`<<expr=value>>` annotations with the visible expression before
and the number after them, and plain written equations such as `20/4 = $5`), cascading, into the
final `#### N`, so the negative stays internally consistent: only the intended mistake is wrong
(for `arithmetic`, the one slipped result). Among the candidate mistakes the first one without a
give-away (negative or fractional values the reference does not have, huge numbers, a visible
expression that could not follow) is taken. Parsing and propagation live in `solution_edit`.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import islice, pairwise
from typing import Any

from rewardpipe.data.solution import (
    final_answer,
    format_number,
    parse_number,
    safe_eval,
    split_final,
    values_match,
)
from rewardpipe.data.solution_edit import (
    CANONICAL,
    NUM,
    Calc,
    Doc,
    Line,
    binary_ops,
    lookup,
    numbers,
    parse,
    perturbed,
    propagate,
    replace_at,
    restate,
    styled,
    sub_numbers,
    token_value,
    with_value,
)
from rewardpipe.errors import UserError
from rewardpipe.params import NEGATIVE_KINDS
from rewardpipe.params import check_negative_kinds as check_weights

KINDS = NEGATIVE_KINDS

# Operator mix-ups: the inverse operation first, then adding for multiplying and the like.
_SWAPS = {"+": ("-", "*"), "-": ("+", "/"), "*": ("/", "+"), "/": ("*", "-")}
_OPENERS = ("So", "Then", "That means", "After that,", "Next,", "This makes", "Now")
_MAX_TRIES = 30  # candidates examined per make_negative call


# ---------------------------------------------------------------------------------------------
# Public API


def make_negative(
    kind: str, question: str, solution: str, rng: random.Random, pool: Sequence[str] = ()
) -> str | None:
    """One wrong solution of `kind` whose final answer differs from the reference's, or None when
    the kind does not apply (`pool`: other solutions, for `foreign`)."""
    if kind not in KINDS:
        raise UserError(f"negative kind {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "foreign":
        return _foreign(solution, rng, pool)
    doc = parse(solution)
    if doc is None:
        return None
    makers: dict[str, Callable[[Doc, str, random.Random], Iterator[Doc | None]]] = {
        "final_answer": _final_answer,
        "arithmetic": _arithmetic,
        "operator": _operator,
        "quantity": _quantity,
        "extra_step": _extra_step,
        "drop_step": _drop_step,
    }
    doc = replace(doc, given=tuple(q for q, _ in _question_numbers(question)))
    # Same-length kinds lean, at random, towards a longer or a shorter negative so that
    # length carries no signal on average.
    lean = rng.choice((-1, 1)) if kind in ("arithmetic", "operator", "quantity") else 0
    return _choose(makers[kind](doc, question, rng), doc, lean)


def sample_negatives(
    question: str,
    solution: str,
    k: int,
    weights: Mapping[str, float],
    rng: random.Random,
    pool: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """Up to `k` distinct `(kind, text)` negatives, kinds drawn by weight without replacement
    first, then with replacement; final answers differ from each other where possible."""
    check_weights(weights)
    kinds = [name for name in KINDS if weights.get(name, 0) > 0]
    reference = parse_number(final_answer(solution) or "")
    chosen: list[tuple[str, str]] = []
    spare: list[tuple[str, str]] = []  # valid but repeating an answer already taken
    texts = {solution.strip()}
    answers: list[float] = [] if reference is None else [reference]
    failed: set[str] = set()

    def attempt(kind: str) -> None:
        text = make_negative(kind, question, solution, rng, pool)
        if text is None:
            failed.add(kind)
            return
        if text.strip() in texts:
            return
        texts.add(text.strip())
        value = parse_number(final_answer(text) or "")
        if value is not None and any(values_match(value, a) for a in answers):
            spare.append((kind, text))
            return
        if value is not None:
            answers.append(value)
        chosen.append((kind, text))

    remaining = list(kinds)
    while len(chosen) < k and remaining:
        attempt(remaining.pop(_draw(rng, remaining, weights)))
    for _ in range(2 * k * len(kinds)):
        open_kinds = [name for name in kinds if name not in failed]
        if len(chosen) >= k or not open_kinds:
            break
        attempt(open_kinds[_draw(rng, open_kinds, weights)])
    return chosen + spare[: max(0, k - len(chosen))]


def length_audit(pairs: Iterable[tuple[str, str]]) -> dict[str, float | int | None]:
    """Length-shortcut audit over (chosen, rejected) texts; ties count half.

    `chosen_longer_chars`: share where chosen has more characters; `chosen_more_steps`: share
    where it has more step lines; `longer_rule_accuracy`: accuracy of picking the longer text
    (more steps, then more characters). Values near 0.5 mean length says nothing.
    """
    n, chars, steps, rule = 0, 0.0, 0.0, 0.0
    for chosen, rejected in pairs:
        n += 1
        c_steps, r_steps = _step_count(chosen), _step_count(rejected)
        chars += _share(len(chosen), len(rejected))
        steps += _share(c_steps, r_steps)
        rule += _share((c_steps, len(chosen)), (r_steps, len(rejected)))
    if n == 0:
        return {
            "chosen_longer_chars": None,
            "chosen_more_steps": None,
            "longer_rule_accuracy": None,
            "pairs": 0,
        }
    return {
        "chosen_longer_chars": chars / n,
        "chosen_more_steps": steps / n,
        "longer_rule_accuracy": rule / n,
        "pairs": n,
    }


def _share(a: Any, b: Any) -> float:
    return 1.0 if a > b else 0.5 if a == b else 0.0


def _step_count(text: str) -> int:
    return sum(1 for line in split_final(text)[0] if line.strip())


def _draw(rng: random.Random, kinds: list[str], weights: Mapping[str, float]) -> int:
    """Index of a kind drawn with probability proportional to its weight."""
    x = rng.random() * sum(weights[name] for name in kinds)
    for i, name in enumerate(kinds):
        x -= weights[name]
        if x < 0:
            return i
    return len(kinds) - 1


# ---------------------------------------------------------------------------------------------
# Choosing among candidates


def _choose(candidates: Iterator[Doc | None], ref: Doc, lean: int = 0) -> str | None:
    """The first candidate without unnatural traits whose length does not go against `lean`
    (+1 longer, -1 shorter than the reference), else the most natural; None if none is valid."""
    best, best_key = None, (math.inf, math.inf)
    size = len(ref.render())
    for doc in islice(candidates, _MAX_TRIES):
        if doc is None or not _valid(doc, ref):
            continue
        text = doc.render()
        key = (_unnatural(doc, ref), int(lean * (len(text) - size) < 0))
        if key == (0, 0):
            return text
        if key < best_key:
            best, best_key = text, key
    return best


def _all_values(doc: Doc) -> list[float]:
    values = [c.number for _, _, c in doc.calcs()] + [parse_number(doc.final)]
    return [v for v in values if v is not None]


def _valid(doc: Doc, ref: Doc) -> bool:
    """A different, finite final answer, and no negative one where the reference has none."""
    new, old = parse_number(doc.final), parse_number(ref.final)
    return (
        new is not None
        and old is not None
        and math.isfinite(new)
        and not values_match(new, old)
        and not values_match(old, new)
        and all(math.isfinite(v) for v in _all_values(doc))
        and (new >= 0 or any(v < 0 for v in _all_values(ref)))
    )


def _is_int(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _unnatural(doc: Doc, ref: Doc) -> int:
    """Count traits that would give a negative away next to its reference."""
    values, ref_values = _all_values(doc), _all_values(ref)
    final, ref_final = parse_number(doc.final) or 0.0, parse_number(ref.final) or 0.0
    score = doc.flaws
    if all(v >= 0 for v in ref_values) and any(v < 0 for v in values):
        score += 1
    if all(_is_int(v) for v in ref_values) and not all(_is_int(v) for v in values):
        score += 1
    if _is_int(ref_final) and not _is_int(final):
        score += 1
    limit = max(1e6, 1000 * max((abs(v) for v in ref_values), default=0.0))
    if any(abs(v) > limit for v in values):
        score += 1
    if abs(final) < 1e-9 and abs(ref_final) > 1e-9:
        score += 1
    return score


def _shuffled(items: Iterable, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


# ---------------------------------------------------------------------------------------------
# Kinds


def _slips(text: str, rng: random.Random, *, same_length: bool) -> list[str]:
    """Plausible wrong versions of a written number, most natural groups first (random order)."""
    value = parse_number(text)
    if value is None:
        return []
    plain = format_number(value)
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    unit = 10.0**-decimals

    def fmt(x: float) -> str:
        return format_number(round(x, decimals))

    digits = [i for i, ch in enumerate(plain) if ch.isdigit()]
    near = [fmt(value + d * unit) for d in (1, -1, 2, -2, 3, -3, 10, -10)]
    swaps = [
        plain[:i] + plain[j] + plain[i] + plain[j + 1 :]
        for i, j in pairwise(digits)
        if j == i + 1 and plain[i] != plain[j]
    ]
    changed = [
        plain[:i] + str((int(plain[i]) + d) % 10) + plain[i + 1 :] for i in digits for d in (1, -1)
    ]
    groups = [near, swaps, changed]
    if not same_length:
        body = plain.lstrip("-")
        scale = [fmt(value * 10)]
        if _is_int(value) and round(value) % 10 == 0 and value != 0:
            scale.append(fmt(value / 10))
        elif len(body) > 1:  # a dropped digit
            i = rng.randrange(1, len(body))
            scale.append(plain[: len(plain) - len(body)] + body[:i] + body[i + 1 :])
        groups.append(scale)
    out: list[str] = []
    for group in _shuffled(groups, rng):
        for cand in _shuffled(group, rng):
            new = parse_number(cand)
            if (
                new is None
                or values_match(new, value)
                or (value >= 0 > new)
                or cand in out
                or (len(cand) > 1 and cand.lstrip("-")[0] == "0" and cand.lstrip("-")[1] != ".")
                or (same_length and len(cand) != len(plain))
            ):
                continue
            out.append(cand)
    if "," in text:
        out = [styled(parse_number(c) or 0.0, text) for c in out]
    return out


def _final_answer(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    for text in _slips(doc.final, rng, same_length=True):
        yield replace(doc, final=text)


def _arithmetic(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    for li, pi, calc in _shuffled(doc.calcs(), rng):
        for text in _slips(calc.value, rng, same_length=False)[:3]:
            new = replace(calc, value=text, result=text if calc.result else "")
            yield perturbed(doc, li, pi, new, calc)


def _recomputed(calc: Calc, expr: str, shown: str) -> Calc | None:
    value = safe_eval(expr)
    if value is None or not math.isfinite(value):
        return None
    return with_value(calc, value, expr=expr, shown=shown)


def _operator(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    options, blind = [], []  # blind: the visible expression cannot follow the swap
    for li, pi, calc in doc.calcs():
        ops, shown_ops = binary_ops(calc.expr), binary_ops(calc.shown)
        follows = not calc.shown or (calc.aligned and len(shown_ops) == len(ops))
        for i, m in enumerate(ops):
            for new_op in _SWAPS.get(CANONICAL.get(m.group(), m.group()), ()):
                (options if follows else blind).append((li, pi, calc, i, new_op, follows))
    for li, pi, calc, i, new_op, follows in _shuffled(options, rng) + _shuffled(blind, rng):
        expr = replace_at(calc.expr, binary_ops(calc.expr)[i], new_op)
        shown = calc.shown
        if shown and follows:
            shown_ops = binary_ops(shown)
            shown = replace_at(shown, shown_ops[i], _written_op(new_op, shown_ops))
        new = _recomputed(calc, expr, shown)
        base = doc if follows else replace(doc, flaws=doc.flaws + 1)
        yield None if new is None else perturbed(base, li, pi, new, calc)


def _written_op(op: str, seen: list[re.Match[str]]) -> str:
    """`op` in the symbols a visible expression already uses (`x`, `×`, `÷`, `−`)."""
    for m in seen:
        if CANONICAL.get(m.group()) == op:
            return m.group()
    return op


def _question_numbers(question: str) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    for m in NUM.finditer(question):
        value = token_value(m.group())
        if not any(values_match(value, v) for v, _ in found):
            found.append((value, format_number(value)))
    return found


def _quantity(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    quantities = _question_numbers(question)
    ranked: list[list] = [[], [], []]  # operand from the question / other operand / stale view
    for li, pi, calc in doc.calcs():
        for i, operand in enumerate(numbers(calc.expr)):
            from_question = any(values_match(operand, q) for q, _ in quantities)
            rank = 2 if not calc.aligned else 0 if from_question else 1
            for q, q_text in quantities:
                if not values_match(q, operand):
                    ranked[rank].append((li, pi, calc, i, q_text))
    for li, pi, calc, i, q_text in [o for group in ranked for o in _shuffled(group, rng)]:
        shown = sub_numbers(calc.shown, {i: q_text}) if calc.aligned else calc.shown
        new = _recomputed(calc, sub_numbers(calc.expr, {i: q_text}), shown)
        base = doc if calc.aligned else replace(doc, flaws=doc.flaws + 1)
        yield None if new is None else perturbed(base, li, pi, new, calc)


def _carried(calc: Calc, history: list[float]) -> int | None:
    """Index of the operand that carries an earlier step's result (most recent first)."""
    operands = numbers(calc.expr)
    for past in reversed(history):
        for i, operand in enumerate(operands):
            if values_match(operand, past):
                return i
    return None


def _extra_step(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    calcs = doc.calcs()
    used = [v for _, _, c in calcs for v in numbers(c.expr)]
    unused = [
        text
        for q, text in _question_numbers(question)
        if q not in (0, 1) and not any(values_match(q, u) for u in used)
    ]
    anchors = [
        (n, li, pi, c)
        for n, (li, pi, c) in enumerate(calcs)
        if c.aligned
        and c.number is not None
        and sum(isinstance(p, Calc) for p in doc.lines[li]) == 1
    ]
    for n, li, pi, anchor in _shuffled(anchors, rng):
        value = anchor.value.replace(",", "")
        # Re-apply the anchor's operation to its own result, or combine it with an unused quantity.
        options = [
            (f"{value}{op}{q}", _styled_expr(value, op, q, anchor.shown))
            for q in unused
            for op in "+-*/"
        ]
        if numbers(anchor.expr):
            history = [c.number for _, _, c in calcs[:n] if c.number is not None]
            i = _carried(anchor, history) or 0
            options.append(
                (sub_numbers(anchor.expr, {i: value}), sub_numbers(anchor.shown, {i: value}))
            )
        for expr, shown in _shuffled(options, rng)[:3]:
            new = _recomputed(anchor, expr, shown)
            if new is None or new.number is None or values_match(new.number, anchor.number or 0.0):
                yield None
                continue
            line = _extra_line(doc.lines[li], pi, anchor, new, rng)
            line = restate(line, [(anchor.number or 0.0, new.value)], doc.given)
            grown = replace(doc, lines=(*doc.lines[: li + 1], line, *doc.lines[li + 1 :]))
            yield propagate(grown, (li + 2, 0), [(anchor.number or 0.0, new.value)])


def _styled_expr(left: str, op: str, right: str, like: str) -> str:
    """`left op right` spaced and with the multiplication sign as in the visible `like`."""
    if op == "*" and re.search(r"\d\s*x\s*\d", like):
        op = "x"
    sep = " " if re.search(r"\d\s+[-+*/x×÷]\s+\d", like) else ""
    return f"{left}{sep}{op}{sep}{right}"


def _extra_line(line: Line, pi: int, anchor: Calc, new: Calc, rng: random.Random) -> Line:
    """The anchor's line with the new calculation, or a short connective line ending like it."""
    if rng.random() < 0.5:
        return (*line[:pi], new if anchor.shown else replace(new, shown=""), *line[pi + 1 :])
    joint = anchor.joint if anchor.shown else " = "
    tail = tuple(p for p in line[pi + 1 :] if isinstance(p, str))
    new = replace(new, shown=new.shown or new.expr, joint=joint)
    return (f"{rng.choice(_OPENERS)} ", new, *tail)


def _drop_step(doc: Doc, question: str, rng: random.Random) -> Iterator[Doc | None]:
    calcs = doc.calcs()
    calc_lines = sorted({li for li, _, _ in calcs})
    if len(calc_lines) < 2:
        return
    for li in _shuffled(calc_lines, rng):
        history = [c.number for l2, _, c in calcs if l2 < li and c.number is not None]
        changes: list[tuple[float, str]] = []
        for _, _, calc in (t for t in calcs if t[0] == li):
            replacement = _skipped_value(calc, history, last=li == calc_lines[-1])
            if calc.number is None or replacement is None:
                continue
            changes.append((calc.number, lookup(changes, token_value(replacement)) or replacement))
            history.append(calc.number)
        lines = (*doc.lines[:li], *doc.lines[li + 1 :])
        yield propagate(replace(doc, lines=lines), (li, 0), changes) if changes else None


def _skipped_value(calc: Calc, history: list[float], last: bool) -> str | None:
    """What a solver who skipped `calc` carries on with: the earlier result it built on, the
    previous result when it was the last step, else its first operand."""
    operands = [m.group().replace(",", "") for m in NUM.finditer(calc.expr)]
    carried = _carried(calc, history)
    if carried is not None:
        return operands[carried]
    if last and history:
        return format_number(history[-1])
    if not operands:
        return None
    ops = binary_ops(calc.expr)
    if ops and CANONICAL.get(ops[0].group()) == "*":  # `2*1750`: the quantity, not the factor
        return max(operands, key=token_value)
    return operands[0]


def _foreign(solution: str, rng: random.Random, pool: Sequence[str]) -> str | None:
    reference = parse_number(final_answer(solution) or "")
    if reference is None or not pool:
        return None
    for _ in range(_MAX_TRIES):
        text = pool[rng.randrange(len(pool))].strip()
        value = parse_number(final_answer(text) or "")
        if text != solution.strip() and value is not None and not values_match(value, reference):
            return text
    return None
