"""Length-bucketed, deterministically shuffled pair batches for training and val."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rewardpipe.encoding import pad_batch
from rewardpipe.errors import UserError

MAX_BUCKETS = 6  # training picks at most this many padded lengths (one jit compile each)
ALIGN = 8


def fit_buckets(lengths: Sequence[int], k: int, max_len: int, align: int = ALIGN) -> list[int]:
    """At most `k` padded lengths (multiples of `align`, the last covering the longest) that
    minimise total padding when each length is rounded up to the next bucket: an exact DP over
    the distinct aligned lengths."""
    need = sorted({min(max_len, -(-n // align) * align) for n in lengths})
    if len(need) <= k:
        return need
    counts = np.array(
        [sum(1 for n in lengths if min(max_len, -(-n // align) * align) == v) for v in need]
    )
    values = np.array(need)
    m = len(need)
    inf = float("inf")
    # cost[i][j]: padding when lengths need[i..j] all round up to need[j]
    prefix_n = np.concatenate([[0], np.cumsum(counts)])
    prefix_v = np.concatenate([[0], np.cumsum(counts * values)])

    def cost(i: int, j: int) -> float:
        n = prefix_n[j + 1] - prefix_n[i]
        return float(values[j] * n - (prefix_v[j + 1] - prefix_v[i]))

    best = [[inf] * m for _ in range(k + 1)]
    back = [[-1] * m for _ in range(k + 1)]
    for j in range(m):
        best[1][j] = cost(0, j)
    for b in range(2, k + 1):
        for j in range(m):
            for i in range(j):
                c = best[b - 1][i] + cost(i + 1, j)
                if c < best[b][j]:
                    best[b][j], back[b][j] = c, i
    b = min(range(1, k + 1), key=lambda x: best[x][m - 1])
    out, j = [], m - 1
    while j >= 0 and b >= 1:
        out.append(need[j])
        j, b = back[b][j], b - 1
    return sorted(out)


def epoch_batches(
    lengths: np.ndarray, batch_size: int, window: int, seed: int, epoch: int
) -> list[np.ndarray]:
    """Epoch `epoch`'s batches of indices into `lengths`: shuffle, sort by length inside windows
    of `window` batches, cut into full batches, shuffle the batches. Depends only on
    (seed, epoch), so a resumed run sees the batches of an uninterrupted one."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    span = batch_size * window
    batches = []
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    batches = [b for b in batches if len(b) == batch_size][: len(lengths) // batch_size]
    return [batches[i] for i in rng.permutation(len(batches))]


def round_up(n: int, buckets: Sequence[int]) -> int:
    return next(b for b in buckets if b >= n)


@dataclass(frozen=True)
class PairBatch:
    """Chosen rows first, then rejected rows: one forward over `2 * pairs` sequences."""

    tokens: np.ndarray
    mask: np.ndarray

    @property
    def pairs(self) -> int:
        return self.tokens.shape[0] // 2


class PairBatcher:
    """Length-bucketed pair batches. The order of epoch e depends only on (seed, e), so a run
    resumed at step k sees exactly the batches an uninterrupted run would."""

    def __init__(
        self,
        chosen: list[np.ndarray],
        rejected: list[np.ndarray],
        batch_size: int,
        max_len: int,
        pad_id: int,
        seed: int,
        window: int = 64,
    ):
        if len(chosen) < batch_size:
            raise UserError(
                f"train.batch_size={batch_size} is larger than the {len(chosen)} training pairs"
            )
        self.chosen, self.rejected = chosen, rejected
        self.batch_size, self.max_len, self.pad_id, self.seed = batch_size, max_len, pad_id, seed
        self.window = window
        self.lengths = np.array(
            [max(len(c), len(r)) for c, r in zip(chosen, rejected, strict=True)]
        )
        self.batches_per_epoch = len(chosen) // batch_size
        batch_max = [int(self.lengths[b].max()) for b in self.epoch_order(0)]
        self.buckets = fit_buckets(batch_max, MAX_BUCKETS, max_len)

    def epoch_order(self, epoch: int) -> list[np.ndarray]:
        return epoch_batches(self.lengths, self.batch_size, self.window, self.seed, epoch)

    def length_of(self, indices: np.ndarray) -> int:
        return round_up(min(int(self.lengths[indices].max()), self.max_len), self.buckets)

    def batch(self, indices: np.ndarray) -> PairBatch:
        length = self.length_of(indices)
        seqs = [self.chosen[i] for i in indices] + [self.rejected[i] for i in indices]
        return PairBatch(*pad_batch(seqs, length, self.pad_id))

    def from_step(self, step: int) -> Iterator[PairBatch]:
        """Batches for micro-steps step, step + 1, ... (endless, epoch after epoch)."""
        epoch, pos = divmod(step, self.batches_per_epoch)
        while True:
            order = self.epoch_order(epoch)
            for indices in order[pos:]:
                yield self.batch(indices)
            epoch, pos = epoch + 1, 0

    def padding_fraction(self, epochs: int = 1) -> float:
        real = padded = 0
        for e in range(epochs):
            for indices in self.epoch_order(e):
                length = self.length_of(indices)
                real += sum(len(self.chosen[i]) + len(self.rejected[i]) for i in indices)
                padded += 2 * len(indices) * length
        return 1 - real / padded if padded else 0.0


def eval_batches(
    chosen: list[np.ndarray], rejected: list[np.ndarray], batch_size: int, max_len: int, pad_id: int
) -> Iterator[tuple[PairBatch, int]]:
    """Fixed-order, length-sorted eval batches; the last one is padded with copies of row 0 and
    the number of real pairs is returned beside it (static shapes, no recompiles)."""
    lengths = np.array([max(len(c), len(r)) for c, r in zip(chosen, rejected, strict=True)])
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
        seqs = [chosen[i] for i in idx] + [rejected[i] for i in idx]
        yield PairBatch(*pad_batch(seqs, length, pad_id)), real
