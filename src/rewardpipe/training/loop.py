"""The training loop: jitted pure train/eval steps over nnx state, periodic val, dvclive logging,
orbax checkpoints and exact resume."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rewardpipe.model import RewardTransformer, trainable_filter
from rewardpipe.params import TrainParams
from rewardpipe.training import sharding
from rewardpipe.training.batching import PairBatcher, eval_batches
from rewardpipe.training.checkpoints import Checkpoints
from rewardpipe.training.loss import pairwise_loss
from rewardpipe.training.optim import optimizer, schedule


class Logger(Protocol):
    """What the loop needs of dvclive's `Live` (a fake in tests)."""

    step: int

    def log_metric(self, name: str, val: float, **kwargs: Any) -> None: ...
    def next_step(self) -> None: ...


@dataclass
class ValData:
    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    batch_size: int


@dataclass
class TrainResult:
    model: RewardTransformer
    step: int
    resumed_from: int | None
    val: dict[str, float]
    reward_mean: float
    reward_std: float
    compiles: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


class Trainer:
    """Holds the split model (graphdef, trainable params, the rest) and the jitted steps."""

    def __init__(self, model: RewardTransformer, tp: TrainParams, pad_id: int):
        self.tp, self.pad_id, self.config = tp, pad_id, model.config
        self.mesh = sharding.data_mesh()
        self.graphdef, params, rest = nnx.split(model, trainable_filter(model.config), ...)
        self.params = sharding.replicate(nnx.as_pure(params), self.mesh)
        self.rest = sharding.replicate(nnx.as_pure(rest), self.mesh)
        self.tx = optimizer(
            tp.lr, tp.warmup_steps, tp.steps, tp.weight_decay, tp.grad_clip, tp.grad_accum
        )
        self.opt_state = sharding.replicate(self.tx.init(self.params), self.mesh)
        self._train_step = jax.jit(self._step, donate_argnums=(0, 1, 2))
        self._eval_step = jax.jit(self._eval)

    def _forward(self, params, rest, tokens, mask, deterministic: bool):
        model = nnx.merge(self.graphdef, params, rest)
        rewards = model(tokens, mask, deterministic=deterministic)
        return rewards, nnx.as_pure(nnx.state(model, nnx.Not(trainable_filter(model.config))))

    def _step(self, params, opt_state, rest, tokens, mask):
        def loss_fn(p):
            rewards, new_rest = self._forward(p, rest, tokens, mask, deterministic=False)
            loss, metrics = pairwise_loss(rewards, self.tp.margin, self.tp.center_coef)
            return loss, (metrics, new_rest)

        (_, (metrics, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics["grad_norm"] = optax.tree.norm(grads)
        metrics["tokens"] = mask.sum()
        return params, opt_state, rest, metrics

    def _eval(self, params, rest, tokens, mask, weights):
        rewards, _ = self._forward(params, rest, tokens, mask, deterministic=True)
        _, metrics = pairwise_loss(rewards, self.tp.margin, self.tp.center_coef, weights)
        return metrics, rewards

    def step(self, tokens: np.ndarray, mask: np.ndarray) -> dict[str, jax.Array]:
        tokens, mask = sharding.shard_batch((tokens, mask), self.mesh)
        self.params, self.opt_state, self.rest, metrics = self._train_step(
            self.params, self.opt_state, self.rest, tokens, mask
        )
        return metrics

    def evaluate(self, val: ValData) -> tuple[dict[str, float], np.ndarray]:
        """Pair-weighted val metrics and every val reward (chosen and rejected)."""
        totals: dict[str, float] = {}
        n = 0
        rewards = []
        for batch, real in eval_batches(
            val.chosen, val.rejected, val.batch_size, self.config.max_len, self.pad_id
        ):
            weights = np.zeros(batch.pairs, dtype=np.float32)
            weights[:real] = 1.0
            tokens, mask, w = sharding.shard_batch((batch.tokens, batch.mask, weights), self.mesh)
            metrics, r = self._eval_step(self.params, self.rest, tokens, mask, w)
            for key in ("loss", "accuracy", "margin"):
                totals[key] = totals.get(key, 0.0) + float(metrics[key]) * real
            r = np.asarray(r)
            rewards += [r[:real], r[batch.pairs : batch.pairs + real]]
            n += real
        return {k: v / max(n, 1) for k, v in totals.items()}, np.concatenate(rewards)

    def model(self) -> RewardTransformer:
        return nnx.merge(self.graphdef, self.params, self.rest)

    def state(self) -> dict[str, Any]:
        return {"params": self.params, "opt_state": self.opt_state, "rest": self.rest}

    def load_state(self, state: dict[str, Any]) -> None:
        self.params, self.opt_state, self.rest = state["params"], state["opt_state"], state["rest"]

    def compiles(self) -> int:
        return self._train_step._cache_size() + self._eval_step._cache_size()


def train(
    model: RewardTransformer,
    tp: TrainParams,
    batcher: PairBatcher,
    val: ValData,
    *,
    checkpoints: Checkpoints | None = None,
    live: Logger | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train for `tp.steps` optimizer updates (× `grad_accum` micro-batches), resuming from the
    latest checkpoint in `checkpoints` when there is one."""
    start = time.perf_counter()
    trainer = Trainer(model, tp, batcher.pad_id)
    micro_total = tp.steps * tp.grad_accum
    sharding.check_divisible(2 * tp.batch_size, trainer.mesh, "2 × train.batch_size")
    sharding.check_divisible(2 * val.batch_size, trainer.mesh, "2 × val batch size")
    step = 0
    resumed_from = None
    if checkpoints is not None and checkpoints.latest_step() is not None:
        resumed_from = checkpoints.latest_step()
        state, meta = checkpoints.restore(resumed_from, trainer.state())
        trainer.load_state(state)
        step = int(meta["step"])
    lr_at = optimizer_lr(tp)
    window: dict[str, jax.Array] = {}
    count, t_window = 0, time.perf_counter()
    last_val: dict[str, float] = {}
    rewards, evaluated_at = None, None
    bar = tqdm(
        total=tp.steps,
        initial=step // tp.grad_accum,
        disable=not progress,
        desc="train",
        unit="step",
        dynamic_ncols=True,
    )
    batches = batcher.from_step(step)
    while step < micro_total:
        batch = next(batches)
        metrics = trainer.step(batch.tokens, batch.mask)
        step += 1
        # Sums stay on device: no host sync per step, so dispatch runs ahead of compute.
        window = metrics if not window else jax.tree.map(jnp.add, window, metrics)
        count += 1
        if step % tp.grad_accum:
            continue
        opt_step = step // tp.grad_accum
        bar.update(1)
        if opt_step % tp.log_every == 0 or opt_step == tp.steps:
            logged = {k: float(v) / count for k, v in window.items() if k != "tokens"}
            tokens_per_s = float(window["tokens"]) / max(time.perf_counter() - t_window, 1e-9)
            logged["lr"] = lr_at(opt_step - 1)
            if live is not None:
                live.step = opt_step
                for key, value in logged.items():
                    live.log_metric(f"train/{key}", value)
                live.log_metric("perf/tokens_per_s", tokens_per_s)
            bar.set_postfix(loss=f"{logged['loss']:.4f}", acc=f"{logged['accuracy']:.3f}")
            window, count, t_window = {}, 0, time.perf_counter()
        do_eval = opt_step % tp.eval_every == 0 or opt_step == tp.steps
        do_save = checkpoints is not None and (
            opt_step % tp.save_every == 0 or opt_step == tp.steps
        )
        if do_eval or do_save:
            last_val, rewards = trainer.evaluate(val)
            evaluated_at = step
            if live is not None:
                live.step = opt_step
                for key, value in last_val.items():
                    live.log_metric(f"val/{key}", value)
            bar.write(
                f"step {opt_step}/{tp.steps}  val loss {last_val['loss']:.4f}  "
                f"acc {last_val['accuracy']:.4f}  margin {last_val['margin']:.3f}"
            )
        if live is not None and (opt_step % tp.log_every == 0 or do_eval):
            live.next_step()
        if do_save:
            checkpoints.save(step, trainer.state(), {"step": step}, last_val["accuracy"])
    bar.close()
    if evaluated_at != step:  # resumed at the very end: nothing evaluated in this process
        last_val, rewards = trainer.evaluate(val)
    return TrainResult(
        model=trainer.model(),
        step=step // tp.grad_accum,
        resumed_from=None if resumed_from is None else resumed_from // tp.grad_accum,
        val=last_val,
        reward_mean=float(rewards.mean()) if rewards.size else 0.0,
        reward_std=float(rewards.std()) if rewards.size else 1.0,
        compiles=trainer.compiles(),
        seconds=time.perf_counter() - start,
    )


def optimizer_lr(tp: TrainParams):
    """The learning rate at an optimizer step, for logging."""
    fn = schedule(tp.lr, tp.warmup_steps, tp.steps)
    return lambda s: float(fn(s))
