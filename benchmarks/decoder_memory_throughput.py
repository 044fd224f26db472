"""Decoder reward models under FSDP: per-device memory from XLA's compiled memory analysis at 1,
8 and 64 simulated devices, the largest model that fits an 80 GB accelerator at 8 devices, and
(--throughput) tokens/s and MFU of real train steps on this CPU.

    .venv/bin/python benchmarks/decoder_memory_throughput.py [--devices 1,8,64] [--throughput]

Models: random Qwen2.5-0.5B- and Gemma-3-1B-shaped decoders (no download), bfloat16 compute,
float32 params, LoRA rank 16 on every projection (+ the score head) trained with loop's AdamW,
the frozen base sharded like the trainable params. Nothing is materialised for the memory
numbers: the state is `nnx.eval_shape`d and the step lowered on sharded ShapeDtypeStructs. Each
device count runs in its own process (XLA_FLAGS=--xla_force_host_platform_device_count=N).

The step is this script's own (not loop.train_step): loop's `_forward` passes `deterministic=`
and trains `trainable_filter(model.config)` (an encoder's LoRA + "head"), which the decoder does
not take; this step uses `decoder_trainable_filter`, loss.pairwise_loss and optim.optimizer.
Per-layer rematerialisation (`--remat`, default on): the decoder's `remat` option
(`model.remat` in params.yaml), `nnx.remat` around each Block.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

from rewardpipe.allocator import keep_freed_memory

GB = 1e9
MODELS = {
    "qwen2.5-0.5b": {
        "model_type": "qwen2",
        "vocab_size": 151_936,
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "rope_theta": 1_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,  # the reward model has no LM head: one embedding either way
    },
    "gemma3-1b": {
        "model_type": "gemma3_text",
        "vocab_size": 262_144,
        "hidden_size": 1152,
        "intermediate_size": 6912,
        "num_hidden_layers": 26,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "query_pre_attn_scalar": 256,
        "sliding_window": 512,
        "sliding_window_pattern": 6,
        "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0,
        "rms_norm_eps": 1e-6,
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: %(default)s")
    p.add_argument("--devices", default="1,8,64", help="simulated device counts (%(default)s)")
    p.add_argument("--seq", type=int, default=512, help="sequence length (%(default)s)")
    p.add_argument(
        "--rows-per-device", type=int, default=2,
        help="sequences per device (chosen + rejected rows; the global batch grows with the "
        "device count), default %(default)s",
    )  # fmt: skip
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--dtype", default="bfloat16", help="compute dtype (%(default)s)")
    p.add_argument("--no-remat", dest="remat", action="store_false", help="no per-layer remat")
    p.add_argument("--hbm-gb", type=float, default=80.0, help="accelerator memory (%(default)s)")
    p.add_argument("--fit-devices", type=int, default=8, help="device count of the fit estimate")
    p.add_argument("--throughput", action="store_true", help="also time real steps on this CPU")
    p.add_argument("--tp-steps", type=int, default=3, help="timed steps (%(default)s)")
    p.add_argument("--tp-rows", type=int, default=2, help="sequences per step (%(default)s)")
    p.add_argument("--tp-seq", type=int, default=128, help="throughput sequence length")
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def decoder_config(name: str, args: argparse.Namespace, **change):
    from rewardpipe.model.decoder import DecoderConfig

    hf = {**MODELS[name], **change}
    return DecoderConfig.from_hf(
        hf, source=name, compute_dtype=args.dtype, lora_rank=args.lora_rank, remat=args.remat
    )


def build(cfg, abstract: bool):
    """(graphdef, params, rest, tx, opt_state) — ShapeDtypeStructs when `abstract`."""
    import jax
    from flax import nnx

    from rewardpipe.model.decoder import DecoderRewardModel, decoder_trainable_filter
    from rewardpipe.training.optim import optimizer

    def make():
        return DecoderRewardModel(cfg, rngs=nnx.Rngs(0))

    model = nnx.eval_shape(make) if abstract else make()
    graphdef, params, rest = nnx.split(model, decoder_trainable_filter(cfg), ...)
    params, rest = nnx.as_pure(params), nnx.as_pure(rest)
    tx = optimizer(
        lr=1e-4, warmup_steps=0, total_steps=100, weight_decay=0.01, grad_clip=1.0, grad_accum=1
    )
    opt_state = jax.eval_shape(tx.init, params) if abstract else tx.init(params)
    return graphdef, params, rest, tx, opt_state


def make_step(graphdef, tx):
    import jax
    import optax
    from flax import nnx

    from rewardpipe.training.loss import pairwise_loss

    def step(params, opt_state, rest, tokens, mask):
        def loss_fn(p):
            model = nnx.merge(graphdef, p, rest)
            return pairwise_loss(model(tokens, mask), 0.0, 0.0)[0]

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def count(tree) -> int:
    import jax

    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def memory(cfg, args: argparse.Namespace) -> dict:
    """Compiled per-device memory of one FSDP train step over every (simulated) device."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding

    from rewardpipe.training import sharding

    n = jax.device_count()
    mesh = sharding.make_mesh(1, n)
    graphdef, params, rest, tx, opt_state = build(cfg, abstract=True)
    shard = [sharding.fsdp_shardings(t, mesh) for t in (params, opt_state, rest)]
    batch = NamedSharding(mesh, sharding.batch_spec(mesh))
    rows = args.rows_per_device * n
    specs = [
        jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), t, sh)
        for t, sh in zip((params, opt_state, rest), shard, strict=True)
    ]
    tokens = jax.ShapeDtypeStruct((rows, args.seq), jnp.int32, sharding=batch)
    mask = jax.ShapeDtypeStruct((rows, args.seq), jnp.bool_, sharding=batch)
    step = jax.jit(
        make_step(graphdef, tx),
        in_shardings=(*shard, batch, batch),
        out_shardings=(shard[0], shard[1], NamedSharding(mesh, jax.sharding.PartitionSpec())),
        donate_argnums=(0, 1),
    )
    t = time.perf_counter()
    compiled = step.lower(*specs, tokens, mask).compile()
    compile_s = time.perf_counter() - t
    m = compiled.memory_analysis()
    arg, out, alias, temp = (
        m.argument_size_in_bytes,
        m.output_size_in_bytes,
        m.alias_size_in_bytes,
        m.temp_size_in_bytes,
    )
    return {
        "layers": cfg.num_layers,
        "hidden": cfg.hidden_size,
        "params_total": count(params) + count(rest),
        "params_trainable": count(params),
        "global_rows": rows,
        "argument_gb": arg / GB,
        "output_gb": out / GB,
        "alias_gb": alias / GB,
        "temp_gb": temp / GB,
        "peak_gb": (arg + out - alias + temp) / GB,  # donated outputs reuse argument buffers
        "compile_s": round(compile_s, 1),
    }


