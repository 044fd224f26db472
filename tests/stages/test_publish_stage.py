"""stages/publish.py run as a subprocess: default paths, --validate-only, path arguments, and
pushes to the local mock Hub (the token never shows up in output or files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mock_hub import MockHub
from publish_support import tiny_model_folder, write_eval

from rewardpipe.publish import export

STAGE = Path(__file__).resolve().parents[2] / "stages" / "publish.py"
TOKEN = "hf_stageSECRETtoken9876543210"


PIPELINE_PATHS = {
    "--params": "params.yaml", "--model": "models/model", "--eval": "metrics/eval.json",
    "--out": "models/export", "--metrics": "metrics/publish.json",
}  # fmt: skip


def run_stage(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The stage with dvc.yaml's paths, `args` replacing some of them (or adding flags)."""
    flags = [a for a in args if a.startswith("--") and a not in PIPELINE_PATHS]
    given = dict(zip(*[iter(a for a in args if a not in flags)] * 2, strict=True))
    paths = [w for item in (PIPELINE_PATHS | given).items() for w in item]
    return subprocess.run(
        [sys.executable, str(STAGE), *paths, *flags],
        cwd=cwd,
        env=env or offline_env(cwd),
        capture_output=True,
        text=True,
        timeout=300,
    )


def offline_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(root / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1")
    return env


def hub_env(root: Path, endpoint: str, token: str | None) -> dict[str, str]:
    env = offline_env(root)
    del env["HF_HUB_OFFLINE"]
    env["HF_ENDPOINT"] = endpoint
    if token:
        env["HF_TOKEN"] = token
    return env


def write_params(path: Path, **publish: object) -> Path:
    path.write_text(yaml.safe_dump({"publish": publish}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository after `dvc repro evaluate` (not a git checkout)."""
    root = tmp_path_factory.mktemp("project")
    tiny_model_folder(root / "models" / "model")
    (root / "metrics").mkdir()
    write_eval(root / "metrics" / "eval.json")
    write_params(root / "params.yaml", license="mit", tags=["reward-model", "test"])
    return root


def test_default_paths_then_validate_only(project: Path) -> None:
    done = run_stage(project)
    assert done.returncode == 0, done.stderr
    assert "push: off (publish.push is false)" in done.stdout
    out = project / "models" / "export"
    assert sorted(p.name for p in out.iterdir()) == sorted(export.FILES)
    config = json.loads((out / "config.json").read_text())
    assert config["git_revision"] is None  # not a git checkout
    assert len(config["params_hash"]) == 64
    assert "license: mit" in (out / "README.md").read_text()
    record = json.loads((project / "metrics" / "publish.json").read_text())
    assert record["validated"] is True and record["pushed"] is False
    assert record["push"]["reason"] == "publish.push is false: nothing uploaded"
    assert record["files"]["model.safetensors"] == export.file_info(out / "model.safetensors")
    assert "seconds" not in json.dumps(record)  # same inputs, same metrics file

    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    published = (project / "metrics" / "publish.json").read_bytes()
    again = run_stage(project, "--validate-only")
    assert again.returncode == 0, again.stderr
    assert "nothing written" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps  # checked, not rewritten
    assert (project / "metrics" / "publish.json").read_bytes() == published  # only reads

    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    broken = run_stage(project, "--validate-only")
    assert broken.returncode == 1
    assert broken.stderr.startswith("error: ") and "model.safetensors" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_path_arguments_and_push_to_the_hub(project: Path, tmp_path: Path) -> None:
    params = write_params(
        tmp_path / "params.yaml",
        push=True,
        repo_id="alice/tiny-rm",
        private=True,
        commit_message="rewardpipe test upload",
    )
    paths = ["--params", str(params), "--model", str(project / "models" / "model")]
    paths += ["--eval", str(project / "metrics" / "eval.json")]
    paths += ["--out", str(tmp_path / "bundle"), "--metrics", str(tmp_path / "publish.json")]
    with MockHub(TOKEN) as mock:
        done = run_stage(tmp_path, *paths, env=hub_env(tmp_path, mock.url, TOKEN))
    assert done.returncode == 0, done.stderr
    (commit,) = mock.state.commits
    assert commit.summary == "rewardpipe test upload"
    assert sorted(commit.files) == sorted(export.FILES)
    assert (
        commit.files["model.safetensors"]
        == (tmp_path / "bundle" / "model.safetensors").read_bytes()
    )
    assert mock.state.repos["alice/tiny-rm"]["private"] is True
    record = json.loads((tmp_path / "publish.json").read_text())
    assert record["pushed"] is True
    assert record["push"]["repo_id"] == "alice/tiny-rm" and record["push"]["private"] is True
    assert record["push"]["revision"] == commit.oid
    assert record["push"]["commit_url"] == f"{mock.url}/alice/tiny-rm/commit/{commit.oid}"
    assert "from_pretrained('alice/tiny-rm')" in (tmp_path / "bundle" / "README.md").read_text()
    assert_token_absent(TOKEN, done, tmp_path)


def test_rejected_token_fails_with_advice(project: Path, tmp_path: Path) -> None:
    params = write_params(tmp_path / "params.yaml", push=True, repo_id="alice/tiny-rm")
    paths = [
        "--params",
        str(params),
        "--out",
        str(tmp_path / "bundle"),
        "--metrics",
        str(tmp_path / "p.json"),
    ]
    with MockHub(TOKEN) as mock:
        done = run_stage(project, *paths, env=hub_env(tmp_path, mock.url, "hf_revokedTOKEN"))
    assert done.returncode == 1
    assert "401" in done.stderr and "HF_TOKEN" in done.stderr and "Traceback" not in done.stderr
    assert not mock.state.commits
    assert not (tmp_path / "p.json").exists()
    assert_token_absent("hf_revokedTOKEN", done, tmp_path)


@pytest.mark.parametrize(
    ("publish", "token", "message"),
    [
        ({"push": True, "repo_id": "alice/tiny-rm"}, None, "no Hugging Face token"),
        ({"push": True, "repo_id": "not a repo"}, TOKEN, "publish.repo_id: expected a Hub repo id"),
    ],
)
def test_push_problems_fail_before_exporting(
    project: Path, tmp_path: Path, publish: dict, token: str | None, message: str
) -> None:
    params = write_params(tmp_path / "params.yaml", **publish)
    with MockHub(TOKEN) as mock:
        done = run_stage(
            project,
            *(
                "--params",
                str(params),
                "--out",
                str(tmp_path / "bundle"),
                "--metrics",
                str(tmp_path / "p.json"),
            ),
            env=hub_env(tmp_path, mock.url, token),
        )
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "bundle").exists() and mock.state.requests == []


def assert_token_absent(token: str, done: subprocess.CompletedProcess[str], root: Path) -> None:
    assert token not in done.stdout and token not in done.stderr
    for path in root.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_validate_only_param_exports_when_missing_and_never_pushes(
    project: Path, tmp_path: Path
) -> None:
    """Under `dvc repro` the output folder is removed first: validate_only then exports and
    checks, and uploads nothing even with push: true (no token needed)."""
    params = write_params(
        tmp_path / "params.yaml", push=True, repo_id="alice/tiny-rm", validate_only=True
    )
    paths = [
        "--params",
        str(params),
        "--out",
        str(tmp_path / "bundle"),
        "--metrics",
        str(tmp_path / "p.json"),
    ]
    with MockHub(TOKEN) as mock:
        done = run_stage(project, *paths, env=hub_env(tmp_path, mock.url, None))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == sorted(export.FILES)
    record = json.loads((tmp_path / "p.json").read_text())
    assert record["pushed"] is False and record["push"]["requested"] is True
    assert record["push"]["reason"] == "validate_only: nothing uploaded"
    assert mock.state.requests == []
