"""The `rewardpipe` command: option -> params mapping, errors without tracebacks, and (slow)
end to end on a tiny config in a throwaway git + DVC repo."""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rewardpipe import cli, cml_report
from rewardpipe.errors import UserError

REPO = Path(__file__).resolve().parents[1]
RUNNER = CliRunner()
COMMANDS = [[], ["dataset"], ["dataset", "prepare"], ["train"], ["evaluate"], ["deploy"], ["monitor"], ["score"]]  # fmt: skip


def invoke(*args: str):
    return RUNNER.invoke(cli.app, list(args), prog_name="rewardpipe")


@pytest.fixture
def recorded(monkeypatch) -> list[dict[str, Any]]:
    """Run commands from the project root, recording each subprocess (and the temp params file
    it was given) instead of running it."""
    calls: list[dict[str, Any]] = []

    def fake(cmd, cwd=None):
        cmd = [str(c) for c in cmd]
        params = cmd[cmd.index("--params") + 1] if "--params" in cmd else None
        calls.append(
            {
                "cmd": cmd,
                "cwd": cwd,
                "params": yaml.safe_load(Path(params).read_text()) if params else None,
            }
        )

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(cli, "run_command", fake)
    return calls


# ------------------------------------------------------------------------- help and errors


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: rewardpipe" in result.output


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "rewardpipe"
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("rewardpipe "), proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--set", "lr"], "--set 'lr': expected SECTION.KEY=VALUE"),
        (["train", "--lora-rank", "4", "--no-lora"], "--lora-rank and --no-lora: give one of them"),
        (["train", "--stage", "deploy"], "--stage: expected prepare | train | evaluate | publish"),
        (["train", "--dataset", "preference"], "--path: dataset preference from local files needs --path"),
        (["evaluate", "--split", "dev"], "--split: expected test | val | train, got 'dev'"),
        (["evaluate", "--candidates", "nope.jsonl"], "nope.jsonl: --candidates: file not found"),
        (["deploy", "--checkpoint", "nope", "--repo-id", "u/m"], "nope: --checkpoint: expected a trained model folder"),
        (["monitor", "--compare", "only-one"], "--compare: name at least two runs"),
        (["monitor", "a", "b"], "one run at a time without --compare"),
        (["monitor", "--export", "x.txt"], "x.txt: export format: expected json | csv, got 'txt'"),
        (["dataset", "prepare", "--config", "custom", "--output-dir", "o", "--path", "p"], "--custom-config: dataset custom needs"),
        (["train", "--no-dvc", "--set", "train.lr=-1"], "train.lr: expected > 0, got -1"),
    ],
)  # fmt: skip
def test_errors_are_one_line_without_traceback(recorded, args, message):
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert recorded == []  # nothing ran


def test_a_params_error_names_the_given_file_not_its_temp_copy(recorded, tmp_path):
    params = tmp_path / "mine.yaml"
    params.write_text("train: {steps: 3}\nbogus: {}\n")
    result = invoke("train", "--no-dvc", "--params", str(params))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: {params}: unknown section(s) bogus\n"
    assert recorded == []


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_stage_args_come_from_dvc_yaml_with_replacements(monkeypatch):
    monkeypatch.chdir(REPO)
    args = cli.stage_args("evaluate", model="m", details=None, baseline="b.json")
    assert args == [
        "--params", "params.yaml", "--model", "m", "--test", "data/prepared/test.jsonl",
        "--output", "metrics/eval.json", "--headline", "metrics/headline.json",
        "--steps", "data/prepared/steps", "--baseline", "b.json",
    ]  # fmt: skip
    with pytest.raises(UserError, match=r"dvc\.yaml: no stage 'nope'"):
        cli.stage_args("nope")


def test_a_failing_subprocess_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"exit code 3 \(output above\)"):
        cli.run_command([sys.executable, "-c", "raise SystemExit(3)"], cwd=tmp_path)
    with pytest.raises(UserError, match="no-such-tool: command not found"):
        cli.run_command(["no-such-tool"])


