"""The training loop around two pure jitted functions, `train_step` and `eval_step`: periodic
val, dvclive logging, orbax checkpoints (counted in optimizer steps) and exact resume."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rewardpipe.errors import UserError
from rewardpipe.model import RewardTransformer, trainable_filter
from rewardpipe.model.step_head import step_logits
from rewardpipe.params import TrainParams
from rewardpipe.training import curves, sharding
from rewardpipe.training.batching import PairBatcher, eval_batches
from rewardpipe.training.checkpoints import Checkpoints
from rewardpipe.training.loss import pairwise_loss
from rewardpipe.training.optim import optimizer, schedule
from rewardpipe.training.process import StepBatcher, StepData, step_eval_batches, step_loss


class Logger(Protocol):
    """What the loop needs of dvclive's `Live` (a fake in tests)."""

    step: int
    dir: str

    def log_metric(self, name: str, val: float, **kwargs: Any) -> None: ...
    def next_step(self) -> None: ...


class TrainState(NamedTuple):
    """Trainable params, optimizer state and the model's other state (e.g. dropout RNG)."""

    params: Any
    opt_state: Any
    rest: Any


@dataclass(frozen=True)
class StepConfig:
    """The static half of a step: the model's structure, the optimizer and the loss settings."""

    graphdef: Any
    tx: optax.GradientTransformation
    margin: float
    center_coef: float
    pair_coef: float = 0.0  # process models trained on pairs: weight of the pairwise term


@dataclass
class ValData:
    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    batch_size: int


@dataclass
class StepValData:
    """Val data of a process model: step-labelled solutions."""

    data: StepData
    batch_size: int


@dataclass
class TrainResult:
    model: RewardTransformer
    step: int
    resumed_from: int | None
    val: dict[str, float]
    reward_mean: float
    reward_std: float
    perf: dict[str, float] = field(default_factory=dict)  # timings: never a DVC metric


def _forward(config: StepConfig, params, rest, tokens, mask, deterministic: bool):
    model = nnx.merge(config.graphdef, params, rest)
    rewards = model(tokens, mask, deterministic=deterministic)
    return rewards, nnx.as_pure(nnx.state(model, nnx.Not(trainable_filter(model.config))))


