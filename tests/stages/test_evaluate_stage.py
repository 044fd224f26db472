"""The evaluate stage script: candidates in, eval.json / plots / failures / report out."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from publish_support import tiny_model_folder

from rewardpipe import headline

ROOT = Path(__file__).resolve().parents[2]

SETS = [
    {
        "question": f"Tom has {i} apples and buys {i + 2} more. How many apples?",
        "answer": f"Tom has {i} + {i + 2} = <<{i}+{i + 2}={2 * i + 2}>>{2 * i + 2} apples.\n#### {2 * i + 2}",
        "candidates": [
            f"Tom has {i} + {i + 2} = <<{i}+{i + 2}={2 * i + 2}>>{2 * i + 2} apples.\n#### {2 * i + 2}",
            f"Tom has {i} + {i + 2} = <<{i}+{i + 2}={2 * i + 3}>>{2 * i + 3} apples.\n#### {2 * i + 3}",
            {
                "text": f"Tom has {i} * 2 = <<{i}*2={2 * i}>>{2 * i} apples.\n#### {2 * i}",
                "source": "policy",
            },
        ],
    }
    for i in range(1, 13)
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_model_folder(tmp_path_factory.mktemp("model"))


def _params(tmp_path: Path, **evaluate) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["evaluate"].update(evaluate)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "stages/evaluate.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_evaluates_a_candidates_file(tmp_path, model_dir):
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps(s) + "\n" for s in SETS))
    out, details = tmp_path / "eval.json", tmp_path / "eval"
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path, failures=3, num_samples=10)),
        "--model",
        str(model_dir),
        "--candidates",
        str(cands),
        "--output",
        str(out),
        "--headline",
        str(tmp_path / "headline.json"),
        "--details",
        str(details),
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(out.read_text())
    shown = json.loads((tmp_path / "headline.json").read_text())
    assert list(shown) == list(headline.NAMES)
    assert shown["pairwise_accuracy"] == metrics["ranking"]["pairwise_accuracy"]
    assert shown["bon_exact"] == metrics["best_of_n"]["exact_accuracy"]["value"]
    assert shown["val_accuracy"] == 0.75 and shown["steps"] == 3  # the model's train record
    best = max(metrics["baselines"][b]["exact_accuracy"]["value"] for b in headline.BASELINES)
    assert shown["baseline_exact"] == best
    assert shown["bon_over_baseline"] == pytest.approx(shown["bon_exact"] - best)
    assert metrics["n_prompts"] == 10 and metrics["n_candidates"] == 30
    assert set(metrics["baselines"]) == {
        "random",
        "majority_vote",
        "rule_based",
        "longest",
        "oracle",
    }
    assert metrics["baselines"]["oracle"]["exact_accuracy"]["value"] == 1.0
    assert metrics["baselines"]["random"]["exact_accuracy"]["value"] == pytest.approx(1 / 3)
    assert set(metrics["ranking"]["by_kind"]) == {"sampled", "policy"}
    for name in ("roc.json", "reward_histogram.json", "reliability.json"):
        assert json.loads((details / "plots" / name).read_text())
    failures = [json.loads(line) for line in (details / "failures.jsonl").read_text().splitlines()]
    assert len(failures) <= 3
    rows = list(csv.DictReader((details / "failures.csv").open()))
    assert len(rows) == len(failures)
    report = (details / "report.md").read_text()
    assert "| Metric | Value | Count |" in report and "oracle" in report

    again = tmp_path / "again.json"
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path, failures=3, num_samples=10)),
        "--model",
        str(model_dir),
        "--candidates",
        str(cands),
        "--output",
        str(again),
        "--details",
        str(tmp_path / "eval2"),
        "--baseline",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(again.read_text()) == metrics  # deterministic
    assert "+0.0000" in (tmp_path / "eval2" / "report.md").read_text()


def test_a_repeated_question_is_scored_once_with_a_warning(tmp_path, model_dir):
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps(s) + "\n" for s in [*SETS[:3], SETS[0]]))
    out, details = tmp_path / "eval.json", tmp_path / "eval"
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path)),
        "--model",
        str(model_dir),
        "--candidates",
        str(cands),
        "--output",
        str(out),
        "--details",
        str(details),
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(out.read_text())
    assert metrics["n_prompts"] == 3 and metrics["n_candidates"] == 9
    assert f"warning: {cands}: 1 rows repeat an earlier question; merged" in proc.stderr
    assert "candidates_duplicate_rows" in (details / "report.md").read_text()


def test_predictions_mode(tmp_path):
    preds = tmp_path / "preds.jsonl"
    rows = [
        {"question": "q1", "answer": "x\n#### 5", "completion": "so 5\n#### 5"},
        {"question": "q2", "answer": "#### 10", "completion": "I think 10.5\n#### 10.5"},
        {"question": "q3", "answer": "7", "completion": "no answer here"},
    ]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pred.json"
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path)),
        "--predictions",
        str(preds),
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(out.read_text())
    assert summary["exact_accuracy"]["count"] == 1
    assert summary["partial_accuracy"]["count"] == 2
    assert summary["format_compliance"]["count"] == 2
    assert len(list(csv.DictReader(out.with_suffix(".records.csv").open()))) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no rows"),
        (
            '{"question": "q", "answer": "#### 1", "candidates": []}\n',
            "candidates: expected a non-empty list",
        ),
        ("{not json\n", ":1: not valid JSON"),
    ],
)
def test_bad_candidates_files(tmp_path, model_dir, content, message):
    cands = tmp_path / "cands.jsonl"
    cands.write_text(content)
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path)),
        "--model",
        str(model_dir),
        "--candidates",
        str(cands),
        "--output",
        str(tmp_path / "e.json"),
        "--details",
        str(tmp_path / "e"),
    )
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "e.json").exists() and not (tmp_path / "e").exists()


def test_missing_model_is_a_clear_error(tmp_path):
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps(s) + "\n" for s in SETS[:2]))
    proc = _run(
        tmp_path,
        "--params",
        str(_params(tmp_path)),
        "--model",
        str(tmp_path / "nope"),
        "--candidates",
        str(cands),
        "--output",
        str(tmp_path / "e.json"),
        "--details",
        str(tmp_path / "e"),
    )
    assert proc.returncode == 1
    assert "nope" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr
