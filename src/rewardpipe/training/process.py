"""Process (step-level) training data and loss: batches of solutions with their step read
positions and labels, and binary cross-entropy on the steps up to and including the first
wrong one (later steps are masked, as in Lightman et al. 2023).

Where a question has both an all-correct and an erroneous solution (every synthesized
negative beside its reference), batches hold such pairs and the loss adds two Bradley–Terry
terms (`train.process_pair_coef`): on the solutions' min step scores (what best-of-N ranks
by) and on the erroneous solution's first wrong step against the correct one's step at the
same index. Pointwise BCE alone lets step scores track position and question rather than
correctness."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from rewardpipe.encoding import pad_batch
from rewardpipe.errors import UserError
from rewardpipe.training.batching import MAX_BUCKETS, epoch_batches, fit_buckets, round_up


def step_targets(labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(targets 1 correct / 0 wrong, weights): weight 1 up to and including the first wrong
    (-1) step, 0 after it and on neutral (0) steps."""
    labels = np.asarray(labels, dtype=np.int64)
    wrong = np.flatnonzero(labels < 0)
    stop = int(wrong[0]) + 1 if wrong.size else len(labels)
    weights = np.zeros(len(labels), np.float32)
    weights[:stop] = labels[:stop] != 0
    return (labels > 0).astype(np.float32), weights


def solution_pairs(prompts: Sequence[str], labels: Sequence[Sequence[int]]) -> np.ndarray:
    """int [P,2]: (an all-correct row, an erroneous row) of the same prompt, one pair per
    erroneous row whose prompt has a correct one (correct rows taken in turn)."""
    correct: dict[str, list[int]] = {}
    for i, (prompt, row) in enumerate(zip(prompts, labels, strict=True)):
        if min(row) >= 0:
            correct.setdefault(prompt, []).append(i)
    pairs, used = [], dict.fromkeys(correct, 0)
    for i, (prompt, row) in enumerate(zip(prompts, labels, strict=True)):
        if min(row) < 0 and prompt in correct:
            refs = correct[prompt]
            pairs.append((refs[used[prompt] % len(refs)], i))
            used[prompt] += 1
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class StepBatch:
    tokens: np.ndarray  # int32 [B,L]
    mask: np.ndarray  # bool [B,L]
    positions: np.ndarray  # int32 [B,S], -1 where no step
    targets: np.ndarray  # float32 [B,S]
    weights: np.ndarray  # float32 [B,S]: which steps count in the loss
    paired: bool = False  # rows are B/2 correct solutions, then the B/2 erroneous ones

    @property
    def rows(self) -> int:
        return self.tokens.shape[0]


@dataclass
class StepData:
    """Encoded step rows: ids, read positions and labels per solution, and `pairs` (rows of
    one prompt, correct then erroneous; empty: train pointwise)."""

    ids: list[np.ndarray]
    positions: list[np.ndarray]
    labels: list[Sequence[int]]
    max_steps: int
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))

    @classmethod
    def build(cls, ids, positions, labels, max_steps: int | None = None, prompts=None) -> StepData:
        """`prompts` (one per row): pair correct and erroneous solutions of a prompt."""
        if not len(ids) == len(positions) == len(labels):
            raise UserError("step data: ids, positions and labels differ in length")
        longest = max((len(p) for p in positions), default=1)
        data = cls(list(ids), list(positions), list(labels), max_steps or longest)
        if prompts is not None:
            data.pairs = solution_pairs(prompts, data.labels)
        return data

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: Sequence[int], length: int, pad_id: int) -> StepBatch:
        tokens, mask = pad_batch([self.ids[i] for i in indices], length, pad_id)
        B, S = len(indices), self.max_steps
        positions = np.full((B, S), -1, np.int32)
        targets = np.zeros((B, S), np.float32)
        weights = np.zeros((B, S), np.float32)
        for r, i in enumerate(indices):
            pos = np.asarray(self.positions[i][:S])
            t, w = step_targets(self.labels[i])
            n = len(pos)
            positions[r, :n] = np.where(pos < length, pos, -1)
            targets[r, :n] = t[:n]
            weights[r, :n] = w[:n] * (positions[r, :n] >= 0)
        return StepBatch(tokens, mask, positions, targets, weights)


class StepBatcher:
    """Length-bucketed step batches of `batch_size` solutions, or of `batch_size` pairs when
    `data.pairs` has any; the order of epoch e depends only on (seed, e), so a run resumed at
    step k sees exactly the batches of an uninterrupted run (as `PairBatcher`)."""

    def __init__(
        self,
        data: StepData,
        batch_size: int,
        max_len: int,
        pad_id: int,
        seed: int,
        window: int = 64,
    ):
        self.paired = len(data.pairs) > 0
        # a unit is a solution, or a pair of rows (batched as all firsts, then all seconds)
        self.units = data.pairs if self.paired else np.arange(len(data))[:, None]
        what = "(correct, erroneous) solution pairs" if self.paired else "solutions"
        if len(self.units) < batch_size:
            raise UserError(
                f"train.batch_size={batch_size} is larger than the {len(self.units)} "
                f"step-labelled training {what}"
            )
        self.data, self.batch_size, self.max_len, self.pad_id = data, batch_size, max_len, pad_id
        self.seed, self.window = seed, window
        row_lengths = np.array([len(x) for x in data.ids])
        self.lengths = row_lengths[self.units].max(axis=1)
        self.batches_per_epoch = len(self.units) // batch_size
        self.buckets = fit_buckets(
            [int(self.lengths[b].max()) for b in self.epoch_order(0)], MAX_BUCKETS, max_len
        )

    def epoch_order(self, epoch: int) -> list[np.ndarray]:
        return epoch_batches(self.lengths, self.batch_size, self.window, self.seed, epoch)

    def batch(self, indices: np.ndarray) -> StepBatch:
        length = round_up(min(int(self.lengths[indices].max()), self.max_len), self.buckets)
        rows = self.units[indices].T.reshape(-1)
        batch = self.data.batch(rows, length, self.pad_id)
        return replace(batch, paired=self.paired)

    def from_step(self, step: int) -> Iterator[StepBatch]:
        epoch, pos = divmod(step, self.batches_per_epoch)
        while True:
            for indices in self.epoch_order(epoch)[pos:]:
                yield self.batch(indices)
            epoch, pos = epoch + 1, 0


def step_eval_batches(
    data: StepData, batch_size: int, max_len: int, pad_id: int
) -> Iterator[tuple[StepBatch, int]]:
    """Fixed-order, length-sorted batches; the last is padded with copies of row 0 whose steps
    weigh 0; the number of real rows comes beside each batch."""
    lengths = np.array([len(x) for x in data.ids])
    order = np.argsort(lengths, kind="stable")
    starts = range(0, len(order), batch_size)
    buckets = fit_buckets(
        [int(lengths[order[s : s + batch_size]].max()) for s in starts], MAX_BUCKETS, max_len
    )
    for start in starts:
        idx = order[start : start + batch_size]
        real = len(idx)
        idx = np.concatenate([idx, np.repeat(idx[:1], batch_size - real)])
        length = round_up(min(int(lengths[idx].max()), max_len), buckets)
        batch = data.batch(idx, length, pad_id)
        weights = batch.weights.copy()
        weights[real:] = 0.0
        yield StepBatch(batch.tokens, batch.mask, batch.positions, batch.targets, weights), real


def min_scores(logits: jax.Array, positions: jax.Array) -> jax.Array:
    """[B,S] step logits -> [B]: each solution's lowest step logit (`min` aggregation)."""
    return jnp.where(positions >= 0, logits, jnp.inf).min(axis=-1)


def step_loss(
    logits: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    positions: jax.Array | None = None,
    pair_coef: float = 0.0,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Weighted mean binary cross-entropy over steps and the step metrics the loop logs. With
    `positions` the rows are paired (correct half, erroneous half) and the loss adds
    `pair_coef` × (−log σ(min step logit of the correct − that of the erroneous) − log σ(the
    correct row's logit − the erroneous row's at the erroneous row's first wrong step))."""
    logits = logits.astype(jnp.float32)
    w = weights.astype(jnp.float32)
    n = jnp.maximum(w.sum(), 1.0)
    bce = -(targets * jax.nn.log_sigmoid(logits) + (1 - targets) * jax.nn.log_sigmoid(-logits))
    loss = (w * bce).sum() / n
    correct = w * targets
    wrong = w * (1 - targets)
    mean_c = (correct * logits).sum() / jnp.maximum(correct.sum(), 1.0)
    mean_w = (wrong * logits).sum() / jnp.maximum(wrong.sum(), 1.0)
    metrics = {
        "loss": loss,
        "accuracy": (w * ((logits > 0) == (targets > 0.5))).sum() / n,
        "margin": mean_c - mean_w,  # mean logit of correct steps minus that of wrong ones
        "reward_mean": (w * logits).sum() / n,
        "reward_std": jnp.sqrt((w * (logits - (w * logits).sum() / n) ** 2).sum() / n),
    }
    if positions is not None:
        good, bad = jnp.split(min_scores(logits, positions), 2)
        pair = -jax.nn.log_sigmoid(good - bad).mean()
        # the erroneous row's first wrong step against the correct row's step at the same index
        # (with a causal backbone both continue the same prefix)
        lc, lr = jnp.split(logits, 2)
        tr, wr = jnp.split(targets, 2)[1], jnp.split(w, 2)[1]
        pc = jnp.split(positions, 2)[0]
        first = wr * (1 - tr) * (pc >= 0)  # one-hot at that step, 0 where the row has none
        has = first.sum(-1)
        step_c, step_r = (first * lc).sum(-1), (first * lr).sum(-1)
        step_pair = (has * -jax.nn.log_sigmoid(step_c - step_r)).sum() / jnp.maximum(has.sum(), 1)
        loss = loss + pair_coef * (pair + step_pair)
        metrics["loss"] = loss
        metrics["pair_accuracy"] = (good > bad).mean()
        metrics["step_pair_accuracy"] = (has * (step_c > step_r)).sum() / jnp.maximum(has.sum(), 1)
    return loss, metrics
