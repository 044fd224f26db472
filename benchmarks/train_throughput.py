"""Training throughput on GSM8K pairs (chosen = the reference, rejected = a propagated negative):
pairs/s, real tokens/s, padding fraction, compiles, and MFU (model matmul FLOPs over the FLOP/s
of a large jnp matmul measured in the same run).

    .venv/bin/python benchmarks/train_throughput.py --gsm8k ../shared/data/gsm8k \
        [-S model.d_model=512 ...] [--steps 40]

The shape is issue 13's reference (d_model 256, 4 layers, 4 heads, d_ff 1024, an 8192-token BPE
vocabulary, 16 pairs per step) over params.yaml; `-S section.key=value` overrides anything.
Prints one JSON object. `benchmarks/peer_trl.py` runs TRL's RewardTrainer beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rewardpipe.allocator import keep_freed_memory
from rewardpipe.cli import parse_set, temp_params
from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import load_local
from rewardpipe.encoding import Encoder, encode_pairs
from rewardpipe.model import factory
from rewardpipe.params import load_section
from rewardpipe.training import sharding
from rewardpipe.training.batching import PairBatcher
from rewardpipe.training.loop import init_state, train_step

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_SHAPE = {
    "model.d_model": 256,
    "model.n_layers": 4,
    "model.n_heads": 4,
    "model.d_ff": 1024,
    "prepare.vocab_size": 8192,
    "prepare.max_examples": 1500,  # train questions: enough distinct pairs for the timed steps
    "train.batch_size": 16,
}


@dataclasses.dataclass
class Workload:
    """Encoded pairs plus the params they were built with."""

    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    pad: int
    vocab: int
    tokenizer: Any
    model: Any  # ModelParams
    train: Any  # TrainParams


def workload(gsm8k: str, sets: list[str], params: Path = ROOT / "params.yaml") -> Workload:
    """GSM8K train pairs prepared as the prepare stage does, encoded for the scratch model."""
    overrides = dict(REFERENCE_SHAPE) | {"prepare.source": "local", "prepare.path": gsm8k}
    with temp_params(params, overrides, sets) as path:
        pp, mp, tp = (load_section(path, s) for s in ("prepare", "model", "train"))
    t = time.perf_counter()
    prepared = prepare(load_local(gsm8k), pp, kind="gsm8k", columns={}, source_hash="bench")
    encoder = Encoder(prepared.tokenizer, mp.max_len)
    chosen, rejected = encode_pairs(prepared.train, encoder)
    log(f"prepared {len(chosen)} GSM8K pairs in {time.perf_counter() - t:.0f}s")
    vocab = prepared.tokenizer.get_vocab_size()
    return Workload(chosen, rejected, encoder.specials.pad, vocab, prepared.tokenizer, mp, tp)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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
    """Matmul FLOPs of one sequence: projections and MLP per real token, attention per length
    (a padded row still attends over `length` keys). With "last" or "cls" pooling the last
    block runs at the pooled position only (keys and values still at every token): counted so."""
    d, f, layers = cfg.d_model, cfg.d_ff, cfg.n_layers
    per_token = 2 * 4 * d * d + 2 * 2 * d * f
    attention = 2 * 2 * length * d
    if getattr(cfg, "pooling", "last") == "mean":
        return layers * (per_token + attention) * real_tokens + 2 * d
    kv = 2 * 2 * d * d  # the last block's key and value projections, at every token
    full = (layers - 1) * (per_token + attention) * real_tokens
    return full + kv * real_tokens + (per_token - kv) + attention + 2 * d


def batch_flops(cfg, mask: np.ndarray) -> float:
    """Forward + backward (3 × forward) model FLOPs of one padded batch, counting real tokens."""
    length = mask.shape[1]
    return 3 * sum(forward_flops(cfg, length, int(m.sum())) for m in mask)


def op_names(hlo_texts: list[str]) -> dict[str, str]:
    """XLA instruction name -> the JAX op it came from (its `op_name` metadata, the source
    function's path), from compiled HLO text."""
    out = {}
    for text in hlo_texts:
        for m in re.finditer(r"^\s*(?:ROOT )?%?([\w.-]+) = .*?op_name=\"([^\"]+)\"", text, re.M):
            out.setdefault(m.group(1), m.group(2))
    return out


def top_ops(trace_dir: Path, names: dict[str, str], n: int = 15) -> list[dict[str, Any]]:
    """The JAX ops whose XLA kernels took the most time in a `jax.profiler` trace (its perfetto
    JSON); `names` maps kernel names to JAX ops (`op_names`)."""
    files = sorted(trace_dir.rglob("*.trace.json.gz"))
    if not files:
        return []
    events = json.loads(gzip.decompress(files[-1].read_bytes()))
    events = events["traceEvents"] if isinstance(events, dict) else events
    totals: dict[str, float] = {}
    for e in events:
        name = e.get("name", "")
        if e.get("ph") == "X" and "dur" in e and name in names:
            op = names[name].split("/", 1)[-1]
            totals[op] = totals.get(op, 0.0) + e["dur"]
    all_us = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:n]
    return [{"op": k, "ms": round(v / 1000, 1), "share": round(v / all_us, 3)} for k, v in ranked]


