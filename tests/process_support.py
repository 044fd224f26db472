"""Step-labelled rows for tests: the small PRM800K / Math-Shepherd fixtures, grown into many
questions that each have every fixture solution (so a question has correct and wrong ones)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FILES = {"prm800k": "prm800k_small.jsonl", "math_shepherd": "math_shepherd_small.jsonl"}


def fixture_rows(fmt: str) -> list[dict]:
    lines = (FIXTURES / FILES[fmt]).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def grown_rows(fmt: str, questions: int) -> list[dict]:
    """`questions` questions, each with every fixture row's solution under it."""
    out = []
    for k in range(questions):
        prompt = f"Question number {k}: how many are there in all?"
        for row in fixture_rows(fmt):
            row = copy.deepcopy(row)
            if fmt == "prm800k":
                row["question"]["problem"] = prompt
            else:
                head = row["input"].split("Step 1:", 1)[0]
                row["input"] = row["input"].replace(head, prompt + " ", 1)
                row["label"] = row["label"].replace(head, prompt + " ", 1)
            out.append(row)
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path
