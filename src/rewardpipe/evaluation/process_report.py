"""Markdown for eval.json's `process` section (report.md and the model card)."""

from __future__ import annotations

from typing import Any

from rewardpipe.evaluation.process import AGGREGATIONS
from rewardpipe.evaluation.report import fmt, lookup


def process_lines(section: dict[str, Any], orm: dict[str, Any] | None = None) -> list[str]:
    """`## Process reward model` with the step metrics and a best-of-N table per aggregation;
    `orm`: an outcome model's eval.json, shown as a last row on the same kind of candidates."""
    pb = section.get("processbench") or {}
    lines = [
        "## Process reward model",
        "",
        "| Metric | Value |",
        "| --- | ---: |",
        f"| step AUC | {fmt(section.get('step_auc'))} |",
        f"| ProcessBench F1 | {fmt(pb.get('f1'))} |",
        f"| first error located (erroneous, n={fmt(pb.get('n_erroneous'))}) "
        f"| {fmt(pb.get('error_accuracy'))} |",
        f"| no error said (correct, n={fmt(pb.get('n_correct'))}) "
        f"| {fmt(pb.get('correct_accuracy'))} |",
        f"| threshold (fitted on val) | {fmt(pb.get('threshold'))} |",
        "",
        f"Best-of-N by step-score aggregation (`score` uses `{section.get('aggregate', 'min')}`):",
        "",
        "| Aggregation | best_of_n exact | best_of_n numerical | weighted_vote exact |",
        "| --- | ---: | ---: | ---: |",
    ]
    for how in AGGREGATIONS:
        lines.append(
            f"| {how} | {fmt(lookup(section, 'best_of_n', how, 'exact_accuracy', 'value'))} "
            f"| {fmt(lookup(section, 'best_of_n', how, 'numerical_accuracy', 'value'))} "
            f"| {fmt(lookup(section, 'weighted_vote', how, 'exact_accuracy', 'value'))} |"
        )
    if orm is not None:
        lines.append(
            f"| ORM | {fmt(lookup(orm, 'best_of_n', 'exact_accuracy', 'value'))} "
            f"| {fmt(lookup(orm, 'best_of_n', 'numerical_accuracy', 'value'))} "
            f"| {fmt(lookup(orm, 'weighted_vote', 'exact_accuracy', 'value'))} |"
        )
    return lines
