"""Tiny model folders and eval metrics for the publish and inference tests (no training)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rewardpipe import model_folder
from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.model import ModelConfig, build_model

TEXTS = [
    "Tom has 3 apples and buys 2 more. How many apples does he have?",
    "3 + 2 = 5\n#### 5",
    "A baker makes 12 loaves a day for 7 days and sells 80. How many are left?",
    "He makes 12 * 7 = 84 loaves. He has 84 - 80 = 4 left.\n#### 4",
    "The answer is 19.",
] * 4


def tiny_model_folder(folder: Path, *, seed: int = 0, lora_rank: int = 0) -> Path:
    """A model_folder.save folder like the train stage writes, with a 1-layer random model."""
    tokenizer = train_bpe(TEXTS, 300)
    config = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(),
        d_model=16,
        n_layers=1,
        n_heads=2,
        d_ff=32,
        max_len=64,
        lora_rank=lora_rank,
        pad_id=tokenizer.token_to_id("<pad>"),
    )
    model = build_model(config, seed=seed)
    extra = {
        "reward": {"mean": 0.25, "std": 2.0},
        "train": {
            "steps": 3,
            "val": {"accuracy": 0.75, "loss": 0.5, "margin": 0.1},
            "params": {"steps": 3, "lr": 0.001, "batch_size": 4},
        },
    }
    model_folder.save(folder, model, tokenizer, extra)
    return folder


def metric(value: float, n: int = 4) -> dict[str, Any]:
    return {"value": value, "count": value * n}


def selection(value: float) -> dict[str, Any]:
    return {
        "n": 4,
        "exact_accuracy": metric(value),
        "numerical_accuracy": metric(value),
        "partial_accuracy": metric(min(1.0, value + 0.25)),
        "format_compliance": metric(1.0),
    }


def eval_metrics() -> dict[str, Any]:
    """The shape of metrics/eval.json (values made up)."""
    return {
        "n_prompts": 4,
        "n_candidates": 16,
        "degenerate_sets": 0,
        "ranking": {
            "pairwise_accuracy": 0.625,
            "pairs": 12,
            "auc": 0.7,
            "margin_mean": 0.3,
            "by_kind": {},
            "length_correlation": 0.05,
        },
        "best_of_n": selection(0.75),
        "weighted_vote": selection(0.5),
        "baselines": {
            "random": selection(0.25),
            "majority_vote": selection(0.5),
            "rule_based": selection(0.25),
            "longest": selection(0.0),
            "oracle": selection(1.0),
        },
    }


def write_eval(path: Path) -> Path:
    path.write_text(json.dumps(eval_metrics(), indent=2), encoding="utf-8")
    return path
