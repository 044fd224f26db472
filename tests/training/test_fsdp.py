"""FSDP: a 2-D data × fsdp mesh, parameters and optimizer state sharded along their largest
divisible dimension, and the same losses as on one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from rewardpipe.errors import UserError
from rewardpipe.training import sharding

# loop.train_step merges the state into a model and calls `model(tokens, mask,
# deterministic=...)`, training what `trainable_filter(model.config)` selects (every Param at
# lora_rank 0). The decoder takes no `deterministic`, so a two-line adapter wraps it; loop's
# `train_step`, `init_state`, loss and optimizer run unchanged.
FSDP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from flax import nnx
    from rewardpipe.model.decoder import DecoderConfig, DecoderRewardModel, Rope
    from rewardpipe.params import TrainParams
    from rewardpipe.training import sharding
    from rewardpipe.training.loop import init_state, train_step

    class Adapter(nnx.Module):
        def __init__(self, inner):
            self.inner, self.config = inner, inner.config

        def __call__(self, tokens, mask, deterministic=False):
            return self.inner(tokens, mask)

    CFG = DecoderConfig(
        model_type="llama", vocab_size=300, hidden_size=64, intermediate_size=128, num_layers=2,
        num_heads=4, num_kv_heads=2, head_dim=16, rope=Rope(10_000.0),
        layer_types=("full_attention",) * 2,
    )
    MIN = 1024  # the tiny model's kernels are all >= 2048 elements; norms (64) and score stay
    place = lambda tree, mesh: sharding.place(tree, mesh, min_size=MIN)

    def fractions(tree):
        return [
            [x.size, x.addressable_shards[0].data.size, str(x.sharding.spec)]
            for x in jax.tree.leaves(tree)
        ]

    def run(data, fsdp):
        mesh = sharding.make_mesh(data, fsdp)
        tp = TrainParams(steps=5, batch_size=8, lr=1e-3, warmup_steps=0, weight_decay=0.01)
        state, config = init_state(Adapter(DecoderRewardModel(CFG, rngs=nnx.Rngs(0))), tp, mesh,
                                   place=place)
        initial = {"params": fractions(state.params), "opt": fractions(state.opt_state)}
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(5):
            # 8 pairs: rows 0-7 chosen, rows 8-15 the matching rejected (PairBatch layout)
            tokens = rng.integers(1, 300, size=(16, 24)).astype(np.int32)
            mask = np.arange(24)[None] < rng.integers(3, 25, size=(16, 1))
            tokens, mask = sharding.shard_batch((tokens, mask), mesh)
            state, metrics = train_step(state, tokens, mask, config)
            losses.append(float(metrics["loss"]))
        return {
            "mesh": dict(mesh.shape), "losses": losses, "initial": initial,
            "params": fractions(state.params), "opt": fractions(state.opt_state),
        }

    meshes = [(None, None)] if jax.device_count() == 1 else [(1, 8), (2, 4)]
    print(json.dumps({"devices": jax.device_count(), "runs": [run(*m) for m in meshes]}))
    """
)


