"""Training throughput on this machine: step time, tokens/s, pairs/s, compiles, padding, peak RSS
and MFU (achieved model FLOP/s over a large jnp matmul's FLOP/s measured in the same run).

    .venv/bin/python benchmarks/train_throughput.py [--steps 40] [--params params.yaml]

Prints one JSON object: the default model and one 4x larger (2x d_model and d_ff).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import load_synthetic
from rewardpipe.encoding import Encoder, encode_pairs
from rewardpipe.model import factory
from rewardpipe.params import load_section
from rewardpipe.training import sharding
from rewardpipe.training.batching import PairBatcher
from rewardpipe.training.loop import init_state, train_step


def matmul_flops(n: int = 2048, reps: int = 10, dtype: str = "float32") -> float:
    """Peak-ish FLOP/s of a large matmul in `dtype` (the MFU denominator)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def forward_flops(cfg, length: int, real_tokens: int) -> float:
    """Matmul FLOPs of one sequence: projections and MLP per real token, attention per length."""
    d, f, layers = cfg.d_model, cfg.d_ff, cfg.n_layers
    per_token = layers * (2 * 4 * d * d + 2 * 2 * d * f) + 2 * d
    attention = layers * 2 * 2 * length * length * d
    return per_token * real_tokens + attention * real_tokens / length


def bench(mp, tp, chosen, rejected, pad: int, vocab: int, steps: int, peak: float) -> dict:
    model = factory.create(mp, vocab_size=vocab, pad_id=pad, precision=tp.precision, seed=0)
    state, config = init_state(model, tp, sharding.data_mesh())
    n_params = int(sum(x.size for x in jax.tree.leaves(state.params)))
    batcher = PairBatcher(chosen, rejected, tp.batch_size, mp.max_len, pad, tp.seed)
    stream = batcher.from_step(0)
    # Compile every shape first (and time it), then time steady-state steps.
    shapes, compile_s = set(), 0.0
    warm = [next(stream) for _ in range(batcher.batches_per_epoch)]
    for b in warm:
        if b.tokens.shape not in shapes:
            shapes.add(b.tokens.shape)
            t = time.perf_counter()
            state, out = train_step(state, b.tokens, b.mask, config)
            jax.block_until_ready(out)
            compile_s += time.perf_counter() - t
    timed = warm[:steps]
    real_tokens = sum(int(b.mask.sum()) for b in timed)
    padded_tokens = sum(b.mask.size for b in timed)
    flops = 3 * sum(
        forward_flops(model.config, b.tokens.shape[1], int(m.sum())) for b in timed for m in b.mask
    )
    t = time.perf_counter()
    for b in timed:
        state, out = train_step(state, b.tokens, b.mask, config)
    jax.block_until_ready(out)
    elapsed = time.perf_counter() - t
    return {
        "d_model": mp.d_model,
        "n_layers": mp.n_layers,
        "d_ff": mp.d_ff,
        "params": n_params,
        "batch_pairs": tp.batch_size,
        "step_time_s": elapsed / len(timed),
        "tokens_per_s": real_tokens / elapsed,
        "pairs_per_s": len(timed) * tp.batch_size / elapsed,
        "compiles": len(shapes),
        "compile_time_s": compile_s,
        "padding_fraction": 1 - real_tokens / padded_tokens,
        "model_flops_per_s": flops / elapsed,
        "mfu": flops / elapsed / peak,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    pp = load_section(args.params, "prepare")
    pp = dataclasses.replace(pp, synthetic_train=1500, synthetic_test=10)
    mp, tp = load_section(args.params, "model"), load_section(args.params, "train")
    prepared = prepare(
        load_synthetic(pp.synthetic_train, pp.synthetic_test, pp.seed),
        pp,
        kind="gsm8k",
        columns={},
        source_hash="bench",
    )
    encoder = Encoder(prepared.tokenizer, mp.max_len)
    chosen, rejected = encode_pairs(prepared.train, encoder)
    peak = matmul_flops()
    vocab = prepared.tokenizer.get_vocab_size()
    large = dataclasses.replace(mp, d_model=2 * mp.d_model, d_ff=2 * mp.d_ff)
    runs = [
        bench(m, tp, chosen, rejected, encoder.specials.pad, vocab, args.steps, peak)
        for m in (mp, large)
    ]
    print(
        json.dumps(
            {
                "device": str(jax.devices()[0]),
                "device_count": jax.device_count(),
                "matmul_flops_per_s": peak,
                "default": runs[0],
                "large_4x": runs[1],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
