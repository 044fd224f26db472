"""Scoring throughput: candidates/s of the evaluate stage's scoring (`score_sets`) on the GSM8K
test set × 4 candidates, of `as_reward_fn` at GRPO-like calls (8 prompts × 8 completions), and of
the peer: a plain PyTorch forward of the same architecture (transformers'
BertForSequenceClassification of the same size, batch 64 in input order, dynamic padding).

    .venv/bin/python benchmarks/score_throughput.py --gsm8k ../shared/data/gsm8k \
        [--model models/model] [-S model.d_model=256 ...]

Without `--model` the default model (params.yaml + `-S`) is built with random weights: the
speed does not depend on them. Prints one JSON object; the peer is skipped without torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tokenizers import Tokenizer

from rewardpipe import model_folder
from rewardpipe.allocator import keep_freed_memory
from rewardpipe.cli import parse_set, temp_params
from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import load_local
from rewardpipe.encoding import special_ids
from rewardpipe.evaluation.scoring import score_sets
from rewardpipe.inference import RewardModel
from rewardpipe.model import factory
from rewardpipe.params import load_section

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import forward_flops, matmul_flops

ROOT = Path(__file__).resolve().parents[1]


def test_sets(gsm8k: str, sets: list[str]) -> tuple[list[dict[str, Any]], Tokenizer, Any, Any]:
    """The GSM8K test prompts with the prepare stage's candidates (reference + 3 negatives)."""
    overrides = {"prepare.source": "local", "prepare.path": gsm8k}
    with temp_params(ROOT / "params.yaml", overrides, sets) as path:
        pp, mp, ep = (load_section(path, s) for s in ("prepare", "model", "evaluate"))
    prepared = prepare(load_local(gsm8k), pp, kind="gsm8k", columns={}, source_hash="bench")
    return prepared.test, prepared.tokenizer, mp, ep


def random_model(folder: Path, mp, tokenizer: Tokenizer) -> RewardModel:
    pad = special_ids(tokenizer).pad
    model = factory.create(
        mp, vocab_size=tokenizer.get_vocab_size(), pad_id=pad, precision="float32", seed=0
    )
    model_folder.save(folder, model, tokenizer, {"reward": {"mean": 0.0, "std": 1.0}})
    return RewardModel.from_pretrained(folder)


def best_of(fn, repeats: int) -> float:
    fn()  # compiles every shape
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def torch_peer(model: RewardModel, prompts, texts, batch_size: int) -> dict[str, Any]:
    """A transformers BERT of the same size over the same token ids: batch 64, input order."""
    try:
        import torch
        from transformers import BertConfig, BertForSequenceClassification
    except ImportError as exc:
        return {"skipped": f"{exc.name} is not installed (dev-only)"}
    cfg = model.config["model"]
    config = BertConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["d_model"],
        num_hidden_layers=cfg["n_layers"],
        num_attention_heads=cfg["n_heads"],
        intermediate_size=cfg["d_ff"],
        max_position_embeddings=cfg["max_len"],
        num_labels=1,
        pad_token_id=cfg["pad_id"],
    )
    torch.manual_seed(0)
    peer = BertForSequenceClassification(config).eval()
    seqs = model.encoder.encode(list(prompts), list(texts))

    def run(tokenize: bool = False) -> None:
        nonlocal seqs
        if tokenize:  # the same tokenizer calls as the evaluate path's (`Encoder.encode`)
            model.encoder.clear()
            seqs = model.encoder.encode(list(prompts), list(texts))
        with torch.inference_mode():
            for start in range(0, len(seqs), batch_size):
                rows = seqs[start : start + batch_size]
                n = max(len(r) for r in rows)
                ids = torch.full((len(rows), n), cfg["pad_id"], dtype=torch.long)
                mask = torch.zeros((len(rows), n), dtype=torch.long)
                for i, r in enumerate(rows):
                    ids[i, : len(r)] = torch.from_numpy(r.astype(np.int64))
                    mask[i, : len(r)] = 1
                peer(input_ids=ids, attention_mask=mask)

    seconds = best_of(run, 2)
    with_tokens = best_of(lambda: run(tokenize=True), 2)
    model.encoder.clear()
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "candidates_per_s": len(seqs) / seconds,
        "candidates_per_s_with_tokenization": len(seqs) / with_tokens,
    }


def main(argv: list[str] | None = None) -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gsm8k", required=True)
    ap.add_argument("--model", help="a trained model folder (default: random weights)")
    ap.add_argument("-S", "--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    [parse_set(s) for s in args.set]
    sets, tokenizer, mp, ep = test_sets(args.gsm8k, args.set)
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            model = RewardModel.from_pretrained(args.model)
        else:
            model = random_model(Path(tmp) / "model", mp, tokenizer)
    prompts = [s["prompt"] for s in sets for _ in s["candidates"]]
    texts = [c["text"] for s in sets for c in s["candidates"]]
    n = len(texts)
    evaluate_s = best_of(lambda: score_sets(model, sets, ep.batch_size), args.repeats)

    def tokenize() -> None:
        model.encoder.clear()
        model.encoder.encode(prompts, texts)

    tokenize_s = best_of(tokenize, args.repeats)
    model.encoder.clear()

    # GRPO-like: 8 prompts × 8 completions per call (each prompt's candidates twice over)
    fn = model.as_reward_fn()
    calls = []
    for start in range(0, len(sets) - 7, 8):
        group = sets[start : start + 8]
        calls.append(
            (
                [s["prompt"] for s in group for _ in range(8)],
                [
                    s["candidates"][i % len(s["candidates"])]["text"]
                    for s in group
                    for i in range(8)
                ],
            )
        )
    reward_fn_s = best_of(lambda: [fn(p, c) for p, c in calls], args.repeats)

    cfg = model.config["model"]
    seqs = model.encoder.encode(prompts, texts)

    class Shape:  # forward_flops reads these
        d_model, d_ff, n_layers = cfg["d_model"], cfg["d_ff"], cfg["n_layers"]
        pooling = cfg.get("pooling", "last")

    flops = sum(forward_flops(Shape, len(s), len(s)) for s in seqs)
    peak = matmul_flops()
    ours = n / evaluate_s
    peer = torch_peer(model, prompts, texts, 64)
    out = {
        "device": str(jax.devices()[0]),
        "matmul_flops_per_s": peak,
        "model": {k: cfg[k] for k in ("d_model", "n_layers", "n_heads", "d_ff", "max_len")},
        "candidates": n,
        "evaluate": {
            "candidates_per_s": ours,
            "batch_size": ep.batch_size,
            "tokenize_s": tokenize_s,  # of the evaluate_s below
            "evaluate_s": evaluate_s,
            "mfu": flops / evaluate_s / peak,
        },
        "reward_fn": {
            "completions_per_s": len(calls) * 64 / reward_fn_s,
            "calls": len(calls),
            "batch": "8 prompts x 8 completions",
        },
        "torch_peer": peer,
    }
    if "candidates_per_s" in peer:
        # ours includes tokenization (the evaluate stage's path); the plain peer does not
        out["ratio_evaluate_vs_peer"] = ours / peer["candidates_per_s"]
        out["ratio_evaluate_vs_peer_with_tokenization"] = (
            ours / peer["candidates_per_s_with_tokenization"]
        )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