# ----------------------------------------------------------------- options -> params


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("gsm8k",), {"prepare.dataset": "gsm8k", "prepare.source": "hub", "prepare.hub_name": "openai/gsm8k", "prepare.hub_config": "main"}),
        (("gsm8k", None, "/data/gsm8k"), {"prepare.dataset": "gsm8k", "prepare.source": "local", "prepare.path": "/data/gsm8k"}),
        (("openrubrics",), {"prepare.dataset": "rubric", "prepare.source": "hub", "prepare.hub_name": "OpenRubrics/OpenRubric-v2", "prepare.hub_config": None}),
        (("synthetic",), {"prepare.dataset": "gsm8k", "prepare.source": "synthetic"}),
        (("preference", None, "prefs.jsonl"), {"prepare.dataset": "preference", "prepare.source": "local", "prepare.path": "prefs.jsonl"}),
        (("preference", "hub", None, None, "org/prefs"), {"prepare.dataset": "preference", "prepare.source": "hub", "prepare.hub_name": "org/prefs", "prepare.hub_config": None}),
        ((None, None, "/data/mine.jsonl"), {"prepare.source": "local", "prepare.path": "/data/mine.jsonl"}),
        ((None, "hub"), {"prepare.source": "hub"}),
        (("custom", None, "x.csv", Path("map.yaml"), None, False), {"prepare.dataset": "custom", "prepare.source": "local", "prepare.path": "x.csv", "prepare.custom_config": "map.yaml", "prepare.validate": False}),
    ],
)  # fmt: skip
def test_dataset_names_map_to_prepare_params(args, expected):
    assert cli.dataset_overrides(*args) == expected


def test_preference_from_the_hub_needs_a_name():
    with pytest.raises(
        UserError, match="dataset preference has no default Hub id; pass --hub-name"
    ):
        cli.dataset_overrides("preference", "hub")


def test_train_options_map_to_params():
    assert cli.train_overrides(steps=50, lr=1e-4, batch_size=8, grad_accum=2, lora_rank=8) == {
        "train.steps": 50, "train.lr": 1e-4, "train.batch_size": 8, "train.grad_accum": 2, "model.lora_rank": 8,
    }  # fmt: skip
    assert cli.train_overrides(no_lora=True) == {"model.lora_rank": 0}
    assert cli.train_overrides() == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "null"), (True, "true"), (3, "3"), (1e-4, "0.0001"), ("openai/gsm8k", "openai/gsm8k"),
     ("two words", '"two words"'), ("true", '"true"'), ("1e-3", '"1e-3"'), (["a", "b c"], '[a,"b c"]')],
)  # fmt: skip
def test_override_values_read_back_as_the_same_yaml(value, text):
    assert cli.format_override(value) == text
    assert yaml.safe_load(text) == value or text == "0.0001"


def test_train_runs_a_named_dvc_experiment(recorded):
    result = invoke("train", "--steps", "50", "--lr", "0.001", "--run-name", "exp-x", "--set", "model.d_model=64", "--stage", "evaluate")  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = recorded
    assert Path(call["cmd"][0]).name == "dvc"
    assert call["cmd"][1:] == ["exp", "run", "-n", "exp-x", "-S", "train.steps=50", "-S", "train.lr=0.001", "-S", "model.d_model=64", "evaluate"]  # fmt: skip


def test_train_with_a_dataset_sets_prepare_params(recorded):
    assert invoke("train", "--dataset", "openrubrics").exit_code == 0
    cmd = recorded[0]["cmd"]
    assert "prepare.dataset=rubric" in cmd and "prepare.hub_name=OpenRubrics/OpenRubric-v2" in cmd
    assert "prepare.hub_config=null" in cmd


def test_train_no_dvc_runs_the_stages_with_a_temp_params_file(recorded):
    result = invoke(
        "train", "--no-dvc", "--steps", "7", "--dataset", "synthetic", "-S", "train.seed=3"
    )
    assert result.exit_code == 0, result.output
    assert [Path(c["cmd"][1]).name for c in recorded] == ["prepare.py", "train.py"]
    params = recorded[1]["params"]
    assert params["train"]["steps"] == 7 and params["train"]["seed"] == 3
    assert params["prepare"]["source"] == "synthetic"
    # the rest is params.yaml as it is
    assert params["model"] == yaml.safe_load((REPO / "params.yaml").read_text())["model"]


