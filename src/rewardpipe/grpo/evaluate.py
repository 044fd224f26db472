"""The policy's answer accuracy on held-out questions: greedy completions scored with the
seed's four metrics (exact, numerical, partial, format compliance)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rewardpipe.evaluation.selection import METRICS, candidate_metrics


def accuracy(
    complete: Callable[[Sequence[str]], list[str]],
    prompts: Sequence[str],
    references: Sequence[str],
    *,
    batch_size: int,
    partial_tolerance: float,
    answer_format: str,
) -> dict[str, float]:
    """Mean of each metric over the questions; `complete` maps a batch of prompts (always
    `batch_size` of them: the last batch is padded by repeating) to completions."""
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        real = len(chunk)
        chunk += [chunk[0]] * (batch_size - real)
        texts += complete(chunk)[:real]
    rows = [
        candidate_metrics(t, r, partial_tolerance=partial_tolerance, answer_format=answer_format)
        for t, r in zip(texts, references, strict=True)
    ]
    out = {m: float(np.mean([row[m] for row in rows])) if rows else 0.0 for m in METRICS}
    out["n"] = len(rows)
    out["mean_length_chars"] = float(np.mean([len(t) for t in texts])) if texts else 0.0
    return out
