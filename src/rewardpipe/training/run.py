"""Glue for the train stage: encoded data, the run's identity, the dvclive folder on resume."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rewardpipe.params import ModelParams, TrainParams, to_dict
from rewardpipe.training.batching import Encoder

# Params that do not change the trained weights: a changed value must not block a resume.
NOT_IN_IDENTITY = ("eval_every", "log_every", "keep_checkpoints")


def encode_pairs(
    rows: list[dict[str, Any]], encoder: Encoder
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    prompts = [r["prompt"] for r in rows]
    return encoder.encode(prompts, [r["chosen"] for r in rows]), encoder.encode(
        prompts, [r["rejected"] for r in rows]
    )


def file_sha256(*paths: str | Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def run_identity(
    mp: ModelParams, tp: TrainParams, data_sha256: str, devices: int
) -> dict[str, Any]:
    """Everything that determines the weights; checkpoints are keyed by it."""
    train = {k: v for k, v in to_dict(tp).items() if k not in NOT_IN_IDENTITY}
    return {"model": to_dict(mp), "train": train, "data_sha256": data_sha256, "devices": devices}


def truncate_live(directory: str | Path, step: int | None) -> None:
    """Make the dvclive folder match a resume point: rows after `step` are dropped (they were
    logged after the last checkpoint and will be logged again); no resume -> start empty."""
    directory = Path(directory)
    if step is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for tsv in directory.glob("plots/metrics/**/*.tsv"):
        with tsv.open(newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        if not rows:
            continue
        keep = [rows[0]] + [r for r in rows[1:] if int(r[rows[0].index("step")]) <= step]
        with tsv.open("w", newline="") as f:
            csv.writer(f, delimiter="\t", lineterminator="\n").writerows(keep)
