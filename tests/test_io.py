"""Tests for atomic output and line-numbered JSONL input (rewardpipe.io)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from rewardpipe.errors import UserError
from rewardpipe.io import (
    atomic_dir,
    atomic_path,
    read_json,
    read_jsonl,
    remove_stale_temps,
    write_json,
    write_jsonl,
    write_text,
)


class Boom(RuntimeError):
    pass


def test_atomic_path_replaces_target_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out" / "a.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new", encoding="utf-8")
        assert not target.exists()  # nothing visible until the body ends
    assert target.read_text(encoding="utf-8") == "new"
    assert os.listdir(target.parent) == ["a.txt"]


def test_atomic_path_keeps_target_when_the_body_raises(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(Boom), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise Boom
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_path_without_target_leaves_nothing_when_the_body_raises(tmp_path):
    with pytest.raises(Boom), atomic_path(tmp_path / "a.txt"):
        raise Boom
    assert os.listdir(tmp_path) == []


def test_atomic_outputs_remove_the_folders_they_made_when_the_body_raises(tmp_path):
    for atomic in (atomic_path, atomic_dir):
        with pytest.raises(Boom), atomic(tmp_path / "new" / "sub" / "out"):
            raise Boom
        assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("atomic", [atomic_path, atomic_dir])
def test_a_parent_that_is_a_file_is_a_user_error_before_the_body_runs(tmp_path, atomic):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    target = tmp_path / "notes.txt" / "out"
    message = f"{target}: {tmp_path / 'notes.txt'} is a file, not a folder"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"), atomic(target):
        raise AssertionError("the body ran")
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_atomic_path_onto_a_folder_is_a_user_error_before_the_body_runs(tmp_path):
    (tmp_path / "folder").mkdir()
    message = r"folder: is a folder \(expected a file path\)"
    with pytest.raises(UserError, match=message), atomic_path(tmp_path / "folder"):
        raise AssertionError("the body ran")
    assert os.listdir(tmp_path) == ["folder"]


@pytest.mark.parametrize("atomic", [atomic_path, atomic_dir])
def test_a_user_error_inside_names_the_output_not_the_temp(tmp_path, atomic):
    target = tmp_path / "export"
    with pytest.raises(UserError) as info, atomic(target) as tmp:
        raise UserError(f"{tmp}/config.json: files: expected an object")
    assert str(info.value) == f"{target}/config.json: files: expected an object"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    # Temp files are private (0600) by default; outputs must not stay private after the rename.
    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "b.txt").write_text("y", encoding="utf-8")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755


def test_atomic_dir_replaces_whole_folder(tmp_path):
    target = tmp_path / "prepared"
    target.mkdir()
    (target / "stale.jsonl").write_text("old", encoding="utf-8")
    with atomic_dir(target) as tmp:
        (tmp / "train.jsonl").write_text("new", encoding="utf-8")
        assert not (target / "train.jsonl").exists()
    assert sorted(os.listdir(target)) == ["train.jsonl"]
    assert os.listdir(tmp_path) == ["prepared"]


def test_atomic_dir_keeps_old_folder_when_the_body_raises(tmp_path):
    target = tmp_path / "prepared"
    target.mkdir()
    (target / "train.jsonl").write_text("old", encoding="utf-8")
    with pytest.raises(Boom), atomic_dir(target) as tmp:
        (tmp / "train.jsonl").write_text("half", encoding="utf-8")
        raise Boom
    assert (target / "train.jsonl").read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["prepared"]
    with pytest.raises(Boom), atomic_dir(tmp_path / "fresh"):
        raise Boom
    assert os.listdir(tmp_path) == ["prepared"]


def test_atomic_outputs_remove_what_a_killed_run_left(tmp_path):
    target = tmp_path / "prepared"
    stale_dir = tmp_path / ".prepared.0123456789ab.tmp"
    (stale_dir / "sub").mkdir(parents=True)
    (stale_dir / "sub" / "train.jsonl").write_text("half", encoding="utf-8")
    (tmp_path / ".prepared.old").mkdir()
    keep = [".prepared.notes.tmp", ".prepared.0123456789ab.tmp.bak", ".other.0123456789ab.tmp"]
    for name in keep:  # not this module's naming pattern for `prepared`: left alone
        (tmp_path / name).write_text("mine", encoding="utf-8")
    with atomic_dir(target) as tmp:
        (tmp / "train.jsonl").write_text("new", encoding="utf-8")
    assert sorted(os.listdir(tmp_path)) == sorted(["prepared", *keep])
    (tmp_path / ".eval.json.fedcba987654.tmp").write_text("{", encoding="utf-8")
    write_json(tmp_path / "eval.json", {"a": 1})
    assert not (tmp_path / ".eval.json.fedcba987654.tmp").exists()
    assert remove_stale_temps(tmp_path / "absent" / "x") == []


def test_write_and_read_json_and_jsonl_round_trip(tmp_path):
    rows = [{"id": "a", "text": "naïve ✓"}, {"id": "b", "n": [1, 2.5, None]}]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    raw = (tmp_path / "rows.jsonl").read_text(encoding="utf-8")
    assert raw.count("\n") == 2 and "naïve ✓" in raw  # one object per line, UTF-8 as is
    assert read_jsonl(tmp_path / "rows.jsonl") == rows
    write_json(tmp_path / "stats.json", {"x": 1})
    assert read_json(tmp_path / "stats.json") == {"x": 1}
    assert json.loads((tmp_path / "stats.json").read_text(encoding="utf-8")) == {"x": 1}


def test_write_jsonl_keeps_target_when_a_row_fails(tmp_path):
    target = tmp_path / "rows.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise Boom

    with pytest.raises(Boom):
        write_jsonl(target, rows())
    assert read_jsonl(target) == [{"a": 1}]
    assert os.listdir(tmp_path) == ["rows.jsonl"]


def test_read_jsonl_names_file_and_line_of_a_malformed_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": \n', encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:4: not valid JSON"):
        read_jsonl(path)


def test_read_jsonl_names_file_and_line_of_a_non_object_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(path))}:2: expected a JSON object, got list"
    ):
        read_jsonl(path)


def test_read_jsonl_skips_blank_lines_and_reports_missing_files(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('\n{"a": 1}\n   \n{"a": 2}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    with pytest.raises(UserError, match="file not found"):
        read_jsonl(tmp_path / "absent.jsonl")


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:2: expected UTF-8 text"):
        read_jsonl(path)
    path = tmp_path / "x.json"
    path.write_bytes(b'{\n "a": "\xc3"\n}\n')
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:2: expected UTF-8 text"):
        read_json(path)


def test_a_lone_surrogate_escape_names_file_line_and_field(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"question": "ok \\ud83d\\ude00"}\n{"candidates": ["fine", {"text": "x\\ud800"}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(UserError) as err:
        read_jsonl(path)
    assert str(err.value) == (
        f"{path}:2: candidates[1].text: not valid Unicode text (lone surrogate '\\ud800' at "
        "character 1)"
    )  # a proper surrogate pair (line 1) is an emoji, and fine
    path.write_text('{"q": "\\ud83d\\ude00"}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"q": "\U0001f600"}]


def test_read_json_errors_name_the_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{\n  "a": 1,\n}\n', encoding="utf-8")
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}:3: not valid JSON"):
        read_json(path)
    with pytest.raises(UserError, match="file not found"):
        read_json(tmp_path / "absent.json")