@functools.partial(jax.jit, static_argnames="config", donate_argnames="state")
def train_step(
    state: TrainState, tokens: jax.Array, mask: jax.Array, config: StepConfig
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One micro-batch: forward, Bradley–Terry loss, gradients, optimizer update."""

    def loss_fn(params):
        rewards, rest = _forward(config, params, state.rest, tokens, mask, deterministic=False)
        loss, metrics = pairwise_loss(rewards, config.margin, config.center_coef)
        return loss, (metrics, rest)

    (_, (metrics, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = config.tx.update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    metrics["tokens"] = mask.sum()
    return TrainState(optax.apply_updates(state.params, updates), opt_state, rest), metrics


@functools.partial(jax.jit, static_argnames="config")
def eval_step(
    state: TrainState, tokens: jax.Array, mask: jax.Array, weights: jax.Array, config: StepConfig
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Val metrics of one padded batch (`weights` masks the padding pairs) and its rewards."""
    rewards, _ = _forward(config, state.params, state.rest, tokens, mask, deterministic=True)
    _, metrics = pairwise_loss(rewards, config.margin, config.center_coef, weights)
    return metrics, rewards


def _forward_steps(config: StepConfig, params, rest, tokens, mask, positions, deterministic: bool):
    model = nnx.merge(config.graphdef, params, rest)
    logits = step_logits(model, tokens, mask, positions, deterministic=deterministic)
    return logits, nnx.as_pure(nnx.state(model, nnx.Not(trainable_filter(model.config))))


@functools.partial(jax.jit, static_argnames=("config", "paired"), donate_argnames="state")
def process_train_step(
    state: TrainState,
    tokens: jax.Array,
    mask: jax.Array,
    positions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    config: StepConfig,
    paired: bool = False,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One micro-batch of a process model: per-step logits, masked BCE (+ the pairwise term on
    `paired` batches), optimizer update."""

    def loss_fn(params):
        logits, rest = _forward_steps(
            config, params, state.rest, tokens, mask, positions, deterministic=False
        )
        pair = (positions, config.pair_coef) if paired else ()
        loss, metrics = step_loss(logits, targets, weights, *pair)
        return loss, (metrics, rest)

    (_, (metrics, rest)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = config.tx.update(grads, state.opt_state, state.params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    metrics["tokens"] = mask.sum()
    return TrainState(optax.apply_updates(state.params, updates), opt_state, rest), metrics


@functools.partial(jax.jit, static_argnames="config")
def process_eval_step(
    state: TrainState,
    tokens: jax.Array,
    mask: jax.Array,
    positions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    config: StepConfig,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Val step metrics of one padded batch and its step logits."""
    logits, _ = _forward_steps(
        config, state.params, state.rest, tokens, mask, positions, deterministic=True
    )
    _, metrics = step_loss(logits, targets, weights)
    return metrics, logits


def evaluate_process(
    state: TrainState,
    config: StepConfig,
    val: StepValData,
    mesh: jax.sharding.Mesh,
    max_len: int,
    pad_id: int,
    shapes: set[tuple[Any, ...]] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Step-weighted val metrics and the logits of every counted val step."""
    totals: dict[str, float] = {}
    n = 0.0
    logits = []
    for batch, _ in step_eval_batches(val.data, val.batch_size, max_len, pad_id):
        if shapes is not None:
            shapes.add(("eval", batch.tokens.shape))
        arrays = (batch.tokens, batch.mask, batch.positions, batch.targets, batch.weights)
        metrics, out = process_eval_step(state, *sharding.shard_batch(arrays, mesh), config)
        w = float(batch.weights.sum())
        for key in ("loss", "accuracy", "margin"):
            totals[key] = totals.get(key, 0.0) + float(metrics[key]) * w
        logits.append(np.asarray(out)[batch.weights > 0])
        n += w
    return {k: v / max(n, 1.0) for k, v in totals.items()}, np.concatenate(logits)


def init_state(
    model: RewardTransformer,
    tp: TrainParams,
    mesh: jax.sharding.Mesh,
    place: Callable[[Any, jax.sharding.Mesh], Any] = sharding.replicate,
) -> tuple[TrainState, StepConfig]:
    """Split the model into a `TrainState` on `mesh` and the static `StepConfig`. `place` puts
    the state on the mesh: replicated (data parallel, the default) or e.g. `sharding.place`
    (FSDP: params and the optimizer state that mirrors them sharded on the `fsdp` axis)."""
    graphdef, params, rest = nnx.split(model, trainable_filter(model.config), ...)
    tx = optimizer(
        lr=tp.lr,
        warmup_steps=tp.warmup_steps,
        total_steps=tp.steps,
        weight_decay=tp.weight_decay,
        grad_clip=tp.grad_clip,
        grad_accum=tp.grad_accum,
    )
    params, rest = nnx.as_pure(params), nnx.as_pure(rest)
    state = TrainState(params, tx.init(params), rest)
    config = StepConfig(graphdef, tx, tp.margin, tp.center_coef, tp.process_pair_coef)
    return place(state, mesh), config


def merge(state: TrainState, config: StepConfig) -> RewardTransformer:
    return nnx.merge(config.graphdef, state.params, state.rest)


def evaluate(
    state: TrainState,
    config: StepConfig,
    val: ValData,
    mesh: jax.sharding.Mesh,
    max_len: int,
    pad_id: int,
    shapes: set[tuple[Any, ...]] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Pair-weighted val metrics and every val reward (chosen and rejected)."""
    totals: dict[str, float] = {}
    n = 0
    rewards = []
    for batch, real in eval_batches(val.chosen, val.rejected, val.batch_size, max_len, pad_id):
        weights = np.zeros(batch.pairs, dtype=np.float32)
        weights[:real] = 1.0
        if shapes is not None:
            shapes.add(("eval", batch.tokens.shape))
        tokens, mask, w = sharding.shard_batch((batch.tokens, batch.mask, weights), mesh)
        metrics, r = eval_step(state, tokens, mask, w, config)
        for key in ("loss", "accuracy", "margin"):
            totals[key] = totals.get(key, 0.0) + float(metrics[key]) * real
        r = np.asarray(r)
        rewards += [r[:real], r[batch.pairs : batch.pairs + real]]
        n += real
    return {k: v / max(n, 1) for k, v in totals.items()}, np.concatenate(rewards)


def _check_finite(losses: list[jax.Array], first_step: int, tp: TrainParams) -> None:
    """Stop at the first non-finite loss (one host sync per check, not per step)."""
    values = np.asarray(jnp.stack(losses)) if losses else np.zeros(0)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        step = (first_step + int(bad[0])) // tp.grad_accum + 1
        raise UserError(
            f"train: the loss became {values[bad[0]]} at optimizer step {step}; nothing was "
            f"saved. Lower train.lr (now {tp.lr:g}) or train.grad_clip, or check the data."
        )


def train(
    model: RewardTransformer,
    tp: TrainParams,
    batcher: PairBatcher | StepBatcher,
    val: ValData | StepValData,
    *,
    checkpoints: Checkpoints | None = None,
    live: Logger | None = None,
    progress: bool = True,
    mesh: jax.sharding.Mesh | None = None,
) -> TrainResult:
    """Train for `tp.steps` optimizer updates (× `grad_accum` micro-batches), resuming from the
    latest checkpoint in `checkpoints` when there is one. The caller restores the dvclive folder
    from that checkpoint's curves (`curves.restore`) before opening `live`. `mesh` (default:
    every device on `data`) with an `fsdp` axis shards the state (`sharding.train_mesh`).
    A `StepBatcher` with `StepValData` trains a process model (per-step BCE) instead."""
    start = time.perf_counter()
    mesh = sharding.data_mesh() if mesh is None else mesh
    # A decoder's config has no max_len: the batcher's (model.max_len) bounds its sequences.
    max_len, pad_id = getattr(model.config, "max_len", batcher.max_len), batcher.pad_id
    state, config = init_state(model, tp, mesh, sharding.placement(mesh))
    process = isinstance(batcher, StepBatcher)
    run_eval = evaluate_process if process else evaluate
    sharding.check_divisible(2 * tp.batch_size, mesh, "2 × train.batch_size")
    sharding.check_divisible(2 * val.batch_size, mesh, "2 × val batch size")
    opt_step = 0
    resumed_from = None
    if checkpoints is not None and checkpoints.latest_step() is not None:
        resumed_from = checkpoints.latest_step()
        state, meta = checkpoints.restore(resumed_from, state)
        opt_step = int(meta["step"])
    lr_at = schedule(tp.lr, tp.warmup_steps, tp.steps)
    shapes: set[tuple[Any, ...]] = set()
    window: dict[str, jax.Array] = {}
    losses: list[jax.Array] = []
    count, tokens_seen, train_seconds = 0, 0.0, 0.0
    micro = opt_step * tp.grad_accum
    t_window = time.perf_counter()
    last_val: dict[str, float] = {}
    rewards, evaluated_at = None, None
    bar = tqdm(
        total=tp.steps, initial=opt_step, disable=not progress, desc="train", unit="step",
        dynamic_ncols=True,
    )  # fmt: skip
    batches = batcher.from_step(micro)
    while opt_step < tp.steps:
        batch = next(batches)
        shapes.add(("train", batch.tokens.shape))
        if process:
            arrays = (batch.tokens, batch.mask, batch.positions, batch.targets, batch.weights)
            state, metrics = process_train_step(
                state, *sharding.shard_batch(arrays, mesh), config, batch.paired
            )
        else:
            tokens, mask = sharding.shard_batch((batch.tokens, batch.mask), mesh)
            state, metrics = train_step(state, tokens, mask, config)
        # Sums stay on device: no host sync per step, so dispatch runs ahead of compute.
        window = metrics if not window else jax.tree.map(jnp.add, window, metrics)
        losses.append(metrics["loss"])
        count += 1
        micro += 1
        if micro % tp.grad_accum:
            continue
        opt_step += 1
        bar.update(1)
        do_log = opt_step % tp.log_every == 0 or opt_step == tp.steps
        do_eval = opt_step % tp.eval_every == 0 or opt_step == tp.steps
        do_save = checkpoints is not None and (
            opt_step % tp.save_every == 0 or opt_step == tp.steps
        )
        if do_log or do_eval or do_save:
            _check_finite(losses, micro - len(losses), tp)
            losses = []
        if do_log:
            logged = {k: float(v) / count for k, v in window.items() if k != "tokens"}
            elapsed = time.perf_counter() - t_window
            tokens_seen, train_seconds = (
                tokens_seen + float(window["tokens"]),
                train_seconds + elapsed,
            )
            logged["lr"] = float(lr_at(opt_step - 1))
            if live is not None:
                live.step = opt_step
                for key, value in logged.items():
                    live.log_metric(f"train/{key}", value)
            bar.set_postfix(loss=f"{logged['loss']:.4f}", acc=f"{logged['accuracy']:.3f}")
            window, count = {}, 0
        if do_eval or do_save:
            last_val, rewards = run_eval(state, config, val, mesh, max_len, pad_id, shapes)
            _check_val(last_val, opt_step, tp)
            evaluated_at = opt_step
            if live is not None:
                live.step = opt_step
                for key, value in last_val.items():
                    live.log_metric(f"val/{key}", value)
            bar.write(
                f"step {opt_step}/{tp.steps}  val loss {last_val['loss']:.4f}  "
                f"acc {last_val['accuracy']:.4f}  margin {last_val['margin']:.3f}"
            )
        if live is not None and (do_log or do_eval):
            live.next_step()
        if do_save:
            meta = {"step": opt_step, "curves": curves.snapshot(live.dir) if live else {}}
            checkpoints.save(opt_step, state, meta, last_val["accuracy"])
        if do_log or do_eval or do_save:
            t_window = time.perf_counter()
    bar.close()
    if evaluated_at != opt_step:  # resumed at the very end: nothing evaluated in this process
        last_val, rewards = run_eval(state, config, val, mesh, max_len, pad_id, shapes)
        _check_val(last_val, opt_step, tp)
    return TrainResult(
        model=merge(state, config),
        step=opt_step,
        resumed_from=resumed_from,
        val=last_val,
        reward_mean=float(rewards.mean()) if rewards.size else 0.0,
        reward_std=float(rewards.std()) if rewards.size else 1.0,
        perf={
            "seconds": time.perf_counter() - start,
            "train_seconds": train_seconds,
            "tokens_per_s": tokens_seen / train_seconds if train_seconds else 0.0,
            "compiles": len(shapes),
        },
    )


def _check_val(metrics: dict[str, float], step: int, tp: TrainParams) -> None:
    if not all(np.isfinite(v) for v in metrics.values()):
        raise UserError(
            f"train: val metrics are not finite at optimizer step {step} ({metrics}); the weights "
            f"diverged and nothing was saved. Lower train.lr (now {tp.lr:g})."
        )
