"""The headline metrics: the few rates `dvc exp show` and `dvc metrics diff` show.

One file (`metrics/headline.json`, written by the evaluate stage as in DVC's example-get-started),
flat names that no param shares, rates only (`steps` aside), in the order the table shows them:
`dvc exp show` collapses columns from the right when the terminal is narrow, so what a person
compares first comes first. Everything else (per-kind accuracies, counts, every baseline, data
statistics) stays in the full outputs: `metrics/eval.json`, `metrics/train/metrics.json`,
`data/prepared/stats.json`, `metrics/publish.json`.
"""

from __future__ import annotations

import math
from typing import Any

# (name, label, where it comes from: "eval.<path in eval.json>" or "train.<path in the model
# folder's train record>"; None: computed below)
HEADLINE = (
    ("val_accuracy", "Val pairwise accuracy", "train.val.accuracy"),
    ("pairwise_accuracy", "Pairwise accuracy", "eval.ranking.pairwise_accuracy"),
    ("bon_exact", "Best-of-N exact accuracy", "eval.best_of_n.exact_accuracy.value"),
    ("bon_numerical", "Best-of-N numerical accuracy", "eval.best_of_n.numerical_accuracy.value"),
    ("vote_exact", "Weighted-vote exact accuracy", "eval.weighted_vote.exact_accuracy.value"),
    ("auc", "AUC", "eval.ranking.auc"),
    ("baseline_exact", "Best baseline exact accuracy", None),
    ("bon_over_baseline", "Best-of-N over the best baseline", None),
    ("length_corr", "Reward-length correlation", "eval.ranking.length_correlation"),
    ("val_loss", "Val loss", "train.val.loss"),
    ("train_loss", "Train loss (last window)", "train.loss"),
    ("steps", "Optimizer steps", "train.steps"),
)
# A process reward model's step-level rates, after the rest (absent for an outcome model, whose
# headline is unchanged: `dvc exp show` shows "-" in its row).
PROCESS = (
    ("prm_f1", "ProcessBench F1", "eval.process.processbench.f1"),
    ("prm_first_error", "First wrong step located", "eval.process.processbench.error_accuracy"),
    ("prm_no_error", "Correct solutions passed", "eval.process.processbench.correct_accuracy"),
    ("step_auc", "Step AUC", "eval.process.step_auc"),
)
NAMES = tuple(name for name, _, _ in HEADLINE)
EVAL = tuple(row for row in HEADLINE if row[2] is None or row[2].startswith("eval."))
# the baselines a reward model must beat; `oracle` (any candidate correct) is an upper bound
BASELINES = ("random", "majority_vote", "rule_based", "longest")


def lookup(tree: dict[str, Any] | None, dotted: str) -> Any:
    """`a.b.c` in a nested dict, or None."""
    node: Any = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _rate(value: Any) -> float | int | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def best_baseline(metrics: dict[str, Any] | None) -> tuple[str | None, float | None]:
    """The strongest non-oracle baseline of an eval.json by exact accuracy: (name, accuracy)."""
    found = [
        (value, name)
        for name in BASELINES
        if (value := _rate(lookup(metrics, f"baselines.{name}.exact_accuracy.value"))) is not None
    ]
    if not found:
        return None, None
    value, name = max(found)
    return name, value


def headline(
    metrics: dict[str, Any] | None, train: dict[str, Any] | None = None
) -> dict[str, float | int | None]:
    """The headline of a full eval.json and the model folder's train record (config.json
    `train`: steps, val, loss); names whose source is missing are None."""
    sources = {"eval": metrics, "train": train}
    out = {}
    for name, _, path in HEADLINE:
        if path:
            where, _, rest = path.partition(".")
            out[name] = _rate(lookup(sources[where], rest))
    _, base = best_baseline(metrics)
    out["baseline_exact"] = base
    bon = out["bon_exact"]
    out["bon_over_baseline"] = None if bon is None or base is None else bon - base
    result = {name: out[name] for name in NAMES}
    if lookup(metrics, "process") is not None:
        result |= {name: _rate(lookup(metrics, path[5:])) for name, _, path in PROCESS}
    return result
