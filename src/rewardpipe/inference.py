"""Scoring with a trained reward model: `RewardModel.from_pretrained(path_or_repo).score(...)`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from tokenizers import Tokenizer

from rewardpipe import model_folder
from rewardpipe.aggregate import check_aggregate, prm_aggregate
from rewardpipe.chat_format import PromptFormat
from rewardpipe.data.steps import split_steps
from rewardpipe.encoding import Encoder, PromptEncoder, pad_batch, scoring_batches
from rewardpipe.errors import UserError
from rewardpipe.io import atomic_path, invalid_text, read_jsonl, sha256_file
from rewardpipe.model import DecoderRewardModel, RewardTransformer
from rewardpipe.model.decoder_weights import weight_files
from rewardpipe.model_folder import DOWNLOAD
from rewardpipe.pretrained import is_hub_id, looks_like_path, resolve
from rewardpipe.step_encoding import StepEncoder
from rewardpipe.step_scoring import StepScorer

OBJECTIVES = ("outcome", "process")


class RewardModel:
    """A reward model with its tokenizer: `(prompt, completion) -> float`. A decoder model comes
    with its `PromptFormat` (chat template) and reads max_len and pad id from `config`.

    A process reward model (`config["objective"] == "process"`) also scores every step
    (`score_steps`: the probability that each solution line is correct, the final `#### N` line
    joining the last step); its `score` is `evaluation.process.prm_aggregate` of those
    (`aggregate`, default `min`)."""

    def __init__(
        self,
        model: RewardTransformer | DecoderRewardModel,
        tokenizer: Tokenizer | PromptFormat,
        config: dict[str, Any],
        aggregate: str = "min",
    ):
        self.config = config
        self.objective = config.get("objective", "outcome")
        if self.objective not in OBJECTIVES:
            raise UserError(
                f"config.json: objective: expected one of {', '.join(OBJECTIVES)}, "
                f"got {self.objective!r}"
            )
        self.encoder: Encoder | PromptEncoder
        if isinstance(model, DecoderRewardModel):
            self.max_len = int(config["model"]["max_len"])
            self.encoder = PromptEncoder(
                tokenizer, self.max_len, int(config["model"]["pad_token_id"])
            )
        else:
            self.max_len = model.config.max_len
            self.encoder = Encoder(tokenizer, self.max_len)
        reward = config.get("reward", {})
        self.reward_mean = float(reward.get("mean", 0.0))
        self.reward_std = float(reward.get("std", 1.0)) or 1.0
        self._graphdef, self._state = nnx.split(model)
        self._forward = jax.jit(self._apply)
        self.aggregate = check_aggregate(aggregate)
        self._steps: StepScorer | None = None
        if self.objective == "process":
            step_encoder = StepEncoder(self.encoder)
            recorded = config.get("separator")
            if recorded is not None and recorded != step_encoder.separator:
                raise UserError(
                    f"config.json: separator: the model was trained with {recorded!r} after each "
                    f"step but this tokenizer's is {step_encoder.separator!r}"
                )
            self.separator = step_encoder.separator
            self._steps = StepScorer(model, step_encoder)

    def _apply(self, state, tokens, mask):
        return nnx.merge(self._graphdef, state)(tokens, mask, deterministic=True)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | Path,
        revision: str | None = None,
        *,
        verify: bool = True,
        **hub_kwargs: Any,
    ) -> RewardModel:
        """A local folder, or a Hugging Face Hub repo id (downloaded with huggingface_hub;
        `revision` is a branch, tag or commit, `hub_kwargs` go to `snapshot_download`). With
        `verify`, the weights and tokenizer must match the sha256 that an exported bundle's
        config.json records (a train-stage model folder records none)."""
        name = str(path_or_repo_id)
        if looks_like_path(name) and not Path(name).exists():
            raise UserError(f"{name}: model folder not found")
        path = resolve(
            name, revision if is_hub_id(name) else None, allow_patterns=DOWNLOAD, **hub_kwargs
        )
        if verify:
            _verify_hashes(path, model_folder.read_config(path))
        model, tokenizer, config = model_folder.load(path)
        return cls(model, tokenizer, config)

    def score(self, prompt: str, completion: str) -> float:
        return self.score_batch([prompt], [completion])[0]

    @property
    def is_process(self) -> bool:
        return self._steps is not None

    @property
    def step_scorer(self) -> StepScorer | None:
        """A process model's batched step scorer (None for an outcome model)."""
        return self._steps

    def score_steps(self, question: str, solution: str) -> list[float]:
        """A process model's per-step scores (probability each step is correct)."""
        return self.score_steps_batch([question], [solution])[0]

    def score_steps_batch(
        self, prompts: Sequence[str], completions: Sequence[str], batch_size: int = 64
    ) -> list[list[float]]:
        """`score_steps` of many solutions, in input order."""
        if self._steps is None:
            raise UserError(
                "score_steps: this is an outcome reward model (one score per solution); "
                "train with train.objective=process for step scores"
            )
        if len(prompts) != len(completions):
            raise UserError(f"{len(prompts)} prompts but {len(completions)} completions")
        for i, text in enumerate(completions):
            if why := invalid_text(text):
                raise UserError(f"input {i}: solution: {why}")
        steps = [split_steps(c) or [c] for c in completions]
        return [s.tolist() for s in self._steps.score(list(prompts), steps, batch_size)]

    def score_batch(
        self,
        prompts: Sequence[str],
        completions: Sequence[str],
        batch_size: int = 64,
        aggregate: str | None = None,
    ) -> list[float]:
        """Raw rewards, in input order; sequences are grouped by length so padding stays low and
        jit sees at most one shape per length bucket (the last batch is padded to full size).
        A process model aggregates its step scores (`aggregate`, default the model's)."""
        if aggregate is not None and self._steps is None:
            raise UserError("aggregate: only a process reward model aggregates step scores")
        if len(prompts) != len(completions):
            raise UserError(f"{len(prompts)} prompts but {len(completions)} completions")
        if batch_size < 1:
            raise UserError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        if not prompts:
            return []
        if self._steps is not None:
            how = check_aggregate(aggregate or self.aggregate)
            steps = self.score_steps_batch(prompts, completions, batch_size)
            return [prm_aggregate(s, how) for s in steps]
        seqs = self.encoder.encode(list(prompts), list(completions))
        out = np.zeros(len(seqs), dtype=np.float32)
        pad = self.encoder.specials.pad
        pending = []  # every batch is dispatched before the first result is read back
        for idx, length, size in scoring_batches([len(s) for s in seqs], batch_size, self.max_len):
            rows = [seqs[i] for i in idx]
            rows += [rows[0]] * (size - len(rows))
            tokens, mask = pad_batch(rows, length, pad)
            pending.append((idx, self._forward(self._state, tokens, mask)))
        for idx, rewards in pending:
            out[idx] = np.asarray(rewards)[: len(idx)]
        self.encoder.clear()
        return out.tolist()

    def normalize(self, rewards: Sequence[float]) -> list[float]:
        """(r − mean) / std with the val statistics recorded at training time. A process
        model's aggregated scores are probabilities already: returned unchanged."""
        if self._steps is not None:
            return list(rewards)
        return [(r - self.reward_mean) / self.reward_std for r in rewards]

    def as_reward_fn(
        self,
        normalize: bool = True,
        scale: float = 1.0,
        batch_size: int = 64,
        aggregate: str | None = None,
    ) -> Callable[..., list[float]]:
        """`fn(prompts, completions, **kwargs) -> list[float]`, the reward-function signature of
        Tunix `GRPOLearner` and TRL `GRPOTrainer`. Chat-message lists are accepted: a prompt is
        its last user message, a completion its assistant messages. Extra keyword arguments
        (TRL passes `completion_ids` and dataset columns) are ignored. A process model's reward
        is `aggregate` (`min`, `last`, `prod`, `mean`; default the model's) of its step scores."""
        if aggregate is not None:
            if self._steps is None:
                raise UserError("aggregate: only a process reward model aggregates step scores")
            check_aggregate(aggregate)

        def reward_fn(
            prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
        ) -> list[float]:
            prompt_texts = [_text(p, "user", last=True) for p in prompts]
            texts = [_text(c, "assistant") for c in completions]
            rewards = self.score_batch(
                prompt_texts, texts, batch_size=batch_size, aggregate=aggregate
            )
            if normalize:
                rewards = self.normalize(rewards)
            return [scale * r for r in rewards]

        reward_fn.__name__ = "rewardpipe_reward"
        return reward_fn


