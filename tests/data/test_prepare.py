"""Tests for the prepare step (rewardpipe.data.prepare) and its stage script (stages/prepare.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rewardpipe.answers import extract_answer, numeric_match
from rewardpipe.data.candidates import Candidates, load_candidates
from rewardpipe.data.prepare import prepare
from rewardpipe.data.solution import final_answer
from rewardpipe.data.sources import RawSplit, load_synthetic
from rewardpipe.data.split import fold
from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.errors import UserError
from rewardpipe.io import read_jsonl
from rewardpipe.params import PrepareParams

REPO = Path(__file__).resolve().parents[2]
PAIR_KEYS = {"id", "prompt", "chosen", "rejected", "kind"}
SET_KEYS = {"id", "prompt", "reference", "candidates"}
CANDIDATE_KEYS = {"text", "label", "source"}


def params(**overrides) -> PrepareParams:
    return PrepareParams(**({"vocab_size": 400, "negatives_per_question": 3} | overrides))


def run(raw, kind="gsm8k", columns=None, candidates=None, **overrides):
    return prepare(
        raw,
        params(**overrides),
        kind=kind,
        columns=columns or {},
        source_hash="hash-of-source",
        candidates=candidates,
    )


@pytest.fixture(scope="module")
def raw() -> list[RawSplit]:
    return load_synthetic(60, 12, seed=0)


@pytest.fixture(scope="module")
def prepared(raw):
    return run(raw)


def copy(raw: list[RawSplit]) -> list[RawSplit]:
    return [RawSplit(s.name, s.origin, [dict(r) for r in s.rows]) for s in raw]


# ---------------------------------------------------------------------------------------------
# Record shapes and test sets


def test_pair_records_match_the_stage_contract(prepared):
    assert prepared.train and prepared.val
    for row in prepared.train + prepared.val:
        assert set(row) == PAIR_KEYS
        assert all(isinstance(row[k], str) and row[k] for k in PAIR_KEYS)
        assert row["chosen"] != row["rejected"]
        assert row["kind"] in params().negative_kinds
    ids = [r["id"] for r in prepared.train + prepared.val]
    assert len(ids) == len(set(ids))
    assert not {r["prompt"] for r in prepared.train} & {r["prompt"] for r in prepared.val}


def test_test_records_match_the_stage_contract(prepared, raw):
    assert len(prepared.test) == len(raw[1].rows)
    for s in prepared.test:
        assert set(s) == SET_KEYS
        assert isinstance(s["reference"], str) and s["reference"]
        for c in s["candidates"]:
            assert set(c) == CANDIDATE_KEYS
            assert isinstance(c["text"], str) and isinstance(c["label"], bool)
            assert isinstance(c["source"], str)
    assert len({s["id"] for s in prepared.test}) == len(prepared.test)


def test_each_test_set_has_one_correct_reference_and_the_asked_negatives(prepared):
    k = params().negatives_per_question
    for s in prepared.test:
        correct = [c for c in s["candidates"] if c["label"]]
        wrong = [c for c in s["candidates"] if not c["label"]]
        assert len(correct) == 1 and correct[0]["source"] == "reference"
        assert final_answer(correct[0]["text"]) == s["reference"]
        assert len(wrong) == k
        assert len({c["text"] for c in s["candidates"]}) == k + 1
        for c in wrong:
            assert not numeric_match(extract_answer(c["text"]), s["reference"]), c["text"]


def test_negatives_per_question_sets_the_pair_count(raw):
    out = run(raw, negatives_per_question=2)
    prompts = {r["prompt"] for r in out.train}
    assert len(out.train) == 2 * len(prompts)
    assert all(len(s["candidates"]) == 3 for s in out.test)


def test_two_runs_are_identical(raw, prepared):
    again = run(copy(raw))
    assert again.train == prepared.train
    assert again.val == prepared.val
    assert again.test == prepared.test
    assert again.stats == prepared.stats
    assert again.tokenizer.to_str() == prepared.tokenizer.to_str()
    other_seed = run(copy(raw), seed=1)
    assert other_seed.train != prepared.train


# ---------------------------------------------------------------------------------------------
# Validation: duplicates, leakage, splits, limits


def test_duplicates_are_removed_and_counted(raw, prepared):
    dup = copy(raw)
    first = dup[0].rows[0]
    dup[0].rows.append(dict(first))
    dup[0].rows.append(
        {"question": "  " + first["question"].replace(" ", "\n", 1), "answer": first["answer"]}
    )
    dup[1].rows.append(dict(dup[1].rows[0]))
    out = run(dup)
    assert out.stats["validation"]["duplicates_removed"] == 3
    assert out.train + out.val == prepared.train + prepared.val
    assert out.test == prepared.test


def test_same_question_with_two_solutions_keeps_ids_unique(raw):
    twice = copy(raw)
    first = twice[0].rows[0]
    other = "Another way:\n" + first["answer"]
    twice[0].rows.append({"question": first["question"], "answer": other})
    out = run(twice)
    ids = [r["id"] for r in out.train + out.val]
    assert len(ids) == len(set(ids))


def test_train_prompt_also_in_test_is_removed_from_train(raw, prepared):
    leaky = copy(raw)
    test_row = leaky[1].rows[0]
    leaky[0].rows.append({"question": test_row["question"] + "  ", "answer": test_row["answer"]})
    out = run(leaky)
    assert out.stats["validation"]["leakage_removed"] == 1
    train_prompts = {fold(r["prompt"]) for r in out.train + out.val}
    assert fold(test_row["question"]) not in train_prompts
    assert out.train + out.val == prepared.train + prepared.val


def test_val_is_carved_from_train_with_val_fraction():
    raw = load_synthetic(200, 5, seed=0)
    out = run(raw, val_fraction=0.25, negatives_per_question=1)
    n_train, n_val = len(out.train), len(out.val)
    assert abs(n_val / (n_train + n_val) - 0.25) < 0.08
    assert len(out.test) == 5
    with pytest.raises(UserError, match="the val split is empty"):
        run(raw, val_fraction=0.0, negatives_per_question=1)


def test_split_fractions_are_used_without_a_test_split():
    raw = [RawSplit("train", "mem:train", load_synthetic(200, 1, seed=0)[0].rows)]
    out = run(raw, split=[0.5, 0.2, 0.3], negatives_per_question=1)
    n = {"train": len(out.train), "val": len(out.val), "test": len(out.test)}
    assert sum(n.values()) == 200
    for name, frac in zip(n, (0.5, 0.2, 0.3), strict=True):
        assert abs(n[name] / 200 - frac) < 0.08, n
    assert not {fold(r["prompt"]) for r in out.train} & {fold(s["prompt"]) for s in out.test}


def test_a_source_validation_split_is_kept():
    rows = load_synthetic(30, 10, seed=0)
    raw = [
        rows[0],
        RawSplit("val", "mem:val", rows[1].rows[:4]),
        RawSplit("test", "mem:test", rows[1].rows[4:]),
    ]
    out = run(raw, negatives_per_question=1)
    assert {r["prompt"] for r in out.val} == {r["question"] for r in rows[1].rows[:4]}
    assert len(out.train) == 30 and len(out.test) == 6


def test_max_examples_limits_rows_per_split(raw):
    out = run(raw, max_examples=10)
    assert len({r["prompt"] for r in out.train + out.val}) == 10
    assert len(out.test) == 10
    assert {r["prompt"] for r in out.train + out.val} <= {r["question"] for r in raw[0].rows[:10]}


def test_validate_false_skips_and_counts_bad_rows(raw):
    bad = copy(raw)
    bad[0].rows[3]["answer"] = "no final line"
    bad[0].rows[4]["answer"] = ""
    with pytest.raises(UserError, match=r"^synthetic:train:4: answer: expected a solution"):
        run(bad)
    out = run(bad, validate=False)
    assert out.stats["validation"]["skipped_rows"] == 2
    assert len({r["prompt"] for r in out.train + out.val}) == 58


def test_no_training_pairs_is_an_error():
    with pytest.raises(UserError, match="no rows to prepare"):
        run([RawSplit("train", "empty.jsonl", [])])


# ---------------------------------------------------------------------------------------------
# External candidates


def test_external_candidates_are_merged(raw, prepared):
    train_q = prepared.train[0]["prompt"]
    test_set = prepared.test[0]
    candidates = [
        {
            "id": "c1",
            "prompt": train_q,
            "reference": "x",
            "candidates": [
                {"text": "right #### 1", "label": True, "source": "sampled"},
                {"text": "wrong #### 2", "label": False, "source": "sampled"},
                {"text": "wrong #### 3", "label": False, "source": "sampled"},
            ],
        },
        {
            "id": "c2",
            "prompt": test_set["prompt"],
            "reference": test_set["reference"],
            "candidates": [{"text": "policy says #### 0", "label": False, "source": "policy"}],
        },
        {
            "id": "c3",
            "prompt": "A question nobody asked?",
            "reference": "1",
            "candidates": [{"text": "#### 1", "label": True, "source": "sampled"}],
        },
    ]
    out = run(copy(raw), candidates=Candidates(candidates))
    sampled = [r for r in out.train if r["kind"] == "sampled"]
    assert [(r["chosen"], r["rejected"]) for r in sampled] == [
        ("right #### 1", "wrong #### 2"),
        ("right #### 1", "wrong #### 3"),
    ]
    assert all(set(r) == PAIR_KEYS and r["prompt"] == train_q for r in sampled)
    assert len(out.train) == len(prepared.train) + 2
    merged = next(s for s in out.test if s["id"] == test_set["id"])
    assert merged["candidates"][:-1] == test_set["candidates"]
    assert merged["candidates"][-1] == {
        "text": "policy says #### 0",
        "label": False,
        "source": "policy",
    }
    assert out.stats["validation"]["candidates_unmatched"] == 1
    assert out.stats["counts"]["train"]["by_kind"]["sampled"] == 2
    assert out.stats["counts"]["test"]["by_source"]["policy"] == 1


def test_two_candidate_rows_for_one_question_keep_ids_unique(raw, prepared):
    train_q = prepared.train[0]["prompt"]
    pair = [{"text": "#### 1", "label": True}, {"text": "#### 2", "label": False}]
    rows = [
        {"id": f"c{i}", "prompt": train_q, "reference": "1", "candidates": pair} for i in (1, 2)
    ]
    out = run(copy(raw), candidates=Candidates(rows))
    ids = [r["id"] for r in out.train + out.val]
    assert len(out.train) == len(prepared.train) + 2
    assert len(ids) == len(set(ids))


def test_overlong_candidates_are_dropped_and_counted(raw, prepared):
    train_q, test_set = prepared.train[0]["prompt"], prepared.test[0]
    budget = 4000 - len(train_q)
    fits, huge = "#### 1".rjust(budget), "x" * 5_000_000 + " #### 1"
    rows = [
        {"id": "t", "prompt": train_q, "reference": "1", "candidates": [
            {"text": fits, "label": True, "source": "sampled"},
            {"text": huge, "label": True, "source": "sampled"},
            {"text": "#### 2", "label": False, "source": "sampled"},
            {"text": "#### 3", "label": False, "source": "sampled"},
        ]},
        {"id": "e", "prompt": test_set["prompt"], "reference": "1", "candidates": [
            {"text": huge, "label": False, "source": "policy"},
        ]},
    ]  # fmt: skip
    out = run(copy(raw), candidates=Candidates(rows))
    sampled = [r for r in out.train + out.val if r["kind"] == "sampled"]
    assert [(r["chosen"], r["rejected"]) for r in sampled] == [(fits, "#### 2"), (fits, "#### 3")]
    merged = next(s for s in out.test if s["id"] == test_set["id"])
    assert merged["candidates"] == test_set["candidates"]
    assert out.stats["validation"]["candidates_overlong"] == 2
    assert any(
        "2 candidates longer than prepare.max_chars=4000" in w
        for w in out.stats["validation"]["warnings"]
    )
    assert out.stats["lengths"]["chars"]["max"] <= 4001  # prompt + "\n" + response


def test_repeated_candidates_rows_give_their_pairs_once(raw, prepared, tmp_path):
    train_q = prepared.train[0]["prompt"]
    row = {"question": train_q, "answer": "1", "candidates": ["#### 1", "#### 2", "#### 3"]}
    path = tmp_path / "candidates.jsonl"
    path.write_text((json.dumps(row) + "\n") * 2, encoding="utf-8")
    out = run(copy(raw), candidates=load_candidates(path))
    sampled = [r for r in out.train + out.val if r["kind"] == "sampled"]
    assert [(r["chosen"], r["rejected"]) for r in sampled] == [
        ("#### 1", "#### 2"),
        ("#### 1", "#### 3"),
    ]
    assert out.stats["validation"]["candidates_duplicate_rows"] == 1
    assert any("1 candidates rows repeat" in w for w in out.stats["validation"]["warnings"])


# ---------------------------------------------------------------------------------------------
# stats.json


def test_stats_keys(prepared):
    stats = prepared.stats
    json.dumps(stats)  # a DVC metrics file: plain JSON
    assert stats["source"] == {
        "name": "synthetic",
        "dataset": "gsm8k",
        "content_sha256": "hash-of-source",
    }
    counts = stats["counts"]
    assert counts["train"]["pairs"] == len(prepared.train)
    assert counts["val"]["pairs"] == len(prepared.val)
    assert counts["train"]["prompts"] == len({r["prompt"] for r in prepared.train})
    assert sum(counts["train"]["by_kind"].values()) == len(prepared.train)
    assert counts["test"]["prompts"] == len(prepared.test)
    assert counts["test"]["correct"] == len(prepared.test)
    assert counts["test"]["candidates"] == 4 * len(prepared.test)
    assert counts["test"]["by_source"]["reference"] == len(prepared.test)
    for unit in ("chars", "tokens"):
        lengths = stats["lengths"][unit]
        assert set(lengths) == {"p50", "p90", "p99", "max"}
        assert 0 < lengths["p50"] <= lengths["p90"] <= lengths["p99"] <= lengths["max"]
    assert stats["lengths"]["tokens"]["max"] < stats["lengths"]["chars"]["max"]
    assert set(stats["validation"]) == {
        "skipped_rows",
        "duplicates_removed",
        "leakage_removed",
        "inconsistent_annotations",
        "overlong_rows",
        "negatives_failed",
        "candidates_unmatched",
        "candidates_overlong",
        "candidates_duplicate_rows",
        "warnings",
    }
    audit = stats["shortcut_audit"]
    assert audit["pairs"] == len(prepared.train)
    assert 0 <= audit["longer_rule_accuracy"] <= 1
    assert stats["tokenizer"]["vocab_size"] == prepared.tokenizer.get_vocab_size()


def test_overlong_rows_are_dropped_before_the_tokenizer_and_counted(raw, monkeypatch):
    import rewardpipe.data.prepare as prepare_module

    huge = copy(raw)
    huge[0].rows[0]["question"] = "How many? " + "x" * 5_000_000  # a 5 MB row
    seen = []
    real = prepare_module.train_bpe
    monkeypatch.setattr(
        prepare_module,
        "train_bpe",
        lambda texts, n, numbers: real(seen.extend(texts) or seen, n, numbers),
    )
    out = run(huge, max_chars=4000)
    assert out.stats["validation"]["overlong_rows"] == 1
    assert any("max_chars=4000 dropped" in w for w in out.stats["validation"]["warnings"])
    assert seen and max(len(t) for t in seen) < 10_000
    rows = out.train + out.val + out.test
    assert all("x" * 100 not in r["prompt"] for r in rows)


# ---------------------------------------------------------------------------------------------
# Preference and rubric data


def test_preference_data_gives_real_pairs_and_two_candidate_test_sets(fixtures):
    rows = read_jsonl(fixtures / "preference.jsonl")
    more = [
        {"prompt": f"Question {i}?", "chosen": f"Good answer {i}.", "rejected": f"Bad answer {i}."}
        for i in range(20)
    ]
    raw = [
        RawSplit("train", "mem:train", rows + more[:15]),
        RawSplit("test", "mem:test", more[15:]),
    ]
    out = run(raw, kind="preference", val_fraction=0.2)
    assert len(out.train) + len(out.val) == 18
    for row in out.train + out.val:
        assert set(row) == PAIR_KEYS and row["kind"] == "preference"
    spider = [r for r in out.train + out.val if r["prompt"].startswith("How many legs")]
    assert [(r["chosen"], r["rejected"]) for r in spider] == [
        ("A spider has eight legs.", "A spider has six legs.")
    ]
    assert len(out.test) == 5
    for s in out.test:
        assert set(s) == SET_KEYS
        assert [(c["label"], c["source"]) for c in s["candidates"]] == [
            (True, "chosen"),
            (False, "preference"),
        ]
    assert out.stats["source"]["dataset"] == "preference"
    assert out.stats["counts"]["test"]["candidates"] == 10


def test_rubric_scored_data_is_prepared_as_pairs(fixtures):
    rows = read_jsonl(fixtures / "rubric_scored.jsonl")
    colour = {"prompt": "Name a colour.", "rubric": "One colour word."}
    test = [colour | {"response": "Blue", "score": 1}, colour | {"response": "Seven", "score": 0}]
    splits = [("train", rows[:3]), ("val", rows[3:]), ("test", test)]
    out = run([RawSplit(name, "r.jsonl", part) for name, part in splits], kind="rubric")
    assert (len(out.train), len(out.val), len(out.test)) == (3, 1, 1)
    assert all(r["prompt"].startswith("Rubric:\n") for r in out.train + out.val)


# ---------------------------------------------------------------------------------------------
# The stage script, run as the user runs it


def write_params(path: Path, prepare_section: dict) -> Path:
    path.write_text(yaml.safe_dump({"prepare": prepare_section}), encoding="utf-8")
    return path


def gsm8k_rows(n: int) -> list[dict]:
    return load_synthetic(n, 1, seed=0)[0].rows


def local_folder(root: Path, case: str) -> tuple[Path, str]:
    """A folder of train/test JSONL with one bad row; returns (folder, expected message part)."""
    folder = root / "raw"
    folder.mkdir(parents=True)
    rows = gsm8k_rows(6)
    test_lines = [json.dumps(r) for r in rows[4:]]
    train = folder / "train.jsonl"
    if case == "missing_column":
        lines = [
            json.dumps({"question": r["question"], "solution_text": r["answer"]}) for r in rows[:4]
        ]
        expected = f"{train}: answer: no column found"
    else:
        lines = [json.dumps(r) for r in rows[:4]]
        if case == "empty_answer":
            lines[2] = json.dumps({"question": rows[2]["question"], "answer": ""})
            expected = f"{train}:3: answer: expected a non-empty value"
        elif case == "no_final_line":
            lines[1] = json.dumps({"question": rows[1]["question"], "answer": "It is 5."})
            expected = f"{train}:2: answer: expected a solution ending in a line '#### N'"
        else:
            lines[3] = '{"question": "broken", "answer": '
            expected = f"{train}:4: not valid JSON"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "test.jsonl").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    return folder, expected


PREVIOUS_OUTPUT_CASE = "no_final_line"  # this case finds the output of an earlier run in place
STAGE_CASES = (
    "synthetic",
    "missing_column",
    "empty_answer",
    "no_final_line",
    "malformed_json",
    "nope",
)


@pytest.fixture(scope="module")
def stage_runs(tmp_path_factory):
    """Run every stage case at once (each needs a fresh interpreter; `datasets` imports slowly)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", DVC_NO_ANALYTICS="1")
    cases = {}
    for case in STAGE_CASES:
        root = tmp_path_factory.mktemp(case)
        expected = None
        if case == "synthetic":
            section = {"synthetic_train": 30, "synthetic_test": 6, "vocab_size": 350}
        elif case == "nope":
            section = {"source": "nope"}
            expected = "params.yaml: prepare.source: expected synthetic | hub | local, got 'nope'"
        else:
            folder, expected = local_folder(root, case)
            section = {"source": "local", "path": str(folder), "vocab_size": 350}
        params_file = write_params(root / "params.yaml", section)
        out = root / "outputs" / "prepared"
        if case == PREVIOUS_OUTPUT_CASE:
            out.mkdir(parents=True)
            (out / "train.jsonl").write_text("earlier run\n", encoding="utf-8")
        cmd = [sys.executable, "stages/prepare.py", "--params", str(params_file), "--out", str(out)]
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        cases[case] = (proc, out, expected)
    results = {}
    for case, (proc, out, expected) in cases.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[case] = (proc.returncode, stdout, stderr, out, expected)
    return results


