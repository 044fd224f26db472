"""evaluation.process_eval: the eval.json `process` section from step rows and candidate sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardpipe.errors import UserError
from rewardpipe.evaluation.process_eval import evaluate_process, read_step_rows


class FakeScorer:
    """A step's score: 0.9 unless its text says "wrong" (then 0.1)."""

    def score(self, prompts, steps, batch_size=64):
        return [np.array([0.1 if "wrong" in s else 0.9 for s in row]) for row in steps]


def _write(folder, split, rows):
    folder.mkdir(exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _rows(n):
    rows = []
    for i in range(n):
        rows.append({"prompt": f"q{i}", "steps": ["a", "b\n#### 1"], "labels": [1, 1]})
        rows.append({"prompt": f"q{i}", "steps": ["a", "wrong\n#### 2"], "labels": [1, -1]})
    return rows


def test_process_section_and_curves_from_step_rows(tmp_path):
    steps = tmp_path / "steps"
    _write(steps, "val", _rows(4))
    _write(steps, "test", _rows(6))
    sets = [
        {
            "id": f"s{i}",
            "prompt": f"q{i}",
            "reference": "1",
            "candidates": [
                {"text": "a\nwrong\n#### 2", "label": False, "source": "x"},
                {"text": "a\nb\n#### 1", "label": True, "source": "reference"},
            ],
        }
        for i in range(6)
    ]
    section, curves = evaluate_process(
        FakeScorer(), steps, sets, aggregate="min", batch_size=8,
        partial_tolerance=0.1, vote_temperature=1.0,
    )  # fmt: skip
    assert section["aggregate"] == "min"
    assert section["step_auc"] == pytest.approx(1.0)
    assert section["processbench"]["f1"] == pytest.approx(1.0)
    assert section["best_of_n"]["min"]["exact_accuracy"]["value"] == pytest.approx(1.0)
    assert [c["position"] for c in curves] == [0, 1]
    assert curves[1]["correct"] == pytest.approx(0.9) and curves[1]["wrong"] == pytest.approx(0.1)


def test_missing_step_rows_name_the_file(tmp_path):
    with pytest.raises(UserError, match=r"val\.jsonl: not found; .*train\.objective=process"):
        read_step_rows(tmp_path)