def _text(value: Any, role: str, last: bool = False) -> str:
    """A string; or of a chat-message list the contents of the messages with `role` (only the
    last one when `last`), or of every message when none has that role."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("content", ""))
    if isinstance(value, list | tuple) and value and all(isinstance(m, dict) for m in value):
        messages = [m for m in value if m.get("role") == role] or list(value)
        if last:
            messages = messages[-1:]
        return "\n".join(str(m.get("content", "")) for m in messages)
    return str(value)


def _verify_hashes(folder: Path, config: dict[str, Any]) -> None:
    """The files that loading reads against `files.<name>.sha256` in config.json, if recorded."""
    files = config.get("files", {})
    where = folder / model_folder.CONFIG
    if not isinstance(files, dict):
        raise UserError(f"{where}: files: expected an object of file hashes, got {files!r}")
    for name in (*weight_files(folder), model_folder.TOKENIZER):
        if name not in files or not (folder / name).is_file():
            continue  # a missing file is reported by the loader
        info = files[name]
        expected = info.get("sha256") if isinstance(info, dict) else None
        if not isinstance(expected, str):
            raise UserError(f"{where}: files.{name}.sha256: expected a sha256 hex, got {info!r}")
        actual = sha256_file(folder / name)
        if actual != expected:
            raise UserError(
                f"{folder / name}: sha256 {actual[:12]}… but {where} files.{name}.sha256 records "
                f"{expected[:12]}… (changed after export; verify=False loads it anyway)"
            )


def score_file(
    model: RewardModel | str | Path,
    input_path: str | Path,
    output_path: str | Path,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Score a JSONL file in the candidates format (`question` or `prompt`, and `candidates`: a
    list of strings or `{text, ...}` objects, or a single `completion`). Each row is written back
    with every candidate as an object gaining `reward` and the row gaining `best` (the index of
    the highest reward), or, for `completion` rows, the row gaining `reward`. `model` is a
    RewardModel or what `RewardModel.from_pretrained` takes (a folder or a Hub repo id)."""
    start = time.perf_counter()
    rows = read_jsonl(input_path)
    if not rows:
        raise UserError(f"{input_path}: no rows (expected one JSON object per line)")
    items = [_score_items(row, f"{input_path}:{i}") for i, row in enumerate(rows, start=1)]
    prompts = [prompt for prompt, texts in items for _ in texts]
    texts = [text for _, row_texts in items for text in row_texts]
    with atomic_path(output_path) as tmp:  # an unwritable output fails before any scoring
        if not isinstance(model, RewardModel):
            model = RewardModel.from_pretrained(model)
        rewards = iter(model.score_batch(prompts, texts, batch_size=batch_size))
        with tmp.open("w", encoding="utf-8") as f:
            for row, (_, row_texts) in zip(rows, items, strict=True):
                scores = [next(rewards) for _ in row_texts]
                f.write(json.dumps(_with_rewards(row, scores), ensure_ascii=False) + "\n")
    return {
        "rows": len(rows),
        "completions": len(texts),
        "seconds": time.perf_counter() - start,
        "output": str(output_path),
    }


