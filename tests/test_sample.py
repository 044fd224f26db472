"""The sample pipeline: labels by final-answer match, and sample (as a DVC experiment) ->
prepare -> train -> evaluate end to end on a tiny random policy (the ORM recipe on the policy's own samples)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from decoder_support import tiny_llama
from pipeline_repo import dvc, make_repo, run, stage_cmd

from rewardpipe.answers import extract_answer, numeric_match
from rewardpipe.data.solution import final_answer
from rewardpipe.data.sources import load_source
from rewardpipe.params import PolicyParams, PrepareParams, SampleParams, load_section
from rewardpipe.sample import Paths, candidate_rows, few_shot_text
from rewardpipe.sample import run as sample_run

SAMPLE = {
    "n": 3,
    "temperature": 1.0,
    "max_new_tokens": 8,
    "max_prompt_len": 96,
    "batch_size": 16,
    "few_shot": 1,
    "train_questions": 8,
    "test_questions": 5,
    "tiny_policy": {"hidden_size": 32, "layers": 1, "heads": 2, "vocab_size": 400},
}


def test_labels_stats_and_dropped_empty_completions() -> None:
    rows = [
        {"question": "q1", "answer": "2 + 3 = 5\n#### 5"},
        {"question": "q2", "answer": "#### 7"},
    ]
    samples = [
        [("so 5\n#### 5", True), ("#### 6", True), ("   ", True)],
        [("#### 7.0", False), ("", True), ("The answer is 8", True)],
    ]
    out, stats = candidate_rows(rows, samples, "test")
    assert [[(c["text"], c["label"]) for c in r["candidates"]] for r in out] == [
        [("so 5\n#### 5", True), ("#### 6", False)],
        [("#### 7.0", True), ("The answer is 8", False)],
    ]
    assert stats["samples"] == 6 and stats["correct"] == 2 and stats["empty"] == 2
    assert stats["pass_at_1"] == pytest.approx(2 / 6) and stats["pass_at_n"] == 1.0
    assert stats["unfinished"] == 1 and out[0]["split"] == "test"
    assert few_shot_text(rows[:1]) == "q1\n\n2 + 3 = 5\n#### 5\n\n"


@pytest.mark.slow
def test_sample_prepare_train_evaluate_end_to_end(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "sample": SAMPLE,
            "prepare": {"candidates_path": "data/sampled/candidates.jsonl"},
            "evaluate": {"candidates_path": "data/sampled/test.jsonl"},
        },
    )
    dvc(repo, "exp", "run", "-n", "s1", "pipelines/sample/dvc.yaml")
    shown = dvc(repo, "exp", "show", "--json").stdout
    assert "pass_at_n" in shown and "s1" in shown
    metrics = json.loads((repo / "metrics/sample.json").read_text())

    pp = load_section(repo / "params.yaml", "prepare")
    splits = {
        s.name: s.rows
        for s in load_source(
            pp.source, path=pp.path, hub_name=pp.hub_name, hub_config=pp.hub_config,
            n_train=pp.synthetic_train, n_test=pp.synthetic_test, seed=pp.seed,
        )
    }  # fmt: skip
    reference = {r["question"]: r["answer"] for rows in splits.values() for r in rows}
    asked = {
        "train": [r["question"] for r in splits["train"][1:9]],  # after the few-shot example
        "test": [r["question"] for r in splits["test"][:5]],
    }
    rows = [json.loads(line) for line in (repo / "data/sampled/candidates.jsonl").open()]
    test_rows = [json.loads(line) for line in (repo / "data/sampled/test.jsonl").open()]
    assert test_rows == [r for r in rows if r["split"] == "test"]
    n_cands = 0
    for row in rows:
        assert row["question"] in asked[row["split"]]
        ref = final_answer(reference[row["question"]])
        assert row["answer"] == reference[row["question"]] and 1 <= len(row["candidates"]) <= 3
        for cand in row["candidates"]:
            assert cand["text"].strip()
            assert cand["label"] == numeric_match(extract_answer(cand["text"]), ref)
            n_cands += 1
    for split, questions in asked.items():
        m = metrics[split]
        assert m["questions"] == len(questions) and m["samples"] == 3 * len(questions)
        written = [r for r in rows if r["split"] == split]
        assert m["rows_written"] == len(written)
        assert m["correct"] == sum(c["label"] for r in written for c in r["candidates"])
        assert m["samples"] - m["empty"] == sum(len(r["candidates"]) for r in written)
    assert n_cands > 0

    for stage in ("prepare", "train", "evaluate"):
        run(stage_cmd(repo, stage), repo)
    report = json.loads((repo / "metrics/eval.json").read_text())  # on the sampled test file
    assert report["n_prompts"] == len(test_rows) > 0
    unique = sum(len({c["text"] for c in r["candidates"]}) for r in test_rows)
    assert report["n_candidates"] == unique


@pytest.mark.slow
def test_sample_from_a_transformers_causal_lm_folder(tmp_path: Path) -> None:
    """policy.pretrained: a LlamaForCausalLM save with a chat template (needs transformers)."""
    folder = tiny_llama(tmp_path / "llama")
    pp = PrepareParams(synthetic_train=20, synthetic_test=4)
    sp = dataclasses.replace(
        SampleParams(), **{**SAMPLE, "train_questions": 2, "test_questions": 2, "few_shot": 0}
    )
    paths = Paths(tmp_path / "out", tmp_path / "m.json", tmp_path / "work")
    metrics = sample_run(pp, PolicyParams(pretrained=str(folder)), sp, paths, progress=False)
    assert metrics["train"]["samples"] == metrics["test"]["samples"] == 6
    assert not (tmp_path / "work").exists()  # no tiny policy was made
    rows = [json.loads(line) for line in (tmp_path / "out" / "candidates.jsonl").open()]
    assert (
        sum(len(r["candidates"]) for r in rows)
        == 12 - metrics["train"]["empty"] - metrics["test"]["empty"]
    )
