"""Evaluation throughput: candidates scored per second, and the evaluate stage's wall time on the
GSM8K test set (1319 questions x the default number of candidates).

    .venv/bin/python benchmarks/eval_throughput.py --model models/model [--gsm8k ../shared/data/gsm8k]

Needs a trained model folder (run `dvc repro train` first). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from rewardpipe.allocator import keep_freed_memory
from rewardpipe.evaluation.scoring import score_sets
from rewardpipe.inference import RewardModel
from rewardpipe.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="models/model")
    ap.add_argument("--gsm8k", default=str(ROOT.parent / "shared" / "data" / "gsm8k"))
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["prepare"].update(source="local", path=str(Path(args.gsm8k).resolve()))
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))
        subprocess.run(
            [
                sys.executable,
                "stages/prepare.py",
                "--params",
                str(tmp / "params.yaml"),
                "--out",
                str(tmp / "prepared"),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        sets = read_jsonl(tmp / "prepared" / "test.jsonl")
        n_candidates = sum(len(s["candidates"]) for s in sets)

        model = RewardModel.from_pretrained(args.model)
        t = time.perf_counter()
        score_sets(model, sets[:64], args.batch_size)  # compiles the bucket shapes
        warmup = time.perf_counter() - t
        t = time.perf_counter()
        score_sets(model, sets, args.batch_size)
        scoring = time.perf_counter() - t

        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "stages/evaluate.py",
                "--params",
                str(tmp / "params.yaml"),
                "--model",
                str(Path(args.model).resolve()),
                "--candidates",
                str(tmp / "prepared" / "test.jsonl"),
                "--output",
                str(tmp / "eval.json"),
                "--details",
                str(tmp / "eval"),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        stage = time.perf_counter() - t
        metrics = json.loads((tmp / "eval.json").read_text())
    print(
        json.dumps(
            {
                "prompts": len(sets),
                "candidates": n_candidates,
                "candidates_per_s": n_candidates / scoring,
                "scoring_s": scoring,
                "warmup_compile_s": warmup,
                "evaluate_stage_wall_s": stage,
                "pairwise_accuracy": metrics["ranking"]["pairwise_accuracy"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
