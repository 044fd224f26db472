"""Sampling throughput of a small random decoder policy: generated tokens per second with and
without the KV cache, for `rewardpipe.policy.generate` (the one sampler: the sample stage's and
the GRPO trainer's; `use_cache=False` recomputes the whole sequence per token).

    .venv/bin/python benchmarks/sample_throughput.py [--batch 16 --prompt 64 --new 64 --hidden 128]

Every row of the batch generates `--new` tokens (no EOS in the vocabulary is sampled: eos -1),
so tokens/s = batch * new / seconds (the best of `--repeats` runs after one compile run).
Prints one JSON object; `speedup` is cached / uncached tokens/s.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from rewardpipe import policy as policy_lm
from rewardpipe.allocator import keep_freed_memory


def hf_config(args: argparse.Namespace) -> dict:
    return {
        "model_type": "llama",
        "vocab_size": args.vocab,
        "hidden_size": args.hidden,
        "intermediate_size": 4 * args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.heads,
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
    }


def timed(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    hf = hf_config(args)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, args.vocab, (args.batch, args.prompt)).astype(np.int32)
    mask = np.ones_like(tokens, bool)
    mask[::2, : args.prompt // 4] = False  # some left padding, as in real batches
    key = jax.random.key(0)
    n_tokens = args.batch * args.new
    results = {}

    lm = policy_lm.random_policy(hf)
    for cache in (True, False):
        seconds = timed(
            lambda c=cache: policy_lm.generate(
                lm, tokens, mask, args.new, 1.0, 1.0, key, eos_ids=(-1,), use_cache=c
            ),
            args.repeats,
        )
        results["cached" if cache else "uncached"] = n_tokens / seconds

    out = {
        "device": jax.devices()[0].platform,
        "config": vars(args),
        "tokens_per_s": {k: round(v, 1) for k, v in results.items()},
        "speedup": round(results["cached"] / results["uncached"], 2),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
