"""The grpo stage's work: questions from the prepare source, the policy (a Hugging Face CausalLM
folder or a tiny random one), the reward mix, training, before/after accuracy and the export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
from dvclive import Live

from rewardpipe import policy as policy_lm
from rewardpipe import pretrained
from rewardpipe.chat_format import PromptFormat
from rewardpipe.data.solution import final_answer
from rewardpipe.errors import UserError
from rewardpipe.grpo import reward_mix
from rewardpipe.grpo.export import export_policy
from rewardpipe.grpo.trainer import Questions, Trainer, merged_policy, reward_means, train
from rewardpipe.io import read_json, write_json
from rewardpipe.model.decoder_weights import read_hf_json
from rewardpipe.params import GrpoParams, PolicyParams, PrepareParams, to_dict
from rewardpipe.policy_text import prompt_text, source_splits, tiny_policy_folder
from rewardpipe.training import curves
from rewardpipe.training.checkpoints import Checkpoints, config_hash, run_dir

FORMAT = 2  # 2: the LoRA tree of rewardpipe.policy.PolicyLM
NOT_IN_IDENTITY = ("log_every", "eval_every", "checkpoint_every", "keep_checkpoints",
                   "eval_questions", "eval_batch")  # fmt: skip


@dataclass
class Paths:
    out: Path  # the exported policy (Hugging Face CausalLM folder)
    checkpoints: Path
    metrics: Path  # dvclive folder: metrics.json + plots
    eval: Path  # eval.json (before / after)
    work: Path  # the tiny policy's folder when policy.pretrained is null


def questions(rows: list[dict[str, Any]], fmt: PromptFormat, instruction: str) -> Questions:
    qs, answers = [], []
    for i, row in enumerate(rows):
        ref = final_answer(str(row.get("answer", "")))
        if not row.get("question") or ref is None:
            raise UserError(
                f"grpo: question {i}: expected 'question' and an answer ending in '#### N'"
            )
        qs.append(str(row["question"]))
        answers.append(ref)
    prompts = [prompt_text(fmt, q, instruction) for q in qs]
    return Questions(prompts, qs, answers)


def run(
    pp: PrepareParams, policy: PolicyParams, gp: GrpoParams, paths: Paths, *, progress: bool = True
) -> dict:
    splits = source_splits(pp, "grpo")
    lora = {
        "lora_rank": gp.lora_rank,
        "lora_alpha": gp.lora_alpha,
        "lora_targets": tuple(gp.lora_targets),
        "compute_dtype": gp.precision,
    }
    if policy.pretrained:
        folder = pretrained.resolve(policy.pretrained, policy.revision)
        hf = read_hf_json(folder / "config.json")
        model = policy_lm.load_policy(folder, seed=gp.seed, **lora)
    else:
        texts = [f"{r['question']}\n\n{r['answer']}" for r in splits["train"]]
        positions = gp.max_prompt_len + gp.max_new_tokens
        folder, hf = tiny_policy_folder(paths.work, texts, gp.tiny_policy, positions)
        model = policy_lm.random_policy(hf, gp.seed, **lora)
    fmt = PromptFormat.from_folder(folder)
    eos = fmt.tokenizer.token_to_id(fmt.eos_token) if fmt.eos_token else None
    if eos is None:
        raise UserError(
            f"{folder}: tokenizer_config.json: eos_token: missing or not in the vocabulary"
        )
    pad = hf.get("pad_token_id")
    pad = pad if isinstance(pad, int) else eos
    train_rows = splits["train"][
        : None if gp.train_questions is None else gp.train_questions + gp.val_questions
    ]
    if len(train_rows) <= gp.val_questions + gp.batch_prompts:
        raise UserError(
            f"grpo: {len(train_rows)} train questions; need more than val_questions + batch_prompts"
        )
    val = questions(train_rows[-gp.val_questions :], fmt, gp.instruction)
    train_q = questions(train_rows[: -gp.val_questions], fmt, gp.instruction)
    test = questions(splits["test"][: gp.eval_questions], fmt, gp.instruction)
    reward_fn = None
    if gp.reward_weights.get("reward_model"):
        from rewardpipe.inference import RewardModel

        reward_fn = RewardModel.from_pretrained(gp.reward_model).as_reward_fn()
    mix = reward_mix.build(
        gp.reward_weights, answer_format=gp.answer_format, reward_model=reward_fn
    )
    trainer = Trainer(model, fmt, pad, eos, gp)
    identity = {
        "grpo": {k: v for k, v in to_dict(gp).items() if k not in NOT_IN_IDENTITY},
        "policy": to_dict(policy),
        "prepare": to_dict(pp),
        "devices": jax.device_count(),
        "format": FORMAT,
    }
    checkpoints = Checkpoints(run_dir(paths.checkpoints, identity), identity, gp.keep_checkpoints)
    resume = checkpoints.latest_step()
    curves.restore(paths.metrics, None if resume is None else checkpoints.meta(resume)["curves"])
    before = trainer.evaluate(trainer.lora0, test)
    with Live(
        str(paths.metrics),
        dvcyaml=False,
        save_dvc_exp=False,
        resume=resume is not None,
        report=None,
    ) as live:
        result = train(
            trainer, train_q, val, mix, checkpoints=checkpoints, live=live, progress=progress
        )
    checkpoints.close()
    after = trainer.evaluate(result.lora, test)
    summary_path = paths.metrics / curves.SUMMARY
    summary = read_json(summary_path) if summary_path.is_file() else {}
    summary.update(reward_means(result.history), steps=result.step, run=config_hash(identity))
    write_json(summary_path, summary)
    write_json(paths.eval, {"before": before, "after": after, "questions": len(test.prompts)})
    export_policy(merged_policy(trainer, result.lora), hf, paths.out, folder)
    return {"summary": summary, "before": before, "after": after, "result": result}
