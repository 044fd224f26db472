"""DVC's promise on a fresh clone: same inputs, same outputs, nothing to commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pipeline_repo import dvc, make_repo, run

pytestmark = pytest.mark.slow


def tracked(repo: Path) -> dict[str, bytes]:
    names = run(["git", "ls-files"], repo).stdout.split()
    return {name: (repo / name).read_bytes() for name in names}


def test_two_fresh_clones_reproduce_the_committed_lock_byte_for_byte(tmp_path):
    origin = make_repo(tmp_path / "origin")
    dvc(origin, "repro")
    run(["git", "add", "-A"], origin)
    run(["git", "commit", "-qm", "repro"], origin)
    assert run(["git", "status", "--porcelain"], origin).stdout == ""
    committed = tracked(origin)
    assert "dvc.lock" in committed and "metrics/train/metrics.json" in committed
    assert not any(name.startswith("metrics/train/plots/metrics/perf") for name in committed)
    for name in ("a", "b"):
        clone = tmp_path / name
        run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
        out = dvc(clone, "repro")
        assert "Running stage 'train'" in out.stdout  # nothing cached: everything really ran
        status = run(["git", "status", "--porcelain"], clone).stdout
        assert status == "", (
            f"clone {name}: a fresh clone's `dvc repro` changed tracked files:\n{status}"
        )
        assert tracked(clone) == committed
        again = dvc(clone, "repro")
        assert "Running stage" not in again.stdout, again.stdout
        assert (clone / "metrics" / "train" / "perf.json").is_file()  # timings: written, ignored


def test_git_ignores_the_timings_file(tmp_path):
    repo = make_repo(tmp_path / "r")
    (repo / "metrics" / "train").mkdir(parents=True)
    (repo / "metrics" / "train" / "perf.json").write_text("{}")
    proc = subprocess.run(
        ["git", "check-ignore", "metrics/train/perf.json"], cwd=repo, capture_output=True
    )
    assert proc.returncode == 0
