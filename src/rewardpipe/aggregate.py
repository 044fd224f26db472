"""One solution score from a process reward model's step scores (`min`, `last`, `prod`, `mean`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardpipe.errors import UserError

AGGREGATIONS = ("min", "last", "prod", "mean")


def check_aggregate(how: str, what: str = "aggregate") -> str:
    if how not in AGGREGATIONS:
        raise UserError(f"{what}: expected one of {', '.join(AGGREGATIONS)}, got {how!r}")
    return how


def prm_aggregate(step_scores: Sequence[float], how: str = "min") -> float:
    """One solution score from its step probabilities: `min`, `last`, `prod` or `mean`."""
    check_aggregate(how, "prm aggregate")
    scores = np.asarray(step_scores, dtype=np.float64)
    if scores.size == 0:
        raise UserError("prm aggregate: a solution without steps has no score")
    if how == "min":
        return float(scores.min())
    if how == "last":
        return float(scores[-1])
    if how == "prod":
        return float(np.prod(scores))
    return float(scores.mean())
