"""Step-labelled user data (`prepare.dataset: process`): rows -> question, steps, step labels.

Step labels are +1 (correct), 0 (neutral) or -1 (wrong), as PRM800K rates steps; booleans map
to +1 / -1 and Math-Shepherd's `+` / `-` tags likewise. `neutral` decides what a 0 becomes:
`correct` (+1, the default, as ProcessBench counts it), `wrong` (-1) or `keep` (0: a step that
neither counts as correct nor ends the solution's correct prefix).

Formats (the column mapping of each):

- `prm800k` (openai/prm800k phase files): `question.problem`; `label.steps[i]`: the step is
  `human_completion` when set, else `completions[chosen_completion]` (else `completions[0]`),
  with its `text` and `rating` (+1 / 0 / -1). Where no completion was chosen at the last step
  (the labeller stopped at a wrong one), the first completion rated -1 is taken.
- `math_shepherd` (peiyi9979/Math-Shepherd): `input` holds the question and its steps, each step
  ended by the tag `ки`; `label` is the same text with every tag replaced by `+` or `-`. The
  question is the text before the first `Step 1:`.
- `custom`: flat rows with `columns: {question, steps, labels}` (a list of step strings and a
  list of labels of the same length; defaults `question`, `steps`, `labels`), e.g. TRL's
  stepwise-supervision `prompt` / `completions` / `labels`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewardpipe.errors import UserError

PROCESS_FORMATS = ("prm800k", "math_shepherd", "custom")
NEUTRAL = ("correct", "wrong", "keep")
SHEPHERD_TAG = "ки"
CUSTOM_COLUMNS = {"question": "question", "steps": "steps", "labels": "labels"}
_STEP_ONE = re.compile(r"Step\s*1\s*:")


@dataclass(frozen=True)
class StepItem:
    """A question with a solution split into steps and one label per step (+1 / 0 / -1)."""

    prompt: str
    steps: tuple[str, ...]
    labels: tuple[int, ...]

    @property
    def solution(self) -> str:
        return "\n".join(self.steps)


def detect_format(columns: list[str], origin: str) -> str:
    """The format a row's columns look like (`custom` needs a mapping, so it is never guessed)."""
    cols = set(columns)
    if {"question", "label"} <= cols and "input" not in cols:
        return "prm800k"
    if {"input", "label"} <= cols:
        return "math_shepherd"
    if {"question", "steps", "labels"} <= cols or {"prompt", "completions", "labels"} <= cols:
        return "custom"
    raise UserError(
        f"{origin}: columns {', '.join(sorted(cols)) or '(none)'}: expected PRM800K rows "
        "(question, label), Math-Shepherd rows (input, label) or question/steps/labels columns "
        "(prepare.columns maps other names)"
    )


def label_value(value: Any, where: str) -> int:
    """+1 / 0 / -1 from an int rating, a bool or a `+` / `-` tag."""
    if isinstance(value, bool):
        return 1 if value else -1
    if isinstance(value, int) and value in (-1, 0, 1):
        return value
    if isinstance(value, float) and value in (-1.0, 0.0, 1.0):
        return int(value)
    if value in ("+", "-"):
        return 1 if value == "+" else -1
    raise UserError(
        f"{where}: expected a step label +1, 0 or -1 (or true/false, '+'/'-'), got {value!r}"
    )


def resolve_neutral(labels: tuple[int, ...], neutral: str) -> tuple[int, ...]:
    if neutral not in NEUTRAL:
        raise UserError(f"prepare.neutral: expected one of {', '.join(NEUTRAL)}, got {neutral!r}")
    fill = {"correct": 1, "wrong": -1, "keep": 0}[neutral]
    return tuple(fill if label == 0 else label for label in labels)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _prm800k(row: Mapping[str, Any], where: str) -> tuple[str, list[str], list[int]]:
    question = row.get("question")
    if not isinstance(question, Mapping):
        raise UserError(f"{where}: question: expected an object with 'problem', got {question!r}")
    prompt = _text(question.get("problem"), f"{where}: question.problem")
    label = row.get("label")
    raw_steps = label.get("steps") if isinstance(label, Mapping) else None
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UserError(
            f"{where}: label.steps: expected a non-empty list of steps, got {raw_steps!r}"
        )
    steps, labels = [], []
    for j, step in enumerate(raw_steps):
        at = f"{where}: label.steps[{j}]"
        if not isinstance(step, Mapping):
            raise UserError(f"{at}: expected an object with completions, got {step!r}")
        chosen = step.get("human_completion")
        if chosen is None:
            completions = step.get("completions")
            if not isinstance(completions, list) or not completions:
                raise UserError(f"{at}.completions: expected a non-empty list, got {completions!r}")
            index = step.get("chosen_completion")
            if index is None and len(completions) > 1 and j < len(raw_steps) - 1:
                raise UserError(
                    f"{at}.chosen_completion: expected the index of the completion the solution "
                    f"continues with ({len(completions)} completions), got None"
                )
            if index is None:  # the last step: the labeller stopped at a wrong completion
                wrong = [k for k, c in enumerate(completions) if _rating(c) == -1]
                index = wrong[0] if wrong else 0
            if not isinstance(index, int) or not 0 <= index < len(completions):
                raise UserError(
                    f"{at}.chosen_completion: expected an index below {len(completions)}, got {index!r}"
                )
            chosen = completions[index]
        if not isinstance(chosen, Mapping):
            raise UserError(
                f"{at}: expected a completion object with text and rating, got {chosen!r}"
            )
        steps.append(_text(chosen.get("text"), f"{at}: text"))
        labels.append(label_value(chosen.get("rating"), f"{at}: rating"))
    return prompt, steps, labels


