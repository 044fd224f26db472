"""Dataset formats: turn raw rows into problems (gsm8k) or preference pairs (preference, rubric)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rewardpipe.data.solution import final_answer, parse_number
from rewardpipe.errors import UserError

# Column names tried in order when a kind's column is not given in `prepare.columns`.
CANDIDATE_COLUMNS = {
    "question": ("question", "problem", "prompt", "query", "input"),
    "answer": ("answer", "solution", "output", "response"),
    "prompt": ("prompt", "question", "instruction", "query", "input", "context"),
    "chosen": ("chosen", "response_chosen", "chosen_response", "positive", "preferred", "winner"),
    "rejected": (
        "rejected",
        "response_rejected",
        "rejected_response",
        "negative",
        "dispreferred",
        "loser",
    ),
    "rubric": ("rubric", "rubrics", "criteria", "checklist"),
    "response": ("response", "completion", "output", "answer"),
    "score": ("score", "rating", "reward", "label"),
}
KIND_FIELDS = {
    "gsm8k": (("question", "answer"), ()),
    "preference": (("prompt", "chosen", "rejected"), ()),
    "rubric": (("prompt", "rubric"), ("chosen", "rejected", "response", "score")),
    "process": (("question", "steps", "labels"), ()),  # read by data.process_formats
}


@dataclass(frozen=True)
class Problem:
    """A question with a reference solution and its final answer (gsm8k kind)."""

    prompt: str
    solution: str
    answer: str


@dataclass(frozen=True)
class Pair:
    """A prompt with a preferred and a dispreferred response."""

    prompt: str
    chosen: str
    rejected: str


def load_custom_config(path: str | Path) -> tuple[str, dict[str, str]]:
    """A custom mapping file: `{format: gsm8k|preference|rubric|process, columns: {field: column}}`."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: prepare.custom_config file not found") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise UserError(f"{path}: columns: expected a mapping of field -> column name")
    fmt = data.get("format", "preference")
    if fmt not in KIND_FIELDS:
        raise UserError(f"{path}: format: expected one of {', '.join(KIND_FIELDS)}, got {fmt!r}")
    required, optional = KIND_FIELDS[fmt]
    unknown = sorted(set(data["columns"]) - set(required) - set(optional))
    if unknown:
        raise UserError(
            f"{path}: columns: unknown field(s) {', '.join(unknown)}; "
            f"{fmt} takes {', '.join(required + optional)}"
        )
    return fmt, {str(k): str(v) for k, v in data["columns"].items()}


def resolve_columns(
    kind: str, available: list[str], overrides: Mapping[str, str], origin: str
) -> dict[str, str]:
    """Field -> column, from overrides or detection; a missing required column is an error."""
    required, optional = KIND_FIELDS[kind]
    resolved = {}
    for name in required + optional:
        if name in overrides:
            if overrides[name] not in available:
                raise UserError(
                    f"{origin}: column {overrides[name]!r} (mapped to {name}) not found; "
                    f"columns are: {', '.join(available)}"
                )
            resolved[name] = overrides[name]
            continue
        taken = set(resolved.values())
        found = next(
            (c for c in CANDIDATE_COLUMNS[name] if c in available and c not in taken), None
        )
        if found is not None:
            resolved[name] = found
        elif name in required:
            raise UserError(
                f"{origin}: {name}: no column found (tried {', '.join(CANDIDATE_COLUMNS[name])}); "
                f"columns are: {', '.join(available) or '(none)'}; map it in prepare.columns"
            )
    return resolved