def test_stage_on_a_tiny_synthetic_config(stage_runs):
    rc, stdout, stderr, out, _ = stage_runs["synthetic"]
    assert rc == 0, stderr
    assert sorted(os.listdir(out)) == [
        "stats.json",
        "steps",
        "test.jsonl",
        "tokenizer.json",
        "train.jsonl",
        "val.jsonl",
    ]
    assert os.listdir(out / "steps") == []  # step labels only for train.objective=process
    assert os.listdir(out.parent) == ["prepared"]  # no temp files left beside it
    train, test = read_jsonl(out / "train.jsonl"), read_jsonl(out / "test.jsonl")
    assert train and all(set(r) == PAIR_KEYS for r in train)
    assert len(test) == 6 and all(set(s) == SET_KEYS for s in test)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["counts"]["train"]["pairs"] == len(train)
    assert stats["source"]["name"] == "synthetic" and len(stats["source"]["content_sha256"]) == 64
    assert "prepared" in stdout and "Traceback" not in stderr


@pytest.mark.parametrize("case", [c for c in STAGE_CASES if c != "synthetic"])
def test_stage_bad_input_fails_with_one_error_line_and_writes_nothing(stage_runs, case):
    rc, _, stderr, out, expected = stage_runs[case]
    assert rc != 0
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"error: {expected}"), errors[0]
    if case == PREVIOUS_OUTPUT_CASE:
        assert os.listdir(out.parent) == ["prepared"]
        assert os.listdir(out) == ["train.jsonl"]
        assert (out / "train.jsonl").read_text(encoding="utf-8") == "earlier run\n"
    else:
        assert not out.parent.exists()