def _rating(completion: Any) -> Any:
    return completion.get("rating") if isinstance(completion, Mapping) else None


def _math_shepherd(
    row: Mapping[str, Any], columns: Mapping[str, str], where: str
) -> tuple[str, list[str], list[int]]:
    col_in, col_label = columns.get("input", "input"), columns.get("label", "label")
    text = _text(row.get(col_in), f"{where}: {col_in}")
    tagged = _text(row.get(col_label), f"{where}: {col_label}")
    pieces = text.split(SHEPHERD_TAG)
    if len(pieces) < 2:
        raise UserError(
            f"{where}: {col_in}: expected steps each ended by {SHEPHERD_TAG!r}, found none"
        )
    pos, labels = 0, []
    for j, piece in enumerate(pieces[:-1]):
        if tagged[pos : pos + len(piece)] != piece or pos + len(piece) >= len(tagged):
            raise UserError(
                f"{where}: {col_label}: expected {col_in} with each {SHEPHERD_TAG!r} replaced by "
                f"'+' or '-'; it differs before step {j + 1}"
            )
        pos += len(piece)
        labels.append(label_value(tagged[pos], f"{where}: {col_label}: step {j + 1}"))
        pos += 1
    first = pieces[0]
    match = _STEP_ONE.search(first)
    if match is None:
        raise UserError(f"{where}: {col_in}: expected the question followed by 'Step 1:'")
    prompt = _text(first[: match.start()], f"{where}: {col_in}: question")
    steps = [first[match.start() :], *pieces[1:-1]]
    return (
        prompt,
        [_text(s, f"{where}: {col_in}: step {j + 1}") for j, s in enumerate(steps)],
        labels,
    )


def _custom(
    row: Mapping[str, Any], columns: Mapping[str, str], where: str
) -> tuple[str, list[str], list[int]]:
    cols = {**CUSTOM_COLUMNS, **columns}
    if "prompt" in row and cols["question"] not in row and "question" not in columns:
        cols = {**cols, "question": "prompt"}
    if "completions" in row and cols["steps"] not in row and "steps" not in columns:
        cols = {**cols, "steps": "completions"}
    prompt = _text(row.get(cols["question"]), f"{where}: {cols['question']}")
    raw_steps, raw_labels = row.get(cols["steps"]), row.get(cols["labels"])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UserError(
            f"{where}: {cols['steps']}: expected a non-empty list of steps, got {raw_steps!r}"
        )
    if not isinstance(raw_labels, list) or len(raw_labels) != len(raw_steps):
        raise UserError(
            f"{where}: {cols['labels']}: expected a list of {len(raw_steps)} step labels "
            f"(one per step), got {raw_labels!r}"
        )
    steps = [_text(s, f"{where}: {cols['steps']}[{j}]") for j, s in enumerate(raw_steps)]
    labels = [label_value(v, f"{where}: {cols['labels']}[{j}]") for j, v in enumerate(raw_labels)]
    return prompt, steps, labels


def to_step_items(
    rows: list[dict[str, Any]],
    fmt: str,
    origin: str,
    *,
    columns: Mapping[str, str] | None = None,
    neutral: str = "correct",
    strict: bool = True,
) -> tuple[list[StepItem], int]:
    """Rows of `fmt` -> StepItems (neutral labels resolved). `strict`: the first bad row raises
    `file:row: field: expected ...`; otherwise bad rows are skipped. Returns (items, skipped)."""
    if fmt not in PROCESS_FORMATS:
        raise UserError(
            f"{origin}: format: expected one of {', '.join(PROCESS_FORMATS)}, got {fmt!r}"
        )
    columns = columns or {}
    items, skipped = [], 0
    for i, row in enumerate(rows, start=1):
        where = f"{origin}:{i}"
        try:
            if not isinstance(row, Mapping):
                raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
            if fmt == "prm800k":
                prompt, steps, labels = _prm800k(row, where)
            elif fmt == "math_shepherd":
                prompt, steps, labels = _math_shepherd(row, columns, where)
            else:
                prompt, steps, labels = _custom(row, columns, where)
        except UserError:
            if strict:
                raise
            skipped += 1
            continue
        items.append(StepItem(prompt, tuple(steps), resolve_neutral(tuple(labels), neutral)))
    return items, skipped
