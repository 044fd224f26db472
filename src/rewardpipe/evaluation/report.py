"""Markdown report of eval.json metrics (the pull-request comment), optionally diffed to a baseline."""

from __future__ import annotations

from typing import Any

from rewardpipe.evaluation.selection import BASELINES, METRICS

_INFO_FIELDS = (
    ("dataset", "Dataset"),
    ("split", "Split"),
    ("model", "Model"),
    ("n_prompts", "Prompts"),
    ("n_candidates", "Candidates"),
)
_RANKING = ("pairwise_accuracy", "auc", "margin_mean", "length_correlation")
_MISSING = "n/a"


def fmt(value: Any) -> str:
    """4 decimals for floats, ints as is, None or missing as n/a."""
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def fmt_delta(value: Any, base: Any) -> str:
    """Signed difference value − base at 4 decimals, or n/a if either is not a number."""
    if not _is_number(value) or not _is_number(base):
        return _MISSING
    delta = round(float(value) - float(base), 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{delta:+.4f}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def lookup(metrics: dict[str, Any] | None, *path: str) -> Any:
    """metrics[path[0]][path[1]]..., or None when any step is missing."""
    node: Any = metrics
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _metric_table(
    rows: list[tuple[str, tuple[str, ...], tuple[str, ...] | None]],
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None,
) -> list[str]:
    """`| Metric | Value | Count | (Δ) |` rows from (name, value path, count path) triples."""
    head = ["Metric", "Value", "Count"] + (["Δ"] if baseline is not None else [])
    lines = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    for name, value_path, count_path in rows:
        value = lookup(metrics, *value_path)
        cells = [name, fmt(value), fmt(lookup(metrics, *count_path)) if count_path else ""]
        if baseline is not None:
            cells.append(fmt_delta(value, lookup(baseline, *value_path)))
        lines.append(_row(cells))
    return lines


def _header(metrics: dict[str, Any], info: dict[str, Any]) -> list[str]:
    lines = ["# Reward model evaluation", "", _row(["Field", "Value"]), _row(["---", "---"])]
    known = {key for key, _ in _INFO_FIELDS}
    for key, title in _INFO_FIELDS:
        value = info.get(key, metrics.get(key) if key.startswith("n_") else None)
        lines.append(_row([title, fmt(value)]))
    lines.extend(_row([key, fmt(info[key])]) for key in sorted(info) if key not in known)
    lines.append(_row(["Degenerate sets", fmt(metrics.get("degenerate_sets"))]))
    return lines


def render_report(
    metrics: dict[str, Any], *, info: dict[str, Any], baseline: dict[str, Any] | None = None
) -> str:
    """Markdown: run info, best-of-N and ranking tables, baselines; Δ columns vs `baseline`."""
    selection_rows = [
        (f"{rule} {name}", (rule, name, "value"), (rule, name, "count"))
        for rule in ("best_of_n", "weighted_vote")
        for name in METRICS
    ]
    ranking_rows: list[tuple[str, tuple[str, ...], tuple[str, ...] | None]] = [
        (name, ("ranking", name), ("ranking", "pairs") if name == "pairwise_accuracy" else None)
        for name in _RANKING
    ]
    ranking_rows.extend(
        (
            f"pairwise_accuracy [{kind}]",
            ("ranking", "by_kind", kind, "pairwise_accuracy"),
            ("ranking", "by_kind", kind, "pairs"),
        )
        for kind in sorted(lookup(metrics, "ranking", "by_kind") or {})
    )
    lines = _header(metrics, info)
    lines += ["", "## Best-of-N selection", ""]
    lines += _metric_table(selection_rows, metrics, baseline)
    lines += ["", "## Ranking", "", "Count for pairwise accuracy: correct × incorrect pairs.", ""]
    lines += _metric_table(ranking_rows, metrics, baseline)
    lines += ["", "## Baselines", "", "Model = best_of_n on the same candidates.", ""]
    lines += _baseline_table(metrics, baseline)
    if baseline is not None:
        lines += ["", "Δ = this run − baseline."]
    return "\n".join(lines) + "\n"


def _baseline_table(metrics: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    head = ["Metric", "Model"] + (["Δ"] if baseline is not None else []) + list(BASELINES)
    lines = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    for name in METRICS:
        value = lookup(metrics, "best_of_n", name, "value")
        cells = [name, fmt(value)]
        if baseline is not None:
            cells.append(fmt_delta(value, lookup(baseline, "best_of_n", name, "value")))
        cells += [fmt(lookup(metrics, "baselines", b, name, "value")) for b in BASELINES]
        lines.append(_row(cells))
    return lines
