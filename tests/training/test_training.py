"""Training pieces: loss, encoding, batching, optimiser, checkpoints, the loop, data parallelism."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from tokenizers import Tokenizer

from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.encoding import Encoder
from rewardpipe.errors import UserError
from rewardpipe.model import ModelConfig, build_model, to_flat
from rewardpipe.params import TrainParams
from rewardpipe.training import curves, sharding
from rewardpipe.training.batching import (
    MAX_BUCKETS,
    PairBatcher,
    eval_batches,
    fit_buckets,
    round_up,
)
from rewardpipe.training.checkpoints import Checkpoints, run_dir
from rewardpipe.training.loop import ValData, init_state, train, train_step
from rewardpipe.training.loss import pairwise_loss
from rewardpipe.training.optim import decay_mask, optimizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    texts = [
        f"Tom has {i} apples and buys {i * 2} more. <<{i}+{2 * i}={3 * i}>>" for i in range(200)
    ]
    return train_bpe(texts, 400)


def test_loss_hand_computed():
    rewards = jnp.array([2.0, 0.0, 1.0, 0.0])  # chosen [2, 0], rejected [1, 0]
    loss, m = pairwise_loss(rewards, margin=0.0, center_coef=0.0)
    expected = (-math.log(1 / (1 + math.exp(-1))) + math.log(2)) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(m["accuracy"]) == 0.5  # the tie counts as wrong
    assert float(m["margin"]) == pytest.approx(0.5)
    assert float(m["reward_mean"]) == pytest.approx(0.75)


def test_loss_margin_center_and_weights():
    rewards = jnp.array([1.0, 3.0, 0.0, -5.0])
    base, _ = pairwise_loss(rewards, 0.0, 0.0)
    with_margin, _ = pairwise_loss(rewards, 1.0, 0.0)
    assert float(with_margin) > float(base)
    centered, _ = pairwise_loss(rewards, 0.0, 0.5)
    assert float(centered) == pytest.approx(float(base) + 0.5 * (1.0 + 4.0) / 2, rel=1e-6)
    only_first, m = pairwise_loss(rewards, 0.0, 0.0, weights=jnp.array([1.0, 0.0]))
    assert float(only_first) == pytest.approx(-math.log(1 / (1 + math.exp(-1))), rel=1e-6)
    assert float(m["accuracy"]) == 1.0


def test_encoder_truncates_prompt_from_start_and_keeps_solution_end(tokenizer):
    enc = Encoder(tokenizer, max_len=24)
    prompt = " ".join(f"word{i}" for i in range(60))
    solution = "Tom has 3 apples.\n#### 42"
    (seq,) = enc.encode([prompt], [solution])
    assert len(seq) == 24
    s = enc.specials
    assert seq[0] == s.cls and seq[-1] == s.sep
    text = tokenizer.decode(seq.tolist(), skip_special_tokens=False)
    assert text.endswith("#### 42<sep>")
    assert "word59" in text and "word0 " not in text
    (long_solution,) = enc.encode(["q"], ["step " * 80 + "#### 7"])
    assert tokenizer.decode(long_solution.tolist()).endswith("#### 7")


def _batcher(n=40, batch_size=4, seed=0):
    rng = np.random.default_rng(0)
    chosen = [np.arange(3, 3 + rng.integers(5, 70), dtype=np.int32) for _ in range(n)]
    rejected = [np.arange(3, 3 + rng.integers(5, 70), dtype=np.int32) for _ in range(n)]
    return PairBatcher(chosen, rejected, batch_size, 96, 0, seed)


def test_batches_are_bucketed_deterministic_and_resumable():
    b = _batcher()
    first = b.epoch_order(0)
    assert [x.tolist() for x in first] == [x.tolist() for x in _batcher().epoch_order(0)]
    assert [x.tolist() for x in first] != [x.tolist() for x in b.epoch_order(1)]
    assert [x.tolist() for x in first] != [x.tolist() for x in _batcher(seed=1).epoch_order(0)]
    assert sorted(np.concatenate(first).tolist()) == list(range(40))
    stream = b.from_step(0)
    all_batches = [next(stream) for _ in range(25)]  # crosses two epoch boundaries
    resumed = b.from_step(13)
    for expected in all_batches[13:]:
        got = next(resumed)
        assert np.array_equal(got.tokens, expected.tokens)
    assert len(b.buckets) <= MAX_BUCKETS
    assert {batch.tokens.shape[1] for batch in all_batches} <= set(b.buckets)
    for batch in all_batches:
        assert batch.tokens.shape[0] == 8  # 4 chosen then 4 rejected
        assert batch.mask.sum(1).min() > 0
    assert 0.0 <= b.padding_fraction() < 0.5


def _padding(lengths, buckets, max_len):
    return sum(round_up(min(n, max_len), buckets) - min(n, max_len) for n in lengths)


def test_fit_buckets_matches_a_brute_force_search():
    rng = random.Random(0)
    for _ in range(200):
        align, max_len = rng.choice([1, 8]), rng.choice([32, 64])
        lengths = [rng.randint(1, 80) for _ in range(rng.randint(1, 12))]
        k = rng.randint(1, 4)
        need = sorted({min(max_len, -(-n // align) * align) for n in lengths})
        best = min(
            _padding(lengths, [*rest, need[-1]], max_len)
            for size in range(min(k, len(need)))
            for rest in itertools.combinations(need[:-1], size)
        )
        buckets = fit_buckets(lengths, k, max_len, align)
        assert len(buckets) <= k and buckets[-1] == need[-1], (lengths, k, buckets)
        assert _padding(lengths, buckets, max_len) == best, (lengths, k, align, buckets)


def test_fit_buckets_minimises_padding():
    assert fit_buckets([10, 20, 30], 6, 64) == [16, 24, 32]
    assert fit_buckets([5, 9, 17, 17, 30], 1, 64) == [32]
    lengths = [8] * 100 + [64] * 100 + [200]
    assert fit_buckets(lengths, 3, 256) == [8, 64, 200]
    assert fit_buckets([300], 2, 256) == [256]


def test_eval_batches_pad_last_batch_with_real_count():
    b = _batcher(n=10)
    out = list(eval_batches(b.chosen, b.rejected, 4, 96, 0))
    assert [real for _, real in out] == [4, 4, 2]
    assert all(batch.tokens.shape[0] == 8 for batch, _ in out)


def test_batch_size_larger_than_data_is_a_user_error():
    with pytest.raises(UserError, match="batch_size"):
        _batcher(n=3, batch_size=4)


def test_decay_mask_skips_norms_biases_embeddings():
    model = build_model(
        ModelConfig(vocab_size=50, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=32), seed=0
    )
    params = nnx.as_pure(nnx.state(model, nnx.Param))
    flat = nnx.to_flat_state(decay_mask(params))
    decayed = {".".join(map(str, k)) for k, v in flat if v}
    assert "blocks.0.attn.query.kernel" in decayed and "head.kernel" in decayed
    assert not any(("emb" in k or "ln" in k or k.endswith("bias")) for k in decayed)


def test_grad_accumulation_updates_every_k_steps():
    tx = optimizer(
        lr=1e-2, warmup_steps=0, total_steps=10, weight_decay=0.0, grad_clip=1.0, grad_accum=2
    )
    params = {"w": jnp.ones((2, 2))}
    state = tx.init(params)
    grads = {"w": jnp.ones((2, 2))}
    updates, state = tx.update(grads, state, params)
    assert float(jnp.abs(updates["w"]).sum()) == 0.0
    updates, state = tx.update(grads, state, params)
    assert float(jnp.abs(updates["w"]).sum()) > 0.0


TINY = ModelConfig(vocab_size=400, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=64)


def _data(tokenizer, n=24):
    enc = Encoder(tokenizer, TINY.max_len)
    prompts = [f"Tom has {i} apples and buys {i * 2} more." for i in range(n)]
    good = [f"<<{i}+{2 * i}={3 * i}>>\n#### {3 * i}" for i in range(n)]
    bad = [f"<<{i}+{2 * i}={3 * i + 1}>>\n#### {3 * i + 1}" for i in range(n)]
    return enc.encode(prompts, good), enc.encode(prompts, bad), enc.specials.pad


class FakeLive:
    def __init__(self, directory="unused"):
        self.step, self.rows, self.dir = 0, [], str(directory)

    def log_metric(self, name, val, **kwargs):
        self.rows.append((self.step, name, val))

    def next_step(self):
        pass


def test_train_learns_logs_and_checkpoints(tokenizer, tmp_path):
    chosen, rejected, pad = _data(tokenizer)
    tp = TrainParams(
        steps=30,
        batch_size=8,
        lr=3e-3,
        warmup_steps=2,
        eval_every=10,
        save_every=10,
        log_every=5,
        keep_checkpoints=2,
    )
    live = FakeLive()
    identity = {"test": 1}
    ckpt = Checkpoints(run_dir(tmp_path, identity), identity, tp.keep_checkpoints)
    result = train(
        build_model(TINY, seed=0),
        tp,
        PairBatcher(chosen, rejected, 8, 64, pad, 0),
        ValData(chosen, rejected, 8),
        checkpoints=ckpt,
        live=live,
        progress=False,
    )
    assert result.step == 30 and result.val["loss"] < math.log(2)
    names = {name for _, name, _ in live.rows}
    for key in ("loss", "accuracy", "margin", "reward_mean", "reward_std", "grad_norm", "lr"):
        assert f"train/{key}" in names
    assert {"val/loss", "val/accuracy", "val/margin"} <= names
    assert not any(name.startswith("perf") for name in names)  # timings are not DVC metrics
    assert sorted({s for s, _, _ in live.rows}) == [5, 10, 15, 20, 25, 30]
    steps = ckpt.all_steps()
    assert 30 in steps and 20 in steps and len(steps) <= 3  # latest 2 + the best
    assert ckpt.meta(30)["step"] == 30
    assert 1 <= result.perf["compiles"] <= 2 * MAX_BUCKETS and result.perf["tokens_per_s"] > 0


def test_checkpoint_of_other_config_is_refused(tmp_path):
    Checkpoints(tmp_path / "run", {"lr": 1.0}, 1).close()
    with pytest.raises(UserError, match=r"different config.*lr: checkpoint 1\.0, now 2\.0"):
        Checkpoints(tmp_path / "run", {"lr": 2.0}, 1)


def test_resume_continues_exactly(tokenizer, tmp_path):
    chosen, rejected, pad = _data(tokenizer)
    tp = TrainParams(
        steps=12, batch_size=8, lr=3e-3, warmup_steps=2, eval_every=6, save_every=6, log_every=3
    )

    def run(path, steps):
        params = tp
        ckpt = Checkpoints(path, {"x": 1}, 3)
        batcher = PairBatcher(chosen, rejected, 8, 64, pad, 0)
        if steps < tp.steps:  # simulate a crash right after the checkpoint at `steps`
            mesh = sharding.data_mesh()
            state, config = init_state(build_model(TINY, seed=0), params, mesh)
            stream = batcher.from_step(0)
            for _ in range(steps):
                b = next(stream)
                state, _ = train_step(state, b.tokens, b.mask, config)
            ckpt.save(steps, state, {"step": steps}, 0.5)
            ckpt.close()
            ckpt = Checkpoints(path, {"x": 1}, 3)
        return train(
            build_model(TINY, seed=0),
            params,
            batcher,
            ValData(chosen, rejected, 8),
            checkpoints=ckpt,
            progress=False,
        )

    straight = run(tmp_path / "a", 12)
    resumed = run(tmp_path / "b", 6)
    assert resumed.resumed_from == 6
    assert resumed.val == straight.val
    a = jax.tree.leaves(jax.tree.map(np.asarray, nnx.state(straight.model)))
    b = jax.tree.leaves(jax.tree.map(np.asarray, nnx.state(resumed.model)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_curves_snapshot_and_restore_replace_the_dvclive_folder(tmp_path):
    live = tmp_path / "live"
    tsv = live / "plots" / "metrics" / "train" / "loss.tsv"
    tsv.parent.mkdir(parents=True)
    tsv.write_text("step\tloss\n5\t1.0\n10\t0.9\n")
    (live / "metrics.json").write_text('{"step": 10}')
    saved = curves.snapshot(live)
    assert set(saved) == {"metrics.json", "plots/metrics/train/loss.tsv"}
    tsv.write_text("step\tloss\n5\t7.0\n")
    (live / "plots" / "metrics" / "val").mkdir()
    (live / "plots" / "metrics" / "val" / "stale.tsv").write_text("step\tx\n1\t2\n")
    curves.restore(live, saved)
    assert curves.snapshot(live) == saved
    curves.restore(live, None)
    assert not live.exists()


def test_checkpoints_carry_the_curves_of_their_step(tokenizer, tmp_path):
    chosen, rejected, pad = _data(tokenizer)
    tp = TrainParams(
        steps=6, batch_size=8, lr=3e-3, warmup_steps=0, eval_every=3, save_every=3, log_every=3
    )
    live = tmp_path / "live"
    live.mkdir()
    (live / "metrics.json").write_text("{}")

    class Writing(FakeLive):
        def next_step(self):
            (live / "metrics.json").write_text(json.dumps({"step": self.step}))

    ckpt = Checkpoints(tmp_path / "run", {"x": 1}, 3)
    train(
        build_model(TINY, seed=0),
        tp,
        PairBatcher(chosen, rejected, 8, 64, pad, 0),
        ValData(chosen, rejected, 8),
        checkpoints=ckpt,
        live=Writing(live),
        progress=False,
    )
    assert json.loads(ckpt.meta(3)["curves"]["metrics.json"]) == {"step": 3}
    assert json.loads(ckpt.meta(6)["curves"]["metrics.json"]) == {"step": 6}


def test_non_finite_loss_stops_training_naming_the_step_and_saves_nothing(tokenizer, tmp_path):
    chosen, rejected, pad = _data(tokenizer)
    tp = TrainParams(steps=8, batch_size=8, lr=3e-3, warmup_steps=0, save_every=2, log_every=4)
    ckpt = Checkpoints(tmp_path / "run", {"x": 1}, 3)
    model = build_model(TINY, seed=0)
    model.head.kernel[...] = model.head.kernel[...] * jnp.nan
    with pytest.raises(UserError, match=r"loss became nan at optimizer step 1; nothing was saved"):
        train(
            model,
            tp,
            PairBatcher(chosen, rejected, 8, 64, pad, 0),
            ValData(chosen, rejected, 8),
            checkpoints=ckpt,
            progress=False,
        )
    assert ckpt.all_steps() == []


DEVICE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from rewardpipe.model import ModelConfig, build_model
    from rewardpipe.params import TrainParams
    from rewardpipe.training import sharding
    from rewardpipe.training.loop import init_state, train_step
    cfg = ModelConfig(vocab_size=100, d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=32)
    tp = TrainParams(steps=4, batch_size=4, lr=1e-2, warmup_steps=0)
    mesh = sharding.data_mesh()
    state, config = init_state(build_model(cfg, seed=0), tp, mesh)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(4):
        tokens = rng.integers(1, 100, size=(8, 32)).astype(np.int32)
        mask = np.arange(32)[None] < rng.integers(4, 33, size=(8, 1))
        tokens, mask = sharding.shard_batch((tokens, mask), mesh)
        state, metrics = train_step(state, tokens, mask, config)
        losses.append(float(metrics["loss"]))
    print(json.dumps({"devices": jax.device_count(), "losses": losses}))
    """
)


