"""Text to token ids: `[cls] prompt [sep] solution [sep]`, and padding to static lengths.
Shared by training and scoring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer

from rewardpipe.errors import UserError
from rewardpipe.io import invalid_text

if TYPE_CHECKING:
    from rewardpipe.chat_format import PromptFormat

SPECIAL_NAMES = {
    "pad": ("<pad>", "[PAD]"),
    "sep": ("<sep>", "[SEP]", "</s>"),
    "cls": ("<cls>", "[CLS]", "<s>"),
}
BUCKET = 32  # scoring pads sequence lengths to a multiple of this: few static shapes for jit
SCORE_TOKENS = 2048  # padded tokens per scoring call (see `scoring_batches`)


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
        try:
            ids = zip(self._ids(prompts), self._ids(solutions), strict=True)
        except TypeError:  # tokenizers says only "TextEncodeInput must be ..."
            check_texts(prompts, solutions)
            raise
        out = []
        for p, sol in ids:
            budget = self.max_len - 3
            sol = sol[-budget:]
            p = p[len(p) - (budget - len(sol)) :] if budget - len(sol) > 0 else []
            out.append(np.asarray([s.cls, *p, s.sep, *sol, s.sep], dtype=np.int32))
        return out

    def clear(self) -> None:
        self._cache.clear()


class PromptEncoder:
    """A decoder backbone's encoding: `PromptFormat.encode` (its chat template, or
    `question\n\nsolution` + EOS), the same interface as `Encoder`. `specials.pad` is the pad
    id; sep and cls are unused and set to it."""

    def __init__(self, prompt_format: PromptFormat, max_len: int, pad_id: int):
        self.format, self.max_len = prompt_format, max_len
        self.specials = Specials(pad=pad_id, sep=pad_id, cls=pad_id)

    def encode(self, prompts: Sequence[str], solutions: Sequence[str]) -> list[np.ndarray]:
        if len(prompts) != len(solutions):
            raise ValueError(f"{len(prompts)} prompts but {len(solutions)} solutions")
        check_texts(prompts, solutions)
        return [
            np.asarray(self.format.encode(p, s, self.max_len), dtype=np.int32)
            for p, s in zip(prompts, solutions, strict=True)
        ]

    def clear(self) -> None:
        pass


def check_texts(prompts: Sequence[Any], solutions: Sequence[Any]) -> None:
    """The first input the tokenizer cannot take raises a UserError naming its index."""
    for i, pair in enumerate(zip(prompts, solutions, strict=True)):
        for what, text in zip(("question", "solution"), pair, strict=True):
            if why := invalid_text(text):
                raise UserError(f"input {i}: {what}: {why}")


def encode_pairs(
    rows: list[dict[str, Any]], encoder: Encoder
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Token ids of `(prompt, chosen)` and `(prompt, rejected)` for every pair row."""
    prompts = [r["prompt"] for r in rows]
    chosen = encoder.encode(prompts, [r["chosen"] for r in rows])
    return chosen, encoder.encode(prompts, [r["rejected"] for r in rows])


def bucket_length(n: int, max_len: int) -> int:
    return min(max_len, -(-n // BUCKET) * BUCKET)


def scoring_batches(
    lengths: Sequence[int], batch_size: int, max_len: int, max_tokens: int = SCORE_TOKENS
) -> Iterator[tuple[np.ndarray, int, int]]:
    """Length-sorted groups of row indices for scoring: (indices, bucket length, rows to pad
    to). A group holds at most `batch_size` rows and, above one row, at most `max_tokens`
    padded tokens: on a CPU a 64 x 256 batch's attention scores (64 MB per layer) fall out of
    cache and are page-faulted afresh on every call, which made scoring twice as slow as
    16 x 256. Each bucket length keeps one padded row count, so jit sees one shape per bucket."""
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")

    def cap(length: int) -> int:
        return max(1, min(batch_size, max_tokens // length))

    start = 0
    while start < len(order):
        rows = min(cap(bucket_length(int(lengths[order[start]]), max_len)), len(order) - start)
        while rows > 1:  # the group's longest row sets its bucket (sorted: the last one)
            length = bucket_length(int(lengths[order[start + rows - 1]]), max_len)
            if rows <= cap(length):
                break
            rows = cap(length)
        idx = order[start : start + rows]
        length = bucket_length(int(lengths[idx[-1]]), max_len)
        size = cap(length) if len(order) > cap(length) else len(idx)
        yield idx, length, max(size, len(idx))
        start += rows


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
