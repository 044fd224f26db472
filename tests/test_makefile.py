"""Makefile: `help` lists every target, and each target is a thin call to the CLI, DVC or pytest
(checked with `make -n`, which prints the commands without running them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TARGETS = [
    "install", "install-dev", "setup", "quickstart", "format", "lint", "lint-security", "test",
    "test-quick", "dev", "pre-commit", "prepare-gsm8k", "prepare-openrubrics", "train-small",
    "train", "train-full", "evaluate-quick", "evaluate", "grpo", "grpo-smoke", "deploy", "deploy-private", "monitor",
    "monitor-compare", "logs", "status", "clean", "clean-all", "version", "help",
]  # fmt: skip

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def dry(*args: str) -> list[str]:
    """The commands `make -n` would run (non-empty lines)."""
    proc = make("-n", *args)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


def test_help_lists_every_target_with_a_description():
    proc = make("help")
    assert proc.returncode == 0, proc.stderr
    described = {}
    for line in proc.stdout.splitlines():
        name, _, text = line.strip().partition(" ")
        described[name] = text.strip()
    missing = [t for t in TARGETS if t not in described]
    assert not missing, f"not in `make help`: {missing}"
    assert all(described[t] for t in TARGETS)


def test_every_target_is_phony():
    phony = (REPO / "Makefile").read_text().split(".PHONY:", 1)[1].split("\n\n", 1)[0]
    declared = set(phony.replace("\\\n", " ").split())
    assert set(TARGETS) <= declared, set(TARGETS) - declared


def test_status_shows_only_what_differs_between_experiments():
    assert dry("status") == [
        ".venv/bin/dvc status",
        ".venv/bin/dvc exp show --no-pager --only-changed",
    ]


def test_test_target_installs_dev_tools_then_runs_pytest():
    assert dry("test") == ["scripts/setup.sh dev", ".venv/bin/pytest -q -n auto --dist loadfile"]
    assert dry("test-quick") == ['.venv/bin/pytest -q -n auto --dist loadfile -m "not slow"']


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["monitor"], ".venv/bin/rewardpipe monitor"),
        (["monitor", "RUN=exp-a"], ".venv/bin/rewardpipe monitor --run exp-a"),
        (["monitor-compare", "RUNS=exp-a exp-b"], ".venv/bin/rewardpipe monitor --compare exp-a exp-b"),
        (["train", "RUN_NAME=base"], ".venv/bin/rewardpipe train --run-name base"),
        (["evaluate"], ".venv/bin/rewardpipe evaluate"),
        (["evaluate-quick"], ".venv/bin/rewardpipe evaluate --num-samples 50 --output results/eval-quick.json"),
        (["deploy", "REPO_ID=me/rm"], "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 .venv/bin/rewardpipe deploy --checkpoint models/model --repo-id me/rm"),
        (["deploy-private", "REPO_ID=me/rm"], "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 .venv/bin/rewardpipe deploy --checkpoint models/model --repo-id me/rm --private"),
        (["prepare-gsm8k"], "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 .venv/bin/rewardpipe dataset prepare --config gsm8k --output-dir data/gsm8k"),
        (["prepare-openrubrics", "DATA_PATH=raw/or"], "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 .venv/bin/rewardpipe dataset prepare --config openrubrics --output-dir data/openrubrics --path raw/or"),
        (["lint-security"], ".venv/bin/bandit --ini .bandit -q -ll -r"),
        (["pre-commit"], ".venv/bin/pre-commit run --all-files"),
        (["quickstart"], ".venv/bin/dvc repro"),
    ],
)  # fmt: skip
def test_targets_are_thin_cli_calls(args, expected):
    assert expected in [" ".join(line.split()) for line in dry(*args)]


def test_train_small_and_full_pass_params_through_the_cli():
    (small,) = dry("train-small", "RUN_NAME=s")
    assert small.startswith(
        ".venv/bin/rewardpipe train --run-name s -S prepare.synthetic_train=400"
    )
    assert "-S train.steps=100" in small
    full = " ".join(" ".join(dry("train-full")).replace("\\", " ").split())
    assert "rewardpipe train --dataset gsm8k --steps 2000 --lr 1e-4 --lora-rank 16" in full
    assert "-S model.backbone=decoder -S model.pretrained=Qwen/Qwen2.5-0.5B-Instruct" in full
    assert "HF_HUB_OFFLINE=0" in full


@pytest.mark.parametrize(
    ("target", "variable"),
    [("deploy", "REPO_ID"), ("deploy-private", "REPO_ID"), ("monitor-compare", "RUNS")],
)
def test_targets_needing_a_variable_say_so(target, variable):
    proc = make("-n", target)
    assert proc.returncode != 0 and f"set {variable}=" in proc.stderr


def test_version_prints_the_versions():
    proc = make("version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        lines[0].startswith("rewardpipe ")
        and lines[1].startswith("dvc 3.")
        and lines[2].startswith("Python 3.11")
    )


def test_grpo_targets_run_the_optional_pipeline_and_the_smoke_config():
    (line,) = dry("grpo", "RUN_NAME=g")
    assert " ".join(line.split()) == ".venv/bin/dvc exp run -n g pipelines/grpo/dvc.yaml"
    (smoke,) = [" ".join(line.replace("\\", " ").split()) for line in [" ".join(dry("grpo-smoke"))]]
    assert smoke.startswith(".venv/bin/python stages/grpo.py --params pipelines/grpo/smoke.yaml")
    assert "--metrics metrics/grpo" in smoke


def test_sample_target_runs_the_optional_pipeline():
    (line,) = dry("sample", "RUN_NAME=s", "ARGS=-S sample.n=8")
    assert " ".join(line.split()) == (
        ".venv/bin/dvc exp run -n s -S sample.n=8 pipelines/sample/dvc.yaml"
    )
