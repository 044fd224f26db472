"""evaluate: score test candidates -> metrics/eval.json (+ its headline), plots, failures, report.
With --predictions FILE: accuracy of one completion per question (no reward model)."""

import argparse
import sys
import time
from pathlib import Path

from rewardpipe import stage
from rewardpipe.data.candidates import load_candidates
from rewardpipe.errors import UserError
from rewardpipe.evaluation import evaluate_sets, failures, plots, predictions, report
from rewardpipe.evaluation.process_eval import evaluate_process
from rewardpipe.evaluation.process_report import process_lines
from rewardpipe.evaluation.scoring import score_sets, subset
from rewardpipe.headline import headline
from rewardpipe.inference import RewardModel
from rewardpipe.io import atomic_dir, read_json, read_jsonl, write_json, write_jsonl, write_text
from rewardpipe.params import load_section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True)
    ap.add_argument("--model", help="the trained model folder (not with --predictions)")
    ap.add_argument("--test", help="prepared test sets (used unless a candidates file is given)")
    ap.add_argument("--candidates", help="candidates file (default: evaluate.candidates_path)")
    ap.add_argument("--output", required=True, help="metrics JSON (everything)")
    ap.add_argument("--headline", help="headline metrics JSON (what `dvc exp show` reads)")
    ap.add_argument("--details", help="folder for plots, failures, report")
    ap.add_argument("--steps", help="step-labelled val/test rows (process models)")
    ap.add_argument("--baseline", help="another eval.json: the report shows deltas against it")
    ap.add_argument(
        "--predictions", help="JSONL of {question, answer, completion}: predictions mode"
    )
    args = ap.parse_args()
    evaluate_params = load_section(args.params, "evaluate")
    if args.predictions:
        return predictions_mode(
            Path(args.predictions), Path(args.output), evaluate_params.partial_tolerance
        )
    for flag in ("model", "details"):
        if getattr(args, flag) is None:
            ap.error(f"--{flag} is required (unless --predictions)")
    source = args.candidates or evaluate_params.candidates_path
    if not source and not args.test:
        ap.error("--test is required unless --candidates or evaluate.candidates_path is set")
    run(args, evaluate_params, source)


def run(args: argparse.Namespace, evaluate_params, source: str | None) -> None:
    """Score the test sets (or a candidates file) with the model; write metrics and details."""
    start = time.perf_counter()
    merged = 0
    if source:
        candidates = load_candidates(source)
        sets, merged = candidates.sets, candidates.duplicate_rows
        if merged:
            print(
                f"warning: {source}: {merged} rows repeat an earlier question; merged",
                file=sys.stderr,
            )
    else:
        sets = read_jsonl(args.test)
    sets = subset(sets, evaluate_params.num_samples)
    model = RewardModel.from_pretrained(args.model)
    if model.is_process:
        model.aggregate = evaluate_params.prm_aggregate  # a solution's score from its steps
    scores = score_sets(model, sets, evaluate_params.batch_size)
    metrics = evaluate_sets(
        sets,
        scores,
        partial_tolerance=evaluate_params.partial_tolerance,
        vote_temperature=evaluate_params.vote_temperature,
    )
    info = {
        "dataset": source or args.test,
        "split": "candidates" if source else "test",
        "model": args.model,
        "n_prompts": metrics["n_prompts"],
        "n_candidates": metrics["n_candidates"],
    }
    if source:
        info["candidates_duplicate_rows"] = merged
    curves = None
    if model.is_process:
        if not args.steps:
            raise UserError("evaluate: a process model needs --steps (data/prepared/steps)")
        metrics["process"], curves = evaluate_process(
            model.step_scorer,
            args.steps,
            sets,
            aggregate=evaluate_params.prm_aggregate,
            batch_size=evaluate_params.batch_size,
            partial_tolerance=evaluate_params.partial_tolerance,
            vote_temperature=evaluate_params.vote_temperature,
        )
    baseline = read_json(args.baseline) if args.baseline else None
    worst = failures.worst_rankings(sets, scores, evaluate_params.failures)
    with atomic_dir(args.details) as tmp:
        write_json(tmp / "plots" / "roc.json", plots.roc_points(sets, scores))
        write_json(tmp / "plots" / "reward_histogram.json", plots.reward_histogram(sets, scores))
        write_json(
            tmp / "plots" / "reliability.json",
            plots.reliability(sets, scores, partial_tolerance=evaluate_params.partial_tolerance),
        )
        write_jsonl(tmp / "failures.jsonl", worst)
        predictions.write_records_csv(worst, tmp / "failures.csv")
        text = report.render_report(metrics, info=info, baseline=baseline)
        if curves is not None:
            write_json(tmp / "plots" / "step_scores.json", curves)
            orm = baseline if baseline and "process" not in baseline else None  # an ORM's
            text = (
                text.rstrip("\n")
                + "\n\n"
                + "\n".join(process_lines(metrics["process"], orm))
                + "\n"
            )
        write_text(tmp / "report.md", text)
    write_json(args.output, metrics)
    if args.headline:
        write_json(args.headline, headline(metrics, model.config.get("train")))
    bon = metrics["best_of_n"]
    print(
        f"evaluated {metrics['n_prompts']} prompts / {metrics['n_candidates']} candidates in "
        f"{time.perf_counter() - start:.1f}s: pairwise {metrics['ranking']['pairwise_accuracy']}, "
        f"best-of-n exact {bon['exact_accuracy']['value']:.4f} -> {args.output}"
    )


def predictions_mode(path: Path, output: Path, tolerance: float) -> None:
    records, summary = predictions.score_predictions(
        predictions.load_predictions(path), partial_tolerance=tolerance
    )
    predictions.write_records_jsonl(records, output.with_suffix(".records.jsonl"))
    predictions.write_records_csv(records, output.with_suffix(".records.csv"))
    write_json(output, summary)
    print(
        f"scored {len(records)} predictions -> {output}: "
        + ", ".join(f"{k} {v['value']:.4f}" for k, v in summary.items() if isinstance(v, dict))
    )


if __name__ == "__main__":
    stage.run(main)