def flatten_chat(value: Any) -> str:
    """Chat message lists (`[{"role", "content"}]`) become `Role: content` lines; strings pass."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n".join(
            f"{str(m.get('role', 'user')).capitalize()}: {m['content']}" for m in value
        )
    return "" if value is None else str(value)


def split_chat(prompt: Any, response: Any) -> tuple[str, str]:
    """When a response is a whole conversation, its last assistant turn is the response and the
    turns before it extend the prompt (Anthropic-HH / UltraFeedback-binarized layout)."""
    if isinstance(response, list) and response and isinstance(response[-1], dict):
        last = response[-1]
        history = response[:-1]
        if isinstance(prompt, list) or not prompt:
            head = flatten_chat(history)
        else:
            head = flatten_chat(prompt)
        return head, str(last.get("content", ""))
    return flatten_chat(prompt), flatten_chat(response)


def _text(row: dict[str, Any], column: str, field: str, where: str) -> str:
    value = row.get(column)
    text = flatten_chat(value).strip() if value is not None else ""
    if not text:
        raise UserError(f"{where}: {field}: expected a non-empty value in column {column!r}")
    return text


def to_problems(rows: list[dict[str, Any]], columns: dict[str, str], origin: str, strict: bool):
    """GSM8K rows -> Problems. `strict`: a solution without a parseable `#### N` is an error;
    otherwise such rows are skipped. Returns (problems, skipped)."""
    problems, skipped = [], 0
    for i, row in enumerate(rows, start=1):
        where = f"{origin}:{i}"
        try:
            question = _text(row, columns["question"], "question", where)
            solution = _text(row, columns["answer"], "answer", where)
            answer = final_answer(solution)
            if answer is None or parse_number(answer) is None:
                raise UserError(
                    f"{where}: answer: expected a solution ending in a line '#### N' with a number N, "
                    f"got ...{solution[-60:]!r}"
                )
        except UserError:
            if strict:
                raise
            skipped += 1
            continue
        problems.append(Problem(question, solution, answer))
    return problems, skipped


def to_pairs(
    rows: list[dict[str, Any]], columns: dict[str, str], origin: str, kind: str, strict: bool
):
    """Preference or rubric rows -> Pairs. Returns (pairs, skipped)."""
    if kind == "rubric" and not ("chosen" in columns and "rejected" in columns):
        return _rubric_scored_pairs(rows, columns, origin, strict)
    pairs, skipped = [], 0
    for i, row in enumerate(rows, start=1):
        where = f"{origin}:{i}"
        try:
            prompt, chosen = split_chat(row.get(columns["prompt"]), row.get(columns["chosen"]))
            _, rejected = split_chat(row.get(columns["prompt"]), row.get(columns["rejected"]))
            for field, value, col in (
                ("prompt", prompt, columns["prompt"]),
                ("chosen", chosen, columns["chosen"]),
                ("rejected", rejected, columns["rejected"]),
            ):
                if not value.strip():
                    raise UserError(
                        f"{where}: {field}: expected a non-empty value in column {col!r}"
                    )
            if kind == "rubric":
                prompt = with_rubric(prompt, _text(row, columns["rubric"], "rubric", where))
        except UserError:
            if strict:
                raise
            skipped += 1
            continue
        pairs.append(Pair(prompt.strip(), chosen.strip(), rejected.strip()))
    return pairs, skipped


def with_rubric(prompt: str, rubric: str) -> str:
    return f"Rubric:\n{rubric}\n\nPrompt:\n{prompt}"


def _rubric_scored_pairs(rows, columns, origin, strict):
    """Rows of (prompt, rubric, response, score): every higher-scored response of a prompt is
    paired with every lower-scored one."""
    for needed in ("response", "score"):
        if needed not in columns:
            raise UserError(
                f"{origin}: {needed}: rubric data needs chosen/rejected columns or response + score "
                "columns; map them in prepare.columns"
            )
    groups: dict[str, list[tuple[float, str]]] = {}
    skipped = 0
    for i, row in enumerate(rows, start=1):
        where = f"{origin}:{i}"
        try:
            prompt = with_rubric(
                _text(row, columns["prompt"], "prompt", where),
                _text(row, columns["rubric"], "rubric", where),
            )
            response = _text(row, columns["response"], "response", where)
            score = row.get(columns["score"])
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise UserError(
                    f"{where}: score: expected a number in column {columns['score']!r}, got {score!r}"
                )
        except UserError:
            if strict:
                raise
            skipped += 1
            continue
        groups.setdefault(prompt, []).append((float(score), response))
    pairs = []
    for prompt, scored in groups.items():
        for s_hi, hi in scored:
            for s_lo, lo in scored:
                if s_hi > s_lo:
                    pairs.append(Pair(prompt, hi, lo))
    return pairs, skipped