@pytest.mark.parametrize(
    ("overrides", "empty"),
    [({"split": [1.0, 0.0, 0.0]}, "val"), ({"split": [0.9, 0.1, 0.0]}, "test")],
)
def test_an_empty_val_or_test_split_is_an_error(raw, overrides, empty):
    train_only = [RawSplit("train", s.origin, s.rows) for s in raw if s.name == "train"]
    with pytest.raises(UserError, match=f"the {empty} split is empty"):
        run(train_only, **overrides)
    with pytest.raises(UserError, match="the val split is empty"):
        run(raw, val_fraction=0.0)


def test_the_default_data_gives_length_no_signal():
    """The built-in synthetic data at the params.yaml defaults: picking the longer solution is a
    coin flip, so a model cannot score by length (the audit prepare writes to stats.json)."""
    defaults = PrepareParams()
    raw = load_synthetic(defaults.synthetic_train, defaults.synthetic_test, seed=defaults.seed)
    tokenizer = train_bpe(["a b c"], 300)  # the audit does not depend on the tokenizer
    stats = prepare(
        raw, defaults, kind="gsm8k", columns={}, source_hash="h", tokenizer=tokenizer
    ).stats
    audit = stats["shortcut_audit"]
    assert audit["pairs"] == stats["counts"]["train"]["pairs"] > 5000
    assert 0.45 <= audit["longer_rule_accuracy"] <= 0.55, audit
    assert 0.45 <= audit["chosen_longer_chars"] <= 0.55, audit
