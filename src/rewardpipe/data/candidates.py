"""External candidates files: sampled solutions from a user's policy, labelled if needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardpipe.answers import extract_answer, numeric_match
from rewardpipe.data.solution import final_answer
from rewardpipe.data.split import fold, stable_id
from rewardpipe.errors import UserError
from rewardpipe.io import read_jsonl


def reference_answer(answer: str) -> str:
    """A GSM8K solution's `#### N` value, or the string itself when it is a bare answer."""
    return (final_answer(answer) or answer).strip()


def label_of(text: str, reference: str) -> bool:
    """Correct when the candidate's extracted final answer equals the reference numerically."""
    return numeric_match(extract_answer(text), reference)


def load_candidates(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a candidates file; returns test-set rows
    `{"id", "prompt", "reference", "candidates": [{"text", "label", "source"}]}`."""
    rows = read_jsonl(path)
    if not rows:
        raise UserError(f"{path}: no rows (expected one JSON object per line)")
    sets = []
    for i, row in enumerate(rows, start=1):
        where = f"{path}:{i}"
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
        sets.append(
            {
                "id": str(row.get("id") or stable_id("c", f"{fold(prompt)}:{i}")),
                "prompt": prompt.strip(),
                "reference": reference,
                "candidates": candidates,
            }
        )
    return sets


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