def test_dataset_prepare_runs_the_stage_into_the_output_dir(recorded):
    result = invoke("dataset", "prepare", "--config", "gsm8k", "--output-dir", "data/gsm8k", "--path", "raw/gsm8k", "--no-validate")  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = recorded
    assert call["cmd"][0] == sys.executable and call["cmd"][1].endswith("stages/prepare.py")
    assert flag(call["cmd"], "--out") == "data/gsm8k"
    p = call["params"]["prepare"]
    assert (p["dataset"], p["source"], p["path"], p["validate"]) == (
        "gsm8k",
        "local",
        "raw/gsm8k",
        False,
    )


def test_evaluate_of_the_pipeline_model_is_an_experiment(recorded):
    assert invoke("evaluate", "--num-samples", "20").exit_code == 0
    assert recorded[0]["cmd"][1:] == ["exp", "run", "-S", "evaluate.num_samples=20", "evaluate"]


def test_evaluate_of_another_checkpoint_runs_the_stage_to_results(recorded, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    assert invoke("evaluate", "--checkpoint", str(model), "--num-samples", "5").exit_code == 0
    cmd = recorded[0]["cmd"]
    assert cmd[1].endswith("stages/evaluate.py")
    assert cmd[cmd.index("--model") + 1] == str(model.resolve())
    assert cmd[cmd.index("--output") + 1] == str(REPO / "results" / "eval.json")
    assert cmd[cmd.index("--details") + 1] == str(REPO / "results" / "eval")
    assert "--headline" not in cmd  # the pipeline's headline metrics are left alone
    assert recorded[0]["params"]["evaluate"]["num_samples"] == 5


def test_evaluate_predictions_mode(recorded, tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text("{}\n")
    assert (
        invoke(
            "evaluate", "--predictions", str(preds), "--output", str(tmp_path / "p.json")
        ).exit_code
        == 0
    )
    cmd = recorded[0]["cmd"]
    assert cmd[cmd.index("--predictions") + 1] == str(preds) and "--model" not in cmd


def test_deploy_maps_to_the_publish_stage(recorded, tmp_path):
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    result = invoke(
        "deploy", "--checkpoint", str(tmp_path), "--repo-id", "me/rm", "--private",
        "--commit-message", "v1", "--tags", "a,b", "--tags", "c", "--model-card", str(card),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = recorded
    cmd = call["cmd"]
    assert cmd[1].endswith("stages/publish.py") and flag(cmd, "--model") == str(tmp_path)
    assert (flag(cmd, "--out"), flag(cmd, "--metrics")) == ("models/export", "metrics/publish.json")
    assert call["params"]["publish"] | {"license": None} == {
        "push": True, "repo_id": "me/rm", "private": True, "commit_message": "v1",
        "license": None, "tags": ["a", "b", "c"], "model_card": str(card), "validate_only": False,
        "max_shard_bytes": 2_000_000_000,
    }  # fmt: skip


def test_deploy_validate_only_pushes_nothing(recorded, tmp_path):
    assert (
        invoke(
            "deploy", "--checkpoint", str(tmp_path), "--repo-id", "me/rm", "--validate-only"
        ).exit_code
        == 0
    )
    call = recorded[0]
    # exported into a scratch folder: the pipeline's models/export and metrics stay untouched
    params_dir = str(Path(flag(call["cmd"], "--params")).parent)
    assert flag(call["cmd"], "--out").startswith(params_dir)
    assert flag(call["cmd"], "--metrics").startswith(params_dir)
    assert call["params"]["publish"]["push"] is False


def test_score_delegates_to_inference(monkeypatch, tmp_path):
    import rewardpipe.inference as inference

    seen = []
    monkeypatch.setattr(inference, "score_file", lambda *a: seen.append(a))
    result = invoke(
        "score", "--model", "m", "--input", "in.jsonl", "--output", str(tmp_path / "o.jsonl")
    )
    assert result.exit_code == 0, result.output
    assert seen == [("m", Path("in.jsonl"), tmp_path / "o.jsonl", 64)]


@pytest.fixture(scope="module")
def score_input(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model folder and a one-row candidates file to score."""
    from publish_support import tiny_model_folder

    root = tmp_path_factory.mktemp("score")
    src = root / "in.jsonl"
    src.write_text(json.dumps({"question": "What is 2 + 2?", "candidates": ["#### 4", "#### 5"]}))
    return tiny_model_folder(root / "model"), src


def test_score_writes_the_output_and_nothing_else(score_input, tmp_path):
    model, src = score_input
    out = tmp_path / "new" / "scored.jsonl"
    result = invoke("score", "--model", str(model), "--input", str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert [type(c["reward"]) for c in row["candidates"]] == [float, float]
    assert os.listdir(out.parent) == ["scored.jsonl"]


def _refuse(self: Path, *args: Any, **kwargs: Any) -> None:
    raise PermissionError(errno.EACCES, "Permission denied", str(self))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("folder", "{out}: is a folder (expected a file path)"),
        ("parent_is_a_file", "{out}: {root}/notes.txt is a file, not a folder"),
        ("read_only", "{out}: cannot write here (Permission denied)"),
        ("no_model", "{root}/nope: model folder not found"),
    ],
)
def test_score_to_an_unwritable_output_is_one_error_line(
    score_input, tmp_path, monkeypatch, case, message
):
    model, src = score_input
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "existing").mkdir()
    out = {
        "folder": tmp_path / "existing",
        "parent_is_a_file": tmp_path / "notes.txt" / "scored.jsonl",
        "read_only": tmp_path / "existing" / "scored.jsonl",
        "no_model": tmp_path / "new" / "sub" / "scored.jsonl",  # fails after the output is claimed
    }[case]
    if case == "read_only":
        monkeypatch.setattr(
            Path, "touch", _refuse
        )  # a read-only folder (chmod would not stop root)
    if case == "no_model":
        model = tmp_path / "nope"
    result = invoke("score", "--model", str(model), "--input", str(src), "--output", str(out))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr == f"error: {message.format(out=out, root=tmp_path)}\n"
    assert sorted(os.listdir(tmp_path)) == ["existing", "notes.txt"]
    assert os.listdir(tmp_path / "existing") == []


def test_resume_from_copies_checkpoints_where_the_train_stage_looks(tmp_path):
    from rewardpipe.training.checkpoints import CONFIG_FILE, config_hash, copy_runs

    config = {"model": {"d_model": 32}, "train": {"steps": 12}, "data_sha256": "x", "devices": 1}
    src = tmp_path / "elsewhere" / "abc"
    (src / "6").mkdir(parents=True)
    (src / CONFIG_FILE).write_text(json.dumps(config))
    (src / "6" / "state").write_text("weights")
    for source in (src, src.parent):  # the run folder itself, or a folder of runs
        ((_, target),) = copy_runs(source, tmp_path / "checkpoints")
        assert target == tmp_path / "checkpoints" / config_hash(config)
        assert (target / "6" / "state").read_text() == "weights"
    with pytest.raises(
        UserError, match=r"--resume-from: no run_config\.json here or one level down"
    ):
        copy_runs(tmp_path / "checkpoints" / config_hash(config) / "6", tmp_path / "c2")


# --------------------------------------------------------------------- end to end (slow)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """A tiny repo with two experiments made through the CLI: exp-a, and exp-b with a higher lr."""
    from pipeline_repo import make_repo

    repo = make_repo(tmp_path_factory.mktemp("cli-repo"))
    rp(repo, "train", "--run-name", "exp-a", "--stage", "evaluate")
    rp(repo, "train", "--run-name", "exp-b", "--lr", "0.004", "--stage", "evaluate")
    return repo


def rp(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    from pipeline_repo import env

    exe = Path(sys.executable).parent / "rewardpipe"
    proc = subprocess.run(
        [str(exe), *args], cwd=repo, env=env(), capture_output=True, text=True, timeout=900
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"rewardpipe {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def exp_rows(repo: Path) -> dict[str, dict[str, Any]]:
    from pipeline_repo import dvc

    rows = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    return {
        r["name"]: r["data"]
        for row in rows
        for g in row.get("experiments") or []
        for r in g["revs"]
    }


@pytest.mark.slow
def test_e2e_train_records_experiments_in_dvc_exp_show(e2e):
    exps = exp_rows(e2e)
    assert {"exp-a", "exp-b"} <= set(exps)
    assert exps["exp-b"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.004
    assert exps["exp-a"]["params"]["params.yaml"]["data"]["train"]["lr"] != 0.004
    for name in ("exp-a", "exp-b"):
        metrics = exps[name]["metrics"]
        assert "data" in metrics["metrics/headline.json"], (
            f"{name}: no eval metrics recorded: {metrics}"
        )
        assert metrics["metrics/headline.json"]["data"]["steps"] == 12


@pytest.mark.slow
def test_e2e_monitor_one_run_shows_its_metrics_and_curves(e2e):
    out = rp(e2e, "monitor", "--run", "exp-a", "--width", "60", "--height", "10").stdout
    pairwise = exp_rows(e2e)["exp-a"]["metrics"]["metrics/headline.json"]["data"][
        "pairwise_accuracy"
    ]
    assert out.startswith("run exp-a (rev ")
    assert f"pairwise_accuracy {pairwise:.4f}".split() == next(
        line.split() for line in out.splitlines() if line.startswith("pairwise_accuracy ")
    )
    for curve in ("train/loss", "val/accuracy", "val/loss"):
        assert any(line.startswith(curve + " ") for line in out.splitlines()), curve
    assert out.count("┌") >= 3  # three default plots


@pytest.mark.slow
def test_e2e_monitor_compares_experiments_and_exports(e2e):
    out = rp(
        e2e, "monitor", "--compare", "exp-a", "exp-b", "--export", "curves.json", "--width", "60"
    ).stdout
    table = [
        line.split() for line in out.splitlines() if line.startswith(("run ", "exp-a ", "exp-b "))
    ]
    assert (
        table[0][:3] == ["run", "rev", "train.lr"]
        and table[2][0] == "exp-b"
        and table[2][2] == "0.0040"
    )
    assert "exp-a" in out.split("train/loss")[-1]  # the overlaid plot's legend
    runs = json.loads((e2e / "curves.json").read_text())["runs"]
    assert set(runs) == {"exp-a", "exp-b"}
    assert [p["step"] for p in runs["exp-b"]["train/loss"]] == [3, 6, 9, 12]
    assert runs["exp-a"]["val/accuracy"] != runs["exp-b"]["val/accuracy"]
    rp(e2e, "monitor", "--run", "exp-b", "--no-plots", "--export", "b.csv")
    rows = list(csv.DictReader((e2e / "b.csv").open()))
    assert {r["run"] for r in rows} == {"exp-b"} and {"train/loss", "val/accuracy"} <= {
        r["metric"] for r in rows
    }


@pytest.mark.slow
def test_e2e_plots_of_two_experiments_render_for_the_pr_report(e2e, tmp_path):
    from pipeline_repo import dvc

    spec = json.loads(dvc(e2e, "plots", "diff", "exp-a", "exp-b", "--json").stdout)
    names = {p.name for p in cml_report.render_plots(spec, tmp_path)}
    assert {"roc.png", "reward_histogram.png", "reliability.png", "curve_train_loss.png"} <= names
    base = cml_report.read_json_at(e2e, "exp-a", "metrics/eval.json")
    head = cml_report.read_json_at(e2e, "exp-b", "metrics/eval.json")
    assert base and head and base != head
    assert cml_report.read_json_at(e2e, "no-such-rev", "metrics/eval.json") is None


@pytest.mark.slow
def test_e2e_dataset_prepare_and_adhoc_evaluate(e2e):
    rp(e2e, "dataset", "prepare", "--config", "synthetic", "--output-dir", "data/extra")
    assert {p.name for p in (e2e / "data" / "extra").iterdir()} >= {"train.jsonl", "val.jsonl", "test.jsonl", "tokenizer.json", "stats.json"}  # fmt: skip
    rp(
        e2e,
        "evaluate",
        "--checkpoint",
        "models/model",
        "--split",
        "val",
        "--output",
        "results/val.json",
    )
    metrics = json.loads((e2e / "results" / "val.json").read_text())
    assert metrics["n_prompts"] > 0 and 0 <= metrics["ranking"]["pairwise_accuracy"] <= 1
    assert (e2e / "results" / "val" / "report.md").is_file()
    failed = rp(e2e, "monitor", "--run", "nope", check=False)
    assert failed.returncode == 1 and failed.stderr.startswith("error: unknown run(s) nope")
    assert "Traceback" not in failed.stderr
