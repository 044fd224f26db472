"""GRPO end to end on a tiny random policy: the smoke config learns its toy reward, a resumed
run repeats an uninterrupted one, the export loads in transformers, and the optional pipeline
runs as a DVC experiment."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from pipeline_repo import dvc, make_repo

from rewardpipe import policy as policy_lm
from rewardpipe.grpo.run import Paths, run
from rewardpipe.params import load_section

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "pipelines" / "grpo" / "smoke.yaml"


def paths(root: Path) -> Paths:
    return Paths(
        root / "policy", root / "ckpt", root / "metrics", root / "eval.json", root / "work"
    )


def sections(**grpo):
    pp, policy, gp = (load_section(SMOKE, s) for s in ("prepare", "policy", "grpo"))
    return pp, policy, dataclasses.replace(gp, **grpo)


@pytest.mark.slow
def test_smoke_config_learns_the_toy_reward_and_exports_a_transformers_model(tmp_path):
    out = run(*sections(), paths(tmp_path), progress=False)
    summary = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    first, last = summary["reward_mean_first10"], summary["reward_mean_last10"]
    assert last > first + 0.1, (first, last)
    assert summary["steps"] == 30 and summary["train"]["kl"] > 0
    report = json.loads((tmp_path / "eval.json").read_text())
    for when in ("before", "after"):
        assert {
            "exact_accuracy",
            "numerical_accuracy",
            "partial_accuracy",
            "format_compliance",
        } <= set(report[when])
    curves = tmp_path / "metrics" / "plots" / "metrics"
    for name in ("train/reward/total", "train/reward/digits", "train/kl", "train/completion_length",
                 "val/accuracy"):  # fmt: skip
        assert (curves / f"{name}.tsv").is_file(), name
    # The export: transformers' logits equal ours (LoRA merged) within 1e-4.
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "policy").eval()
    ours = policy_lm.load_policy(tmp_path / "policy")
    tokens = np.random.default_rng(0).integers(0, ours.config.vocab_size, (2, 9)).astype(np.int32)
    with torch.no_grad():
        theirs = hf(torch.tensor(tokens, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(
        np.asarray(policy_lm.logits(ours, tokens, np.ones_like(tokens, bool))), theirs, atol=1e-4
    )
    # ...and the exported weights are the trained ones, not the base.
    assert out["result"].step == 30 and jax.tree.leaves(out["result"].lora)


@pytest.mark.slow
def test_resume_repeats_an_uninterrupted_run(tmp_path):
    params = sections(steps=4, checkpoint_every=2, keep_checkpoints=5, eval_every=2, log_every=1)
    full = run(*params, paths(tmp_path / "a"), progress=False)
    ckpts = paths(tmp_path / "a").checkpoints
    (run_dir,) = [p for p in ckpts.iterdir() if p.is_dir()]
    shutil.rmtree(run_dir / "4")  # as if the run stopped after step 2
    shutil.rmtree(tmp_path / "a" / "metrics")
    resumed = run(*params, paths(tmp_path / "a"), progress=False)
    assert resumed["result"].resumed_from == 2
    np.testing.assert_allclose(resumed["result"].history, full["result"].history, rtol=1e-5)
    for a, b in zip(
        jax.tree.leaves(resumed["result"].lora), jax.tree.leaves(full["result"].lora), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    lines = (tmp_path / "a" / "metrics" / "plots" / "metrics" / "train" / "loss.tsv").read_text()
    assert len(lines.strip().splitlines()) == 1 + 4  # header + one row per step, none repeated


@pytest.mark.slow
def test_grpo_pipeline_runs_as_a_dvc_experiment(tmp_path):
    grpo = {"steps": 3, "num_generations": 2, "batch_prompts": 2, "max_prompt_len": 32,
            "max_new_tokens": 4, "reward_weights": {"digits": 1.0, "numbers": 1.0},
            "val_questions": 4, "eval_questions": 4, "eval_batch": 4, "eval_every": 3,
            "log_every": 1, "checkpoint_every": 3, "lora_rank": 2,
            "tiny_policy": {"hidden_size": 16, "layers": 1, "heads": 2, "vocab_size": 320}}  # fmt: skip
    repo = make_repo(tmp_path / "r", {"grpo": grpo})
    dvc(repo, "exp", "run", "-n", "g1", "pipelines/grpo/dvc.yaml")
    shown = dvc(repo, "exp", "show", "--json").stdout
    assert "reward_mean_last10" in shown and "numerical_accuracy" in shown
    assert (repo / "models" / "grpo" / "policy" / "model.safetensors").is_file()


def test_the_learned_reward_model_joins_the_reward_mix(tmp_path):
    from publish_support import tiny_model_folder

    from rewardpipe.inference import RewardModel

    rm = tiny_model_folder(tmp_path / "rm")
    params = sections(
        steps=2, num_generations=2, batch_prompts=2, max_new_tokens=4, eval_questions=2,
        val_questions=2, eval_batch=2, log_every=1, eval_every=2, checkpoint_every=2,
        reward_model=str(rm), reward_weights={"reward_model": 1.0, "numbers": 0.5},
    )  # fmt: skip
    run(*params, paths(tmp_path / "g"), progress=False)
    curves = tmp_path / "g" / "metrics" / "plots" / "metrics" / "train" / "reward"
    rewards = {p.stem for p in curves.glob("*.tsv")}
    assert rewards == {"reward_model", "numbers", "total"}
    fn = RewardModel.from_pretrained(rm).as_reward_fn()
    assert np.isfinite(fn(["q"], ["#### 1"])[0])
