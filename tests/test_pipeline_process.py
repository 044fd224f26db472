"""End to end for process reward models: PRM800K- and Math-Shepherd-format files prepare, train
and evaluate through the real `dvc exp run -S train.objective=process ...` in a temp repo."""

from __future__ import annotations

import json

import pytest
from pipeline_repo import dvc, make_repo, run
from process_support import grown_rows, write_jsonl

pytestmark = pytest.mark.slow

TINY_PRM = {"train": {"steps": 8, "eval_every": 8, "save_every": 8, "log_every": 4}}


@pytest.mark.parametrize("fmt", ["prm800k", "math_shepherd"])
def test_step_labelled_files_prepare_train_and_evaluate_a_prm(tmp_path, fmt):
    repo = make_repo(tmp_path / "repo", TINY_PRM)
    write_jsonl(repo / "data" / "raw" / f"{fmt}.jsonl", grown_rows(fmt, 40))
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "step-labelled data"], repo)
    dvc(
        repo,
        "exp",
        "run",
        "evaluate",
        "-S",
        "train.objective=process",
        "-S",
        "prepare.source=local",
        "-S",
        f"prepare.path=data/raw/{fmt}.jsonl",
        "-S",
        "prepare.dataset=process",
    )
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    assert stats["source"]["dataset"] == "process"
    assert stats["process"]["train"]["solutions"] > 0
    config = json.loads((repo / "models/model/config.json").read_text())
    assert config["objective"] == "process" and config["separator"]
    arch = config["model"]  # a scratch PRM reads as a decoder does and marks repeated tokens
    assert arch["causal"] and arch["positions"] == "rotary" and arch["seen_tokens"]
    section = json.loads((repo / "metrics/eval.json").read_text())["process"]
    assert 0.0 <= section["processbench"]["f1"] <= 1.0
    assert set(section["best_of_n"]) == {"min", "last", "prod", "mean"}
    curves = json.loads((repo / "metrics/eval/plots/step_scores.json").read_text())
    assert curves and {"position", "correct", "wrong"} <= set(curves[0])
    assert "## Process reward model" in (repo / "metrics/eval/report.md").read_text()