def _score_items(row: dict[str, Any], where: str) -> tuple[str, list[str]]:
    """(prompt, texts to score) of one row; a bad field raises `file:row: field: ...`."""
    prompt = row.get("question", row.get("prompt"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: question: expected a non-empty string (or 'prompt')")
    if why := invalid_text(prompt):
        raise UserError(f"{where}: question: {why}")
    if "candidates" in row:
        raw = row["candidates"]
        if not isinstance(raw, list) or not raw:
            raise UserError(
                f"{where}: candidates: expected a non-empty list of strings or {{text, label}}"
            )
        texts = []
        for j, cand in enumerate(raw):
            text = cand.get("text") if isinstance(cand, dict) else cand
            if not isinstance(text, str):
                raise UserError(
                    f"{where}: candidates[{j}]: expected a string or an object with a 'text' string"
                )
            if why := invalid_text(text):
                raise UserError(f"{where}: candidates[{j}]: {why}")
            texts.append(text)
        return prompt.strip(), texts
    if isinstance(row.get("completion"), str):
        if why := invalid_text(row["completion"]):
            raise UserError(f"{where}: completion: {why}")
        return prompt.strip(), [row["completion"]]
    raise UserError(
        f"{where}: expected 'candidates' (a list of strings or {{text, label}}) or 'completion' (a string)"
    )


def _with_rewards(row: dict[str, Any], scores: list[float]) -> dict[str, Any]:
    if "candidates" not in row:
        return {**row, "reward": scores[0]}
    candidates = [
        {**(c if isinstance(c, dict) else {"text": c}), "reward": r}
        for c, r in zip(row["candidates"], scores, strict=True)
    ]
    return {**row, "candidates": candidates, "best": int(np.argmax(scores))}
