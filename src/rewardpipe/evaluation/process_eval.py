"""eval.json's `process` section for a process reward model: score the step-labelled val and
test solutions (data/prepared/steps) and every test candidate's steps, then the metrics of
`evaluation.process` (step AUC, ProcessBench with a val-fitted threshold, best-of-N and weighted
vote per aggregation) and the per-position step-score curves for the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardpipe.errors import UserError
from rewardpipe.evaluation.process import process_section, step_score_curves
from rewardpipe.io import read_jsonl
from rewardpipe.step_scoring import StepScorer, score_step_rows, score_step_sets


def read_step_rows(steps_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """val and test step rows; a missing file names what to rerun."""
    rows = {}
    for split in ("val", "test"):
        path = Path(steps_dir) / f"{split}.jsonl"
        if not path.is_file():
            raise UserError(
                f"{path}: not found; a process model is evaluated on step labels that prepare "
                "writes with train.objective=process"
            )
        rows[split] = read_jsonl(path)
    return rows


def evaluate_process(
    scorer: StepScorer,
    steps_dir: str | Path,
    sets: list[dict[str, Any]],
    *,
    aggregate: str,
    batch_size: int,
    partial_tolerance: float,
    vote_temperature: float,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the `process` section, the step-score curves of the test solutions)."""
    rows = read_step_rows(steps_dir)
    val_scores = score_step_rows(scorer, rows["val"], batch_size)
    test_scores = score_step_rows(scorer, rows["test"], batch_size)
    section = process_section(
        rows["val"],
        val_scores,
        rows["test"],
        test_scores,
        sets,
        score_step_sets(scorer, sets, batch_size),
        aggregate=aggregate,
        partial_tolerance=partial_tolerance,
        vote_temperature=vote_temperature,
    )
    return section, step_score_curves(rows["test"], test_scores)