def fit(cfg_name: str, args: argparse.Namespace, full: dict) -> dict:
    """Largest model at `--fit-devices` within --hbm-gb. Unrolled identical layers make memory
    exactly affine in depth, so a 2-layer compile and the full one give per-layer and fixed
    costs. (a) deeper: same width, more layers. (b) wider: hidden, intermediate and heads × s at
    the same depth, with per-layer argument bytes (weights + optimizer) ∝ s² and the rest
    (embedding, activations, attention scores with heads ∝ s, temporaries) ∝ s — an estimate
    (the layers' all-gathered weight temporaries are ∝ s² too, so it errs large)."""
    small = memory(decoder_config(cfg_name, args, num_hidden_layers=2), args)
    layers = full["layers"]
    per_layer = {k: (full[k] - small[k]) / (layers - 2) for k in ("peak_gb", "argument_gb")}
    fixed = full["peak_gb"] - layers * per_layer["peak_gb"]
    params_per_layer = (full["params_total"] - small["params_total"]) / (layers - 2)
    budget = args.hbm_gb
    deep = int((budget - fixed) // per_layer["peak_gb"])
    quad = layers * per_layer["argument_gb"]  # × s²
    lin = full["peak_gb"] - quad  # × s
    s = (-lin + math.sqrt(lin * lin + 4 * quad * budget)) / (2 * quad)
    base_params = full["params_total"] - layers * params_per_layer
    return {
        "devices": args.fit_devices,
        "hbm_gb": budget,
        "per_layer_gb": per_layer["peak_gb"],
        "fixed_gb": fixed,
        "deeper": {
            "layers": deep,
            "hidden": full["hidden"],
            "params_b": (base_params + deep * params_per_layer) / 1e9,
        },
        "wider": {
            "width_scale": s,
            "layers": layers,
            "hidden": round(full["hidden"] * s),
            "params_b": (base_params * s + layers * params_per_layer * s * s) / 1e9,
        },
    }


def worker(args: argparse.Namespace) -> dict:
    import jax

    out = {"devices": jax.device_count()}
    for name in args.models.split(","):
        full = memory(decoder_config(name, args), args)
        out[name] = full
        if jax.device_count() == args.fit_devices:
            full["fit"] = fit(name, args, full)
    return out


def step_flops(cfg, params, rest, rows: int, seq: int) -> float:
    """Model FLOPs of one step (remat's recompute not counted). Per token: the frozen base
    matmuls cost 2N forward + 2N backward (input grads only); trainable (LoRA, score) matmuls
    2N + 4N; attention QKᵀ and PV 4·T·H·Dh forward per layer (the full T×T the code computes),
    ×3 with the backward. The embedding is a gather: not counted."""
    import jax

    def matmul(tree) -> int:
        leaves = jax.tree_util.tree_leaves_with_path(tree)
        return sum(
            math.prod(x.shape)
            for path, x in leaves
            if len(x.shape) == 2 and "embed_tokens" not in jax.tree_util.keystr(path)
        )

    frozen, trainable = matmul(rest), matmul(params)
    attention = cfg.num_layers * 4 * seq * cfg.num_heads * cfg.head_dim
    return rows * seq * (4 * frozen + 6 * trainable + 3 * attention)


def time_model(name: str, args: argparse.Namespace, peak: dict[str, float]) -> dict:
    import jax
    import numpy as np

    cfg = decoder_config(name, args)
    graphdef, params, rest, tx, opt_state = build(cfg, abstract=False)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, cfg.vocab_size, (args.tp_rows, args.tp_seq)).astype(np.int32)
    mask = np.ones(tokens.shape, bool)

    step = jax.jit(make_step(graphdef, tx), donate_argnums=(0, 1))
    t = time.perf_counter()
    params, opt_state, loss = step(params, opt_state, rest, tokens, mask)
    loss.block_until_ready()
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(args.tp_steps):
        params, opt_state, loss = step(params, opt_state, rest, tokens, mask)
    loss.block_until_ready()
    sec = (time.perf_counter() - t) / args.tp_steps
    flops = step_flops(cfg, params, rest, args.tp_rows, args.tp_seq)
    return {
        "rows": args.tp_rows,
        "seq": args.tp_seq,
        "step_s": sec,
        "first_step_s": first,  # compile + one step
        "tokens_per_s": args.tp_rows * args.tp_seq / sec,
        "model_flops_per_step": flops,
        "mfu_vs_float32_matmul": flops / sec / peak["float32"],
        f"mfu_vs_{args.dtype}_matmul": flops / sec / peak[args.dtype],
    }


