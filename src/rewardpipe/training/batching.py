"""Token encoding of (prompt, solution) and length-bucketed, deterministically shuffled batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from rewardpipe.errors import UserError

SPECIAL_NAMES = {
    "pad": ("<pad>", "[PAD]"),
    "sep": ("<sep>", "[SEP]", "</s>"),
    "cls": ("<cls>", "[CLS]", "<s>"),
}
BUCKET = 32  # scoring pads sequence lengths to a multiple of this: few static shapes for jit
MAX_BUCKETS = 6  # training picks at most this many padded lengths (one jit compile each)
ALIGN = 8


@dataclass(frozen=True)
class Specials:
    pad: int
    sep: int
    cls: int


def special_ids(tokenizer: Tokenizer) -> Specials:
    """Find pad / sep / cls ids whatever the tokenizer calls them (ours or BERT's)."""
    ids = {}
    for role, names in SPECIAL_NAMES.items():
        found = [tokenizer.token_to_id(n) for n in names if tokenizer.token_to_id(n) is not None]
        if not found:
            raise UserError(f"tokenizer.json: no {role} token (expected one of {', '.join(names)})")
        ids[role] = found[0]
    return Specials(**ids)


class Encoder:
    """`[cls] prompt [sep] solution [sep]`, truncating the prompt from its start when too long
    (the final answer lives at the end of the solution and must survive)."""

    def __init__(self, tokenizer: Tokenizer, max_len: int):
        self.tokenizer, self.max_len = tokenizer, max_len
        self.specials = special_ids(tokenizer)
        self._cache: dict[str, list[int]] = {}

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, enc in zip(
                missing, self.tokenizer.encode_batch(missing, add_special_tokens=False), strict=True
            ):
                self._cache[text] = enc.ids
        return [self._cache[t] for t in texts]

    def encode(self, prompts: Sequence[str], solutions: Sequence[str]) -> list[np.ndarray]:
        s = self.specials
        out = []
        for p, sol in zip(self._ids(prompts), self._ids(solutions), strict=True):
            budget = self.max_len - 3
            sol = sol[-budget:]
            p = p[len(p) - (budget - len(sol)) :] if budget - len(sol) > 0 else []
            out.append(np.asarray([s.cls, *p, s.sep, *sol, s.sep], dtype=np.int32))
        return out

    def clear(self) -> None:
        self._cache.clear()


def encode_pairs(
    rows: list[dict[str, Any]], encoder: Encoder
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids of `(prompt, chosen)` and `(prompt, rejected)` for every pair row."""
    prompts = [r["prompt"] for r in rows]
    chosen = encoder.encode(prompts, [r["chosen"] for r in rows])
    return chosen, encoder.encode(prompts, [r["rejected"] for r in rows])


def bucket_length(n: int, max_len: int) -> int:
    return min(max_len, -(-n // BUCKET) * BUCKET)


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


def round_up(n: int, buckets: Sequence[int]) -> int:
    return next(b for b in buckets if b >= n)


def pad_batch(
    seqs: Sequence[np.ndarray], length: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to `length`: (tokens int32 [B, L], mask bool [B, L])."""
    tokens = np.full((len(seqs), length), pad_id, dtype=np.int32)
    mask = np.zeros((len(seqs), length), dtype=bool)
    for i, seq in enumerate(seqs):
        tokens[i, : len(seq)] = seq
        mask[i, : len(seq)] = True
    return tokens, mask


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
        """Shuffle, sort by length inside windows of `window` batches, cut, shuffle the batches."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.chosen))
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            chunk = order[start : start + span]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        batches = [b for b in batches if len(b) == self.batch_size][: self.batches_per_epoch]
        return [batches[i] for i in rng.permutation(len(batches))]

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
