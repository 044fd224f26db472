"""Predictions mode: score a policy's own completions (one per question) against references."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardpipe.data.solution import final_answer, format_number
from rewardpipe.errors import UserError, at
from rewardpipe.evaluation.selection import METRICS, candidate_metrics, summarize
from rewardpipe.io import atomic_path, iter_jsonl, write_jsonl

QUESTION_FIELDS = ("question", "prompt")
ANSWER_FIELDS = ("answer", "reference")
COMPLETION_FIELDS = ("completion", "prediction", "output")
# Record keys, also the CSV column order.
RECORD_FIELDS = ("id", "extracted", "reference", *METRICS)

__all__ = [
    "load_predictions",
    "score_predictions",
    "write_records_csv",
    "write_records_jsonl",
]


def _pick(row: dict[str, Any], names: Sequence[str], where: str) -> tuple[str, Any]:
    """(field name, value) of the first of `names` present and not null."""
    for name in names:
        if row.get(name) is not None:
            return name, row[name]
    raise UserError(f"{where}: {' or '.join(names)}: missing (expected one of these fields)")


def reference_answer(answer: Any, where: str) -> str:
    """Final answer from a GSM8K solution ending in `#### N`, a bare answer string, or a number."""
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        return str(answer) if isinstance(answer, int) else format_number(answer)
    if not isinstance(answer, str):
        raise UserError(f"{where}: expected a string or a number, got {type(answer).__name__}")
    final = final_answer(answer)
    if final is not None:
        return final.strip()
    bare = answer.strip()
    if not bare or "\n" in bare:
        raise UserError(
            f"{where}: expected a GSM8K solution ending in '#### N' or a bare final answer"
        )
    return bare


def load_predictions(path: str | Path) -> list[dict[str, Any]]:
    """Rows `{"id", "question", "reference", "completion"}` from a JSONL predictions file.

    Accepts `question`/`prompt`, `answer`/`reference` and `completion`/`prediction`/`output`; `id`
    defaults to the line number. A bad row raises UserError `file:row: field: what was expected`.
    """
    rows = []
    for i, raw in iter_jsonl(path):
        q_field, question = _pick(raw, QUESTION_FIELDS, at(path, i))
        if not isinstance(question, str):
            raise UserError(f"{at(path, i, q_field)}: expected a string")
        a_field, answer = _pick(raw, ANSWER_FIELDS, at(path, i))
        c_field, completion = _pick(raw, COMPLETION_FIELDS, at(path, i))
        if not isinstance(completion, str):
            raise UserError(
                f"{at(path, i, c_field)}: expected a string (one completion per question)"
            )
        rows.append(
            {
                "id": str(raw.get("id", i)),
                "question": question,
                "reference": reference_answer(answer, at(path, i, a_field)),
                "completion": completion,
            }
        )
    if not rows:
        raise UserError(f"{path}: no predictions (expected JSONL rows with a completion each)")
    return rows


def score_predictions(
    rows: Sequence[dict[str, Any]], *, partial_tolerance: float = 0.1, answer_format: str = "gsm8k"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-example records and a summary `{"n", metric: {"value", "count"}}` of the four metrics."""
    if not rows:
        raise UserError("no predictions to score: the input is empty")
    records = []
    for row in rows:
        scored = candidate_metrics(
            row["completion"],
            row["reference"],
            partial_tolerance=partial_tolerance,
            answer_format=answer_format,
        )
        records.append(
            {"id": row["id"], "extracted": scored["extracted"], "reference": row["reference"]}
            | {name: bool(scored[name]) for name in METRICS}
        )
    matrix = np.array([[float(r[m]) for m in METRICS] for r in records], dtype=np.float64)
    return records, summarize(matrix)


def write_records_csv(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Flat dicts to CSV (columns in first-seen key order, None as empty), written atomically."""
    columns: dict[str, None] = {}
    for rec in records:
        columns.update(dict.fromkeys(rec))
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), restval="")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if v is None else v for k, v in rec.items()})


def write_records_jsonl(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    """One JSON object per line, written atomically."""
    write_jsonl(path, records)
