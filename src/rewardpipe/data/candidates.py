"""External candidates files: sampled solutions from a user's policy, labelled if needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardpipe.answers import extract_answer, numeric_match
from rewardpipe.data.solution import final_answer
from rewardpipe.data.split import fold, stable_id
from rewardpipe.errors import UserError
from rewardpipe.io import iter_jsonl


def reference_answer(answer: str) -> str:
    """A GSM8K solution's `#### N` value, or the string itself when it is a bare answer."""
    return (final_answer(answer) or answer).strip()


def label_of(text: str, reference: str) -> bool:
    """Correct when the candidate's extracted final answer equals the reference numerically."""
    return numeric_match(extract_answer(text), reference)


@dataclass
class Candidates:
    """A candidates file: one test-set row per question, and how many rows repeated a question."""

    sets: list[dict[str, Any]]
    duplicate_rows: int = 0


def load_candidates(path: str | Path) -> Candidates:
    """Read and check a candidates file into test-set rows
    `{"id", "prompt", "reference", "candidates": [{"text", "label", "source"}]}`. A row repeating
    an earlier question (after whitespace folding) is merged into it: its candidates join the set
    unless their text is already there, and it must give the same reference."""
    sets: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    labelled: dict[str, dict[str, tuple[bool, int]]] = {}  # question -> text -> (label, line)
    duplicates = 0
    for n, (line, row) in enumerate(iter_jsonl(path), start=1):
        where = f"{path}:{line}"
        prompt, reference, candidates = _read_row(row, where)
        key = fold(prompt)
        if key not in sets:
            sets[key] = {
                "id": str(row.get("id") or stable_id("c", f"{key}:{n}")),
                "prompt": prompt.strip(),
                "reference": reference,
                "candidates": candidates,
            }
            first_line[key] = line
            labelled[key] = {}
            for cand in candidates:
                labelled[key].setdefault(cand["text"], (cand["label"], line))
            continue
        duplicates += 1
        entry, seen = sets[key], labelled[key]
        if reference != entry["reference"] and not numeric_match(reference, entry["reference"]):
            raise UserError(
                f"{where}: answer: expected the reference of line {first_line[key]}, which has "
                f"the same question ({entry['reference']!r}), got {reference!r}"
            )
        for j, cand in enumerate(candidates):
            if cand["text"] not in seen:
                entry["candidates"].append(cand)
                seen[cand["text"]] = (cand["label"], line)
            elif seen[cand["text"]][0] != cand["label"]:
                label, other = seen[cand["text"]]
                raise UserError(
                    f"{where}: candidates[{j}].label: expected {str(label).lower()} as on line "
                    f"{other} for the same question and text, got {str(cand['label']).lower()}"
                )
    if not sets:
        raise UserError(f"{path}: no rows (expected one JSON object per line)")
    return Candidates(list(sets.values()), duplicates)


def _read_row(row: dict[str, Any], where: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(question, reference answer, candidates) of one row; a bad field raises `file:line: ...`."""
    prompt = row.get("question", row.get("prompt"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: question: expected a non-empty string (or 'prompt')")
    answer = row.get("answer", row.get("reference"))
    if (
        not isinstance(answer, str | int | float)
        or isinstance(answer, bool)
        or not str(answer).strip()
    ):
        raise UserError(
            f"{where}: answer: expected the reference solution or final answer (or 'reference')"
        )
    reference = reference_answer(str(answer))
    raw = row.get("candidates")
    if not isinstance(raw, list) or not raw:
        raise UserError(
            f"{where}: candidates: expected a non-empty list of strings or {{text, label}}"
        )
    candidates = []
    for j, cand in enumerate(raw):
        if isinstance(cand, str):
            cand = {"text": cand}
        if (
            not isinstance(cand, dict)
            or not isinstance(cand.get("text"), str)
            or not cand["text"].strip()
        ):
            raise UserError(
                f"{where}: candidates[{j}]: expected a string or an object with a non-empty 'text'"
            )
        label = cand.get("label")
        if label is None:
            label = label_of(cand["text"], reference)
        elif not isinstance(label, bool):
            raise UserError(
                f"{where}: candidates[{j}].label: expected true or false, got {label!r}"
            )
        candidates.append(
            {"text": cand["text"], "label": label, "source": str(cand.get("source", "sampled"))}
        )
    return prompt, reference, candidates


def pairs_from_candidates(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(correct, incorrect) pairs of one question: each incorrect candidate against a correct one,
    taken in turn, so every sampled mistake is used once."""
    correct = [c["text"] for c in row["candidates"] if c["label"]]
    wrong = [c["text"] for c in row["candidates"] if not c["label"]]
    if not correct:
        return []
    return [(correct[k % len(correct)], text) for k, text in enumerate(wrong)]


def pairs_to_sets(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs grouped by prompt into candidate sets (chosen: correct, rejected: not)."""
    sets: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        entry = sets.setdefault(
            pair["prompt"],
            {
                "id": pair["id"],
                "prompt": pair["prompt"],
                "reference": final_answer(pair["chosen"]) or "",
                "candidates": [],
            },
        )
        texts = {c["text"] for c in entry["candidates"]}
        for text, label, src in (
            (pair["chosen"], True, "chosen"),
            (pair["rejected"], False, pair.get("kind", "rejected")),
        ):
            if text not in texts:
                entry["candidates"].append({"text": text, "label": label, "source": src})
                texts.add(text)
    return list(sets.values())
