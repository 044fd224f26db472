"""A throwaway git + DVC copy of this repository with tiny params, for end-to-end tests."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GSM8K = ROOT.parent / "shared" / "data" / "gsm8k"

# Pipeline outputs and test-only files never go into the throwaway repo.
OUTPUTS = ("tests/", "notes/", "data/prepared/", "models/", "metrics/", "dvc.lock")

TINY = {
    "prepare": {"synthetic_train": 160, "synthetic_test": 24, "vocab_size": 600},
    "model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "max_len": 192},
    "train": {
        "steps": 12,
        "batch_size": 8,
        "warmup_steps": 2,
        "eval_every": 6,
        "save_every": 6,
        "log_every": 3,
    },
    "evaluate": {"batch_size": 32, "failures": 5},
}


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        DVC_NO_ANALYTICS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PATH=f"{BIN}{os.pathsep}{e.get('PATH', '')}",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t.invalid",
        # One compilation cache for every stage subprocess of the test session.
        JAX_COMPILATION_CACHE_DIR=str(Path(tempfile.gettempdir()) / "rewardpipe-tests-jax-cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
    )
    return e


def run(
    cmd: list[str],
    cwd: Path,
    check: bool = True,
    timeout: int = 900,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env() | (env_extra or {}), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def deep_update(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def make_repo(dest: Path, overrides: dict | None = None) -> Path:
    """Copy the tracked and unignored files, apply TINY + overrides to params.yaml, commit."""
    dest.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in files:
        src = ROOT / rel
        if src.is_file() and not rel.startswith(OUTPUTS):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    deep_update(params, json.loads(json.dumps(TINY)))
    deep_update(params, overrides or {})
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "init"], dest)
    return dest


def dvc(
    repo: Path, *args: str, check: bool = True, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return run([str(BIN / "dvc"), *args], repo, check=check, env_extra=env_extra)


def stage_cmd(repo: Path, name: str) -> list[str]:
    """The stage's command as dvc.yaml gives it, with this interpreter for `python`."""
    cmd = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][name]["cmd"]
    return [sys.executable, *shlex.split(cmd)[1:]]
