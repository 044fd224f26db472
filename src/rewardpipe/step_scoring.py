"""Step scores of a process reward model: per-step probabilities that each step is correct,
in length-bucketed, jit-friendly batches (shared by inference and evaluate)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from rewardpipe.data.steps import split_steps
from rewardpipe.encoding import pad_batch, scoring_batches
from rewardpipe.errors import UserError
from rewardpipe.model import DecoderRewardModel, RewardTransformer
from rewardpipe.model.step_head import step_logits
from rewardpipe.step_encoding import StepEncoder

STEP_BUCKET = 8  # the step axis is padded to a multiple of this


class StepScorer:
    """`(prompts, steps lists) -> one probability array per solution`."""

    def __init__(self, model: RewardTransformer | DecoderRewardModel, encoder: StepEncoder):
        self.encoder, self.max_len = encoder, encoder.max_len
        self._graphdef, self._state = nnx.split(model)
        self._forward = jax.jit(self._apply)

    def _apply(self, state, tokens, mask, positions):
        model = nnx.merge(self._graphdef, state)
        return jax.nn.sigmoid(step_logits(model, tokens, mask, positions))

    def score(
        self, prompts: Sequence[str], steps: Sequence[Sequence[str]], batch_size: int = 64
    ) -> list[np.ndarray]:
        if batch_size < 1:
            raise UserError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        if not prompts:
            return []
        ids, positions = self.encoder.encode(list(prompts), [list(s) for s in steps])
        out: list[np.ndarray | None] = [None] * len(ids)
        pad = self.encoder.specials.pad
        lengths = [len(s) for s in ids]
        for group, length, size in scoring_batches(lengths, batch_size, self.max_len):
            idx = group.tolist()
            n_steps = max(len(positions[i]) for i in idx)
            width = -(-n_steps // STEP_BUCKET) * STEP_BUCKET
            rows = idx + [idx[0]] * (size - len(idx))
            tokens, mask = pad_batch([ids[i] for i in rows], length, pad)
            pos = np.full((size, width), -1, np.int32)
            for r, i in enumerate(rows):
                pos[r, : len(positions[i])] = positions[i]
            probs = np.asarray(self._forward(self._state, tokens, mask, pos), dtype=np.float64)
            for r, i in enumerate(idx):
                # a step cut by truncation keeps the score of the nearest step read after it
                p = positions[i]
                row = probs[r, : len(p)].copy()
                kept = np.flatnonzero(p >= 0)
                if kept.size and kept.size < len(p):
                    nearest = kept[np.searchsorted(kept, np.arange(len(p))).clip(max=kept.size - 1)]
                    row = row[nearest]
                out[i] = row
        return [np.asarray(o) for o in out]


def score_step_rows(scorer: StepScorer, rows: Sequence[dict[str, Any]], batch_size: int = 64):
    """Step probabilities of step-labelled rows (`prompt`, `steps`)."""
    return scorer.score([r["prompt"] for r in rows], [r["steps"] for r in rows], batch_size)


def score_step_sets(
    scorer: StepScorer, sets: Sequence[dict[str, Any]], batch_size: int = 64
) -> list[list[np.ndarray]]:
    """Step probabilities of every candidate (split into steps), one list per set."""
    prompts = [s["prompt"] for s in sets for _ in s["candidates"]]
    steps = [split_steps(c["text"]) or [c["text"]] for s in sets for c in s["candidates"]]
    flat = scorer.score(prompts, steps, batch_size)
    out, start = [], 0
    for s in sets:
        out.append(flat[start : start + len(s["candidates"])])
        start += len(s["candidates"])
    return out
