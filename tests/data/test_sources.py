"""Tests for raw data sources (rewardpipe.data.sources)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rewardpipe.data.sources import (
    RawSplit,
    content_hash,
    find_split_files,
    load_file,
    load_local,
    load_source,
    load_synthetic,
)
from rewardpipe.errors import UserError

REPO = Path(__file__).resolve().parents[2]
GSM8K = Path(__file__).resolve().parents[3] / "shared/data/gsm8k"

TRAIN = [
    {"question": "What is 2 + 3?", "answer": "2 + 3 = <<2+3=5>>5\n#### 5"},
    {"question": "What is 4 * 6?", "answer": "4 * 6 = <<4*6=24>>24\n#### 24"},
    {"question": "What is 9 - 7?", "answer": "9 - 7 = <<9-7=2>>2\n#### 2"},
]
TEST = [{"question": "What is 8 / 2?", "answer": "8 / 2 = <<8/2=4>>4\n#### 4"}]


def write_rows(path: Path, rows: list[dict]) -> Path:
    """Write rows in the format named by the file's extension."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".parquet":
        import datasets

        datasets.Dataset.from_list(rows).to_parquet(str(path))
    return path


@pytest.mark.parametrize("ext", [".jsonl", ".json", ".csv", ".parquet"])
def test_local_folder_with_train_and_test_files(tmp_path, ext):
    write_rows(tmp_path / f"train{ext}", TRAIN)
    write_rows(tmp_path / f"test{ext}", TEST)
    (tmp_path / "README.md").write_text("not data", encoding="utf-8")
    splits = {s.name: s for s in load_local(tmp_path)}
    assert set(splits) == {"train", "test"}
    assert splits["train"].rows == TRAIN
    assert splits["test"].rows == TEST
    assert splits["train"].origin == str(tmp_path / f"train{ext}")


def test_split_file_names_are_recognised(tmp_path):
    for name in ("train-00000-of-00001.parquet", "validation.jsonl", "test.csv", "notes.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    found = find_split_files(tmp_path)
    assert {k: v.name for k, v in found.items()} == {
        "train": "train-00000-of-00001.parquet",
        "val": "validation.jsonl",
        "test": "test.csv",
    }


def test_single_file_source_is_the_train_split(tmp_path):
    path = write_rows(tmp_path / "mine.jsonl", TRAIN)
    (split,) = load_local(path)
    assert split == RawSplit("train", str(path), TRAIN)


def test_folder_without_train_file(tmp_path):
    write_rows(tmp_path / "test.jsonl", TEST)
    with pytest.raises(UserError, match=r"no train file found"):
        load_local(tmp_path)


def test_two_files_for_one_split(tmp_path):
    write_rows(tmp_path / "train.jsonl", TRAIN)
    write_rows(tmp_path / "train.csv", TRAIN)
    with pytest.raises(UserError, match="two files for split 'train'"):
        load_local(tmp_path)


def test_missing_path_and_unsupported_extension(tmp_path):
    with pytest.raises(UserError, match=r"prepare\.path does not exist"):
        load_local(tmp_path / "absent")
    txt = tmp_path / "train.txt"
    txt.write_text("hello\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"train\.txt: unsupported file type \(expected .jsonl"):
        load_local(txt)


def test_malformed_json_line_names_file_and_row(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(TRAIN[0]), json.dumps(TRAIN[1]), '{"question": "broken", "answer": ']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:3: not valid JSON"):
        load_local(tmp_path)
    path.write_text(json.dumps(TRAIN[0]) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:2: expected a JSON object"):
        load_file(path)


def test_malformed_json_array_file_names_file_and_line(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(
        '[\n {"question": "a", "answer": "#### 1"},\n {"question": }\n]\n', encoding="utf-8"
    )
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:3: not valid JSON"):
        load_file(path)


@pytest.mark.parametrize("ext", [".jsonl", ".json"])
def test_invalid_utf8_names_file_and_line(tmp_path, ext):
    path = tmp_path / f"train{ext}"
    path.write_bytes(json.dumps(TRAIN[0]).encode() + b"\n" + b'{"question": "caf\xe9"}\n')
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:2: expected UTF-8 text"):
        load_local(tmp_path)


@pytest.mark.parametrize(("ext", "text"), [(".jsonl", ""), (".jsonl", "\n  \n"), (".json", "[]")])
def test_empty_file_says_so(tmp_path, ext, text):
    path = tmp_path / f"train{ext}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}: empty file"):
        load_file(path)


@pytest.mark.skipif(not GSM8K.is_dir(), reason="official GSM8K copy not present")
def test_official_gsm8k_folder_loads_both_splits():
    splits = {s.name: s for s in load_local(GSM8K)}
    assert len(splits["train"].rows) == 7473
    assert len(splits["test"].rows) == 1319
    first = splits["train"].rows[0]
    assert set(first) == {"question", "answer"}
    assert "####" in first["answer"]


def test_hub_source_offline_fails_fast_pointing_to_local_files(tmp_path):
    # A fresh process with an empty cache: offline mode is read when huggingface_hub is imported.
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path))
    code = (
        "import time\n"
        "import datasets\n"
        "from rewardpipe.data.sources import load_source\n"
        "from rewardpipe.errors import UserError\n"
        "start = time.monotonic()\n"
        "try:\n"
        "    load_source('hub', path=None, hub_name='openai/gsm8k', hub_config='main',"
        " n_train=1, n_test=1, seed=0)\n"
        "except UserError as exc:\n"
        "    print('USERERROR', exc)\n"
        "print('SECONDS', time.monotonic() - start)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "USERERROR" in proc.stdout and "openai/gsm8k" in proc.stdout
    assert "prepare.source=local" in proc.stdout and "prepare.path" in proc.stdout
    seconds = float(proc.stdout.rsplit("SECONDS", 1)[1])
    assert seconds < 10  # the load itself, not interpreter start-up and imports


def test_synthetic_source_returns_the_requested_sizes():
    splits = load_source(
        "synthetic", path=None, hub_name="x", hub_config=None, n_train=7, n_test=3, seed=1
    )
    assert [(s.name, len(s.rows)) for s in splits] == [("train", 7), ("test", 3)]
    train_q = {r["question"] for r in splits[0].rows}
    assert not train_q & {r["question"] for r in splits[1].rows}
    assert splits == load_synthetic(7, 3, 1)  # deterministic
    assert splits != load_synthetic(7, 3, 2)


def test_load_source_local_needs_a_path_and_rejects_unknown_sources():
    with pytest.raises(UserError, match=r"prepare\.path"):
        load_source("local", path=None, hub_name="x", hub_config=None, n_train=1, n_test=1, seed=0)
    with pytest.raises(UserError, match=r"prepare\.source"):
        load_source("nope", path=None, hub_name="x", hub_config=None, n_train=1, n_test=1, seed=0)


def test_content_hash_changes_when_a_row_changes():
    splits = [RawSplit("train", "t", [dict(r) for r in TRAIN]), RawSplit("test", "s", list(TEST))]
    before = content_hash(splits)
    assert content_hash(splits) == before
    assert len(before) == 64
    splits[0].rows[1]["answer"] = splits[0].rows[1]["answer"].replace("24", "25")
    assert content_hash(splits) != before
    renamed = [RawSplit("val", "t", TRAIN), RawSplit("test", "s", TEST)]
    assert content_hash(renamed) != content_hash([RawSplit("train", "t", TRAIN), *renamed[1:]])
