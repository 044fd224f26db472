"""The GRPO loop: sample `num_generations` completions per prompt from the current policy, score
them with the reward mix, normalise within each group, then `num_iterations` clipped-ratio
updates of the LoRA adapters against fixed old log-probs, with a KL penalty to the reference
(the same model with LoRA zeroed: the base weights, so no second copy is kept)."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rewardpipe import policy as policy_lm
from rewardpipe.chat_format import PromptFormat
from rewardpipe.errors import UserError
from rewardpipe.grpo.advantages import group_advantages
from rewardpipe.grpo.evaluate import accuracy
from rewardpipe.grpo.loss import grpo_loss
from rewardpipe.grpo.reward_mix import RewardMix
from rewardpipe.params import GrpoParams
from rewardpipe.policy_text import decode, encode_prompts
from rewardpipe.training import curves
from rewardpipe.training.checkpoints import Checkpoints
from rewardpipe.training.optim import schedule


class State(NamedTuple):
    lora: Any
    opt_state: Any


@dataclass(frozen=True)
class Step:
    """The static half of an update (hashable: a jit static argument)."""

    graphdef: Any
    tx: optax.GradientTransformation
    epsilon: float
    beta: float
    prompt_len: int


@dataclass
class Questions:
    prompts: list[str]  # what the policy reads (question + instruction, chat-formatted)
    questions: list[str]
    answers: list[str]  # reference final answers


@dataclass
class Result:
    lora: Any
    step: int
    resumed_from: int | None
    history: list[float]  # mean total reward per step
    val: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _logp(graphdef, lora, rest, tokens, mask, prompt_len: int):
    """log π of the completion tokens (columns >= prompt_len): float32[B, T - prompt_len]."""
    model = nnx.merge(graphdef, lora, rest)
    return policy_lm.token_logprobs(model, tokens, mask)[:, prompt_len:]


@functools.partial(jax.jit, static_argnames=("graphdef", "prompt_len"))
def logprobs(graphdef, lora, rest, tokens, mask, prompt_len: int):
    return _logp(graphdef, lora, rest, tokens, mask, prompt_len)


@functools.partial(jax.jit, static_argnames="step", donate_argnames="state")
def update(state: State, rest, tokens, mask, comp_mask, old_logp, ref_logp, adv, step: Step):
    def loss_fn(lora):
        logp = _logp(step.graphdef, lora, rest, tokens, mask, step.prompt_len)
        return grpo_loss(
            logp, old_logp, ref_logp, adv, comp_mask, epsilon=step.epsilon, beta=step.beta
        )

    (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.lora)
    updates, opt_state = step.tx.update(grads, state.opt_state, state.lora)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return State(optax.apply_updates(state.lora, updates), opt_state), metrics


class Trainer:
    """Holds the split policy (graphdef, LoRA params, the rest) and its prompt format; sampling
    stops at `eos_id` (the tokenizer's) or any of the policy's own `eos_ids`."""

    def __init__(
        self,
        policy: policy_lm.PolicyLM,
        fmt: PromptFormat,
        pad_id: int,
        eos_id: int,
        gp: GrpoParams,
    ):
        self.stops = tuple(sorted({eos_id, *policy.eos_ids}))
        self.graphdef, lora, self.rest = nnx.split(policy, nnx.LoRAParam, ...)
        self.lora0 = nnx.as_pure(lora)
        self.rest = nnx.as_pure(self.rest)
        if not jax.tree.leaves(self.lora0):
            raise UserError("grpo: the policy has no LoRA adapters (grpo.lora_rank must be >= 1)")
        self.ref_lora = jax.tree.map(jnp.zeros_like, self.lora0)
        self.fmt, self.pad_id, self.eos_id, self.gp = fmt, pad_id, eos_id, gp
        self.tx = optax.chain(
            optax.clip_by_global_norm(gp.grad_clip),
            optax.adam(schedule(gp.lr, gp.warmup_steps, gp.steps)),
        )
        self.step_config = Step(self.graphdef, self.tx, gp.epsilon, gp.beta, gp.max_prompt_len)

    def init_state(self) -> State:
        return State(self.lora0, self.tx.init(self.lora0))

    def generate(self, lora, prompts: Sequence[str], rng, temperature: float):
        """Sample with the KV cache (`policy.generate`): prompts, completions and their masks."""
        tokens, mask = encode_prompts(self.fmt, prompts, self.gp.max_prompt_len, self.pad_id)
        comp, comp_mask = policy_lm.generate(
            nnx.merge(self.graphdef, lora, self.rest),
            tokens,
            mask,
            self.gp.max_new_tokens,
            temperature,
            self.gp.top_p,
            rng,
            eos_ids=self.stops,
            pad_id=self.pad_id,
            use_cache=True,
        )
        return tokens, mask, np.asarray(comp), np.asarray(comp_mask)

    def complete(self, lora, prompts: Sequence[str]) -> list[str]:
        """Greedy completions (evaluation)."""
        _, _, comp, comp_mask = self.generate(lora, prompts, jax.random.key(0), 0.0)
        return decode(self.fmt, comp, comp_mask, self.eos_id)

    def evaluate(self, lora, data: Questions) -> dict[str, float]:
        return accuracy(
            lambda p: self.complete(lora, p),
            data.prompts,
            data.answers,
            batch_size=self.gp.eval_batch,
            partial_tolerance=self.gp.partial_tolerance,
            answer_format=self.gp.answer_format,
        )

    def grpo_step(self, state: State, data: Questions, mix: RewardMix, step: int):
        """One GRPO step (sample, score, `num_iterations` updates); returns metrics."""
        gp, g = self.gp, self.gp.num_generations
        pick = np.random.default_rng([gp.seed, step]).choice(
            len(data.prompts), gp.batch_prompts, replace=False
        )
        rows = np.repeat(pick, g)
        rng = jax.random.fold_in(jax.random.key(gp.seed), step)
        prompts = [data.prompts[i] for i in rows]
        tokens, mask, comp, comp_mask = self.generate(state.lora, prompts, rng, gp.temperature)
        texts = decode(self.fmt, comp, comp_mask, self.eos_id)
        total, parts = mix(
            [data.questions[i] for i in rows], texts, [data.answers[i] for i in rows]
        )
        adv = jnp.asarray(group_advantages(total, g))
        full = jnp.asarray(np.concatenate([tokens, comp], axis=1))
        full_mask = jnp.asarray(np.concatenate([mask, comp_mask], axis=1))
        cm = jnp.asarray(comp_mask)
        p = gp.max_prompt_len
        old = logprobs(self.graphdef, state.lora, self.rest, full, full_mask, p)
        ref = logprobs(self.graphdef, self.ref_lora, self.rest, full, full_mask, p)
        sums: dict[str, float] = {}
        for _ in range(gp.num_iterations):
            state, m = update(
                state, self.rest, full, full_mask, cm, old, ref, adv, self.step_config
            )
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + float(v) / gp.num_iterations
        metrics = {f"reward/{k}": float(v.mean()) for k, v in parts.items()}
        metrics["reward/total"] = float(total.mean())
        metrics["completion_length"] = float(comp_mask.sum(axis=1).mean())
        metrics.update(sums)
        return state, metrics


def train(
    trainer: Trainer,
    train_data: Questions,
    val_data: Questions,
    mix: RewardMix,
    *,
    checkpoints: Checkpoints | None = None,
    live: Any = None,
    progress: bool = True,
) -> Result:
    """`grpo.steps` GRPO steps, resuming from the latest checkpoint (the caller restores the
    dvclive folder from that checkpoint's curves first). Step `s` samples with the key
    fold_in(seed, s) and picks prompts with rng (seed, s), so a resumed run repeats exactly."""
    gp, start = trainer.gp, time.perf_counter()
    state = trainer.init_state()
    step, resumed_from, history = 0, None, []
    if checkpoints is not None and checkpoints.latest_step() is not None:
        resumed_from = checkpoints.latest_step()
        state, meta = checkpoints.restore(resumed_from, state)
        step, history = int(meta["step"]), list(meta["history"])
    window: dict[str, list[float]] = {}
    val: dict[str, float] = {}
    bar = tqdm(total=gp.steps, initial=step, disable=not progress, desc="grpo", unit="step")
    while step < gp.steps:
        state, metrics = trainer.grpo_step(state, train_data, mix, step)
        if not np.isfinite(metrics["loss"]):
            raise UserError(
                f"grpo: the loss became {metrics['loss']} at step {step + 1}; lower grpo.lr "
                f"(now {gp.lr:g}) or raise grpo.beta"
            )
        step += 1
        bar.update(1)
        history.append(metrics["reward/total"])
        for k, v in metrics.items():
            window.setdefault(k, []).append(v)
        do_log = step % gp.log_every == 0 or step == gp.steps
        do_eval = step % gp.eval_every == 0 or step == gp.steps
        do_save = checkpoints is not None and (step % gp.checkpoint_every == 0 or step == gp.steps)
        if live is not None and (do_log or do_eval):
            live.step = step
        if do_log:
            logged = {k: float(np.mean(v)) for k, v in window.items()}
            window = {}
            if live is not None:
                for k, v in logged.items():
                    live.log_metric(f"train/{k}", v)
            bar.set_postfix(reward=f"{logged['reward/total']:.3f}", kl=f"{logged['kl']:.4f}")
        if do_eval or do_save:
            val = trainer.evaluate(state.lora, val_data)
            if live is not None:
                live.log_metric("val/accuracy", val["numerical_accuracy"])
                live.log_metric("val/format_compliance", val["format_compliance"])
        if live is not None and (do_log or do_eval):
            live.next_step()
        if do_save:
            meta = {
                "step": step,
                "history": history,
                "curves": curves.snapshot(live.dir) if live is not None else {},
            }
            checkpoints.save(step, state, meta, val["numerical_accuracy"])
    bar.close()
    return Result(state.lora, step, resumed_from, history, val, time.perf_counter() - start)


def merged_policy(trainer: Trainer, lora) -> policy_lm.PolicyLM:
    """The policy module with trained LoRA adapters (for export: weights merged there)."""
    return nnx.merge(trainer.graphdef, lora, trainer.rest)


def reward_means(history: Sequence[float], k: int = 10) -> dict[str, float]:
    """Mean total reward over the first and last `k` steps."""
    h = np.asarray(history, dtype=np.float64)
    return {
        f"reward_mean_first{k}": float(h[:k].mean()) if h.size else 0.0,
        f"reward_mean_last{k}": float(h[-k:].mean()) if h.size else 0.0,
    }