def bench(w: Workload, steps: int, peak: float, profile: Path | None = None) -> dict[str, Any]:
    """Compile every bucket shape first, then time `steps` steady-state optimizer steps (under
    `jax.profiler.trace(profile)` when given: the hot ops come back in `profile_top_ops`)."""
    mp, tp = w.model, w.train
    model = factory.create(mp, vocab_size=w.vocab, pad_id=w.pad, precision=tp.precision, seed=0)
    state, config = init_state(model, tp, sharding.data_mesh())
    n_params = int(sum(x.size for x in jax.tree.leaves(state.params)))
    batcher = PairBatcher(w.chosen, w.rejected, tp.batch_size, mp.max_len, w.pad, tp.seed)
    stream = batcher.from_step(0)
    warm = [next(stream) for _ in range(batcher.batches_per_epoch)]
    shapes, compile_s, hlo = set(), 0.0, []
    for b in warm:
        if b.tokens.shape not in shapes:
            shapes.add(b.tokens.shape)
            if profile:
                hlo.append(train_step.lower(state, b.tokens, b.mask, config).compile().as_text())
            t = time.perf_counter()
            state, out = train_step(state, b.tokens, b.mask, config)
            jax.block_until_ready(out)
            compile_s += time.perf_counter() - t
    log(f"compiled {len(shapes)} shapes in {compile_s:.0f}s; timing {steps} steps")
    timed = warm[:steps]
    real = sum(int(b.mask.sum()) for b in timed)
    padded = sum(b.mask.size for b in timed)
    flops = sum(batch_flops(model.config, b.mask) for b in timed)
    tracing = (
        jax.profiler.trace(str(profile), create_perfetto_trace=True)
        if profile
        else contextlib.nullcontext()
    )
    with tracing:
        t = time.perf_counter()
        for b in timed:
            state, out = train_step(state, b.tokens, b.mask, config)
        jax.block_until_ready(out)
        elapsed = time.perf_counter() - t
    hot = {"profile_top_ops": top_ops(profile, op_names(hlo))} if profile else {}
    return hot | {
        "shape": {k: getattr(mp, k) for k in ("d_model", "n_layers", "n_heads", "d_ff")}
        | {"vocab_size": w.vocab, "batch_pairs": tp.batch_size, "precision": tp.precision},
        "params": n_params,
        "steps": len(timed),
        "step_time_s": elapsed / len(timed),
        "pairs_per_s": len(timed) * tp.batch_size / elapsed,
        "tokens_per_s": real / elapsed,
        "padding_fraction": 1 - real / padded,
        "compiles": len(shapes),
        "compile_time_s": compile_s,
        "model_flops_per_s": flops / elapsed,
        "mfu": flops / elapsed / peak,
    }


def timed_pairs(w: Workload, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (chosen, rejected) ids of the first `steps` batches `bench` times, in order."""
    tp, mp = w.train, w.model
    batcher = PairBatcher(w.chosen, w.rejected, tp.batch_size, mp.max_len, w.pad, tp.seed)
    order = batcher.epoch_order(0)[:steps]
    return [(w.chosen[i], w.rejected[i]) for b in order for i in b]


def main(argv: list[str] | None = None) -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gsm8k", required=True, help="folder with GSM8K train.jsonl / test.jsonl")
    ap.add_argument("-S", "--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--profile", type=Path, help="write a jax.profiler trace here; list hot ops")
    args = ap.parse_args(argv)
    [parse_set(s) for s in args.set]  # a malformed override fails before any work
    w = workload(args.gsm8k, args.set)
    peak = matmul_flops()
    print(
        json.dumps(
            {
                "device": str(jax.devices()[0]),
                "device_count": jax.device_count(),
                "matmul_flops_per_s": peak,
                "rewardpipe": bench(w, args.steps, peak, args.profile),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