def test_one_and_four_devices_agree():
    outs = []
    for n in (1, 4):
        env = dict(
            os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}", JAX_PLATFORMS="cpu"
        )
        proc = subprocess.run(
            [sys.executable, "-c", DEVICE_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert [o["devices"] for o in outs] == [1, 4]
    np.testing.assert_allclose(outs[0]["losses"], outs[1]["losses"], rtol=0, atol=1e-5)
    assert outs[0]["losses"][0] != outs[0]["losses"][-1]


def test_lr_schedule_warms_up_then_decays():
    from rewardpipe.training.optim import schedule

    fn = schedule(1.0, 10, 100)
    assert float(fn(0)) == 0.0 and float(fn(10)) == pytest.approx(1.0)
    assert float(fn(99)) < 0.2
    tx = optimizer(
        lr=1e-3, warmup_steps=1, total_steps=10, weight_decay=0.01, grad_clip=1.0, grad_accum=1
    )
    assert isinstance(tx, optax.GradientTransformation)


def test_run_dir_depends_on_config(tmp_path: Path):
    assert run_dir(tmp_path, {"a": 1}) != run_dir(tmp_path, {"a": 2})
    assert run_dir(tmp_path, {"a": 1}) == run_dir(tmp_path, {"a": 1})


def test_lora_training_updates_only_adapters_and_head(tokenizer):
    chosen, rejected, pad = _data(tokenizer)
    cfg = dataclasses.replace(TINY, lora_rank=2, lora_alpha=4.0)
    before = build_model(cfg, seed=0)
    base = {
        k: v for k, v in to_flat(before).items() if ".lora." not in k and not k.startswith("head")
    }
    tp = TrainParams(steps=4, batch_size=8, lr=1e-2, warmup_steps=0)
    result = train(
        build_model(cfg, seed=0),
        tp,
        PairBatcher(chosen, rejected, 8, 64, pad, 0),
        ValData(chosen, rejected, 8),
        progress=False,
    )
    after = to_flat(result.model)
    assert all(np.array_equal(after[k], v) for k, v in base.items())
    assert not np.array_equal(after["head.kernel"], to_flat(before)["head.kernel"])
    lora_b = [k for k in after if k.endswith("lora_b")]
    assert lora_b and any(np.abs(after[k]).sum() > 0 for k in lora_b)


def test_bfloat16_compute_keeps_float32_master_weights(tokenizer):
    chosen, rejected, pad = _data(tokenizer)
    cfg = dataclasses.replace(TINY, compute_dtype="bfloat16")
    tp = TrainParams(steps=3, batch_size=8, lr=1e-2, warmup_steps=0, precision="bfloat16")
    state, config = init_state(build_model(cfg, seed=0), tp, sharding.data_mesh())
    batch = next(PairBatcher(chosen, rejected, 8, 64, pad, 0).from_step(0))
    state, metrics = train_step(state, batch.tokens, batch.mask, config)
    assert metrics["loss"].dtype == jnp.float32 and np.isfinite(float(metrics["loss"]))
    assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype("float32")}