def throughput(args: argparse.Namespace) -> dict:
    from train_throughput import matmul_flops  # a sibling script (benchmarks/ is sys.path[0])

    peak = {d: matmul_flops(reps=5, dtype=d) for d in ("float32", args.dtype)}
    out: dict = {"matmul_flops_per_s": peak}
    for name in args.models.split(","):
        out[name] = time_model(name, args, peak)
    return out


def main(argv: list[str] | None = None) -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    result = {
        "settings": {
            "seq": args.seq,
            "rows_per_device": args.rows_per_device,
            "lora_rank": args.lora_rank,
            "compute_dtype": args.dtype,
            "params_dtype": "float32",
            "remat": "per layer" if args.remat else "none",
            "mesh": "data=1 x fsdp=N",
        },
        "memory": {},
    }
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--throughput"]
    for n in (int(x) for x in args.devices.split(",") if x):
        env = dict(
            os.environ,
            XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
            JAX_PLATFORMS="cpu",
        )
        proc = subprocess.run(
            [sys.executable, __file__, *passthrough, "--worker", str(n)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            sys.exit(f"worker for {n} devices failed:\n{proc.stderr[-4000:]}")
        result["memory"][str(n)] = json.loads(proc.stdout.strip().splitlines()[-1])
    if args.throughput:
        result["throughput"] = throughput(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