def _run(devices: int) -> dict:
    env = dict(
        os.environ,
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        JAX_PLATFORMS="cpu",
    )
    proc = subprocess.run(
        [sys.executable, "-c", FSDP_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs() -> dict:
    one, eight = _run(1), _run(8)
    assert one["devices"] == 1 and eight["devices"] == 8
    return {"1x1": one["runs"][0], "1x8": eight["runs"][0], "2x4": eight["runs"][1]}


def test_fsdp_losses_match_one_device(runs):
    ref = runs["1x1"]["losses"]
    print({k: np.abs(np.subtract(v["losses"], ref)).max() for k, v in runs.items()})
    assert ref[0] != ref[-1]  # it trains
    for name in ("1x8", "2x4"):
        np.testing.assert_allclose(runs[name]["losses"], ref, rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name, fsdp", [("1x8", 8), ("2x4", 4)])
def test_large_params_and_optimizer_state_hold_one_fsdp_share_per_device(runs, name, fsdp):
    run = runs[name]
    assert run["mesh"] == {"data": 8 // fsdp, "fsdp": fsdp}
    for when in ("initial", "final"):
        trees = (
            run["initial"] if when == "initial" else {"params": run["params"], "opt": run["opt"]}
        )
        large = {kind: [x for x in trees[kind] if x[0] >= 1024] for kind in ("params", "opt")}
        # 2 layers × 7 kernels + embedding; Adam's mu and nu mirror each of them
        assert len(large["params"]) == 15 and len(large["opt"]) == 30, when
        for kind, leaves in large.items():
            for size, local, spec in leaves:
                assert local * fsdp == size, (when, kind, size, local, spec)
                assert "fsdp" in spec
    # norms and score start replicated (XLA's sharding propagation may split them after a step:
    # train_step sets no out_shardings)
    small = [x for x in run["initial"]["params"] if x[0] < 1024]
    assert len(small) == 6 and all(local == size for size, local, _ in small)


def test_a_one_device_mesh_changes_nothing(runs):
    assert runs["1x1"]["mesh"] == {"data": 1, "fsdp": 1}
    assert all(local == size for size, local, _ in runs["1x1"]["params"])


def test_fsdp_spec_shards_the_largest_divisible_dimension():
    assert sharding.fsdp_spec((151_936, 896), 8) == P("fsdp", None)
    assert sharding.fsdp_spec((896, 4864), 8) == P(None, "fsdp")
    assert sharding.fsdp_spec((300, 64), 8, min_size=1) == P(None, "fsdp")  # 300 % 8 != 0
    assert sharding.fsdp_spec((64, 64), 8, min_size=1) == P("fsdp", None)  # tie: first
    assert sharding.fsdp_spec((896,), 8) == P()  # small (a norm or bias)
    assert sharding.fsdp_spec((30_001, 7), 8) == P()  # nothing divides
    assert sharding.fsdp_spec((4096, 4096), 1) == P()
    assert sharding.fsdp_spec((), 8) == P()


def test_make_mesh_derives_sizes_and_names_them_in_errors():
    n = jax.device_count()
    assert dict(sharding.make_mesh(None, None).shape) == {"data": 1, "fsdp": n}
    assert dict(sharding.make_mesh(0, 0).shape) == {"data": 1, "fsdp": n}
    assert dict(sharding.make_mesh(n, None).shape) == {"data": n, "fsdp": 1}
    assert dict(sharding.make_mesh(None, n).shape) == {"data": 1, "fsdp": n}
    with pytest.raises(UserError, match=rf"data=3 does not divide the {n} devices"):
        sharding.make_mesh(3 * n + 1 if n > 1 else 3, None)
    with pytest.raises(UserError, match=rf"fsdp=\d+ does not divide the {n} devices"):
        sharding.make_mesh(None, 2 * n + 1)
    with pytest.raises(UserError, match=rf"data=2 × fsdp=2 = 4 devices, but there are {n}"):
        sharding.make_mesh(2, 2) if n != 4 else sharding.make_mesh(2, 3)
    with pytest.raises(UserError, match=r"fsdp must be a positive integer"):
        sharding.make_mesh(1, -2)


def test_data_mesh_api_is_unchanged():
    mesh = sharding.data_mesh()
    assert mesh.axis_names == ("data",) and sharding.batch_spec(mesh) == P("data")
    tree = {"w": np.ones((64, 512), np.float32)}
    assert sharding.place(tree, mesh)["w"].sharding.spec == P()  # no fsdp axis: replicated
    assert sharding.batch_spec(sharding.make_mesh()) == P(("data", "fsdp"))


# loop.train end to end on the mesh the train stage builds (`sharding.train_mesh`, decoder
# default: every device on fsdp), with remat on: the same val metrics as one device, and the
# returned model's large arrays still hold 1/8 per device.
TRAIN_SCRIPT = textwrap.dedent(
    """
    import json
    import jax, numpy as np
    from flax import nnx
    from rewardpipe.model.decoder import DecoderConfig, DecoderRewardModel, Rope
    from rewardpipe.params import TrainParams
    from rewardpipe.training import sharding
    from rewardpipe.training.batching import PairBatcher
    from rewardpipe.training.loop import ValData, train

    cfg = DecoderConfig(
        model_type="qwen2", vocab_size=256, hidden_size=128, intermediate_size=256, num_layers=2,
        num_heads=4, num_kv_heads=2, head_dim=32, rope=Rope(10_000.0),
        layer_types=("full_attention",) * 2, remat=True,
    )
    rng = np.random.default_rng(0)
    seqs = lambda n: [rng.integers(1, 256, size=rng.integers(4, 30)).astype(np.int32) for _ in range(n)]
    chosen, rejected, val_c, val_r = seqs(64), seqs(64), seqs(16), seqs(16)
    tp = TrainParams(steps=4, batch_size=8, lr=1e-3, warmup_steps=0, eval_every=4, save_every=4,
                     log_every=2)
    mesh = sharding.train_mesh(tp.mesh_data, tp.mesh_fsdp, fsdp_default=True)
    result = train(
        DecoderRewardModel(cfg, rngs=nnx.Rngs(0)), tp,
        PairBatcher(chosen, rejected, tp.batch_size, 32, 0, 0), ValData(val_c, val_r, 8),
        progress=False, mesh=mesh,
    )
    kernel = result.model.layers[0].mlp.up_proj.kernel[...]
    print(json.dumps({
        "mesh": dict(mesh.shape), "val": result.val,
        "kernel": [kernel.size, kernel.addressable_shards[0].data.size],
    }))
    """
)


def test_train_on_the_stage_mesh_shards_a_decoder_and_matches_one_device():
    def run(devices: int) -> dict:
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        proc = subprocess.run(
            [sys.executable, "-c", TRAIN_SCRIPT], env=env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    one, eight = run(1), run(8)
    assert one["mesh"] == {"data": 1, "fsdp": 1} and eight["mesh"] == {"data": 1, "fsdp": 8}
    for key in ("loss", "accuracy", "margin"):
        assert abs(one["val"][key] - eight["val"][key]) < 1e-5, key
    size, local = eight["kernel"]
    assert local * 8 == size and one["kernel"] == [size, size]


def test_train_mesh_defaults_per_backbone():
    n = jax.device_count()
    assert sharding.train_mesh(0, 0, fsdp_default=False).axis_names == ("data",)
    assert dict(sharding.train_mesh(0, 0, fsdp_default=True).shape) == {"data": 1, "fsdp": n}
    assert dict(sharding.train_mesh(n, 0, fsdp_default=True).shape) == {"data": n, "fsdp": 1}
    assert sharding.placement(sharding.data_mesh()) is sharding.replicate
    assert sharding.placement(sharding.make_mesh()) is sharding.place
