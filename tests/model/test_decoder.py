"""The decoder reward model matches transformers' PyTorch *ForSequenceClassification models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from rewardpipe.errors import UserError
from rewardpipe.model.decoder import DecoderConfig, decoder_trainable_filter
from rewardpipe.model.decoder_weights import decoder_state_dict, load_decoder

torch = pytest.importorskip("torch", reason="parity tests need PyTorch")
transformers = pytest.importorskip("transformers", reason="parity tests need transformers")

TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
    "pad_token_id": 0,
    "num_labels": 1,
}
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "llama3": (
        "LlamaConfig",
        "LlamaForSequenceClassification",
        {
            "rope_theta": 500_000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,  # small: low/medium/high bands all occur
            },
        },
    ),
    "qwen2": ("Qwen2Config", "Qwen2ForSequenceClassification", {"rope_theta": 1_000_000.0}),
    "qwen3": ("Qwen3Config", "Qwen3ForSequenceClassification", {"head_dim": 8}),
    "gemma3": (
        "Gemma3TextConfig",
        "Gemma3TextForSequenceClassification",
        {
            "num_hidden_layers": 3,
            "head_dim": 16,
            "sliding_window": 3,  # smaller than the sequences
            "sliding_window_pattern": 2,  # layers 0, 2 local; 1 global
            "query_pre_attn_scalar": 12,
            "rope_theta": 10_000.0,
            "rope_local_base_freq": 100.0,
            "rope_scaling": {"rope_type": "linear", "factor": 2.0},
        },
    ),
}
LENGTHS, WIDTH = [9, 5, 12, 2], 12


def hf_model(family: str, head: str | None = None, **extra: Any) -> Any:
    """A tiny random transformers model whose every parameter is perturbed (no all-ones norms)."""
    config_cls, model_cls, fields = FAMILIES[family]
    torch.manual_seed(0)
    config = getattr(transformers, config_cls)(**{**TINY, **fields, **extra})
    model = getattr(transformers, head or model_cls)(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model


def save(model: Any, folder: Path, **kwargs: Any) -> Path:
    model.save_pretrained(folder, **kwargs)
    return folder


def batch() -> tuple[np.ndarray, np.ndarray]:
    """Right-padded random ids (1..299; pad 0 never occurs in a sequence) and their mask."""
    rng = np.random.default_rng(0)
    tokens, mask = np.zeros((len(LENGTHS), WIDTH), np.int32), np.zeros((len(LENGTHS), WIDTH), bool)
    for i, n in enumerate(LENGTHS):
        tokens[i, :n], mask[i, :n] = rng.integers(1, 300, n), True
    return tokens, mask


def torch_forward(model: Any, tokens: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, Any]:
    ids, attention = (
        torch.from_numpy(tokens.astype(np.int64)),
        torch.from_numpy(mask.astype(np.int64)),
    )
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, 0].numpy()
        hidden = model.model(input_ids=ids, attention_mask=attention).last_hidden_state.numpy()
    return logits, hidden


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    """family -> (reference torch model, its saved folder); plus a sharded Llama save."""
    root = tmp_path_factory.mktemp("decoders")
    saved = {family: (model := hf_model(family), save(model, root / family)) for family in FAMILIES}
    llama = saved["llama3"][0]
    saved["llama3-sharded"] = (llama, save(llama, root / "sharded", max_shard_size="40KB"))
    return saved


@pytest.mark.parametrize("family", [*FAMILIES, "llama3-sharded"])
def test_rewards_and_hidden_states_match_transformers(
    checkpoints: dict[str, tuple[Any, Path]], family: str
) -> None:
    reference, folder = checkpoints[family]
    if family.endswith("sharded"):
        assert (folder / "model.safetensors.index.json").is_file()
        assert not (folder / "model.safetensors").exists()
    tokens, mask = batch()
    model = load_decoder(folder)
    rewards = np.asarray(model(jnp.asarray(tokens), jnp.asarray(mask)))
    hidden = np.asarray(model.hidden(jnp.asarray(tokens), jnp.asarray(mask)))
    logits, their_hidden = torch_forward(reference, tokens, mask)

    assert rewards.shape == (len(LENGTHS),) and rewards.dtype == np.float32
    assert np.abs(rewards - logits).max() < 1e-4, np.abs(rewards - logits).max()
    hidden_diff = np.abs(hidden - their_hidden)[mask]  # padded positions are not meaningful
    assert hidden_diff.max() < 1e-4, hidden_diff.max()
    assert np.abs(logits).max() > 0.05  # the comparison is not trivially between zeros


def test_gemma_sliding_window_matters(checkpoints: dict[str, tuple[Any, Path]]) -> None:
    """Without the window the long sequences' rewards change (the parity test really tests it)."""
    _, folder = checkpoints["gemma3"]
    tokens, mask = batch()
    windowed = np.asarray(load_decoder(folder)(jnp.asarray(tokens), jnp.asarray(mask)))
    config = json.loads((folder / "config.json").read_text())
    assert config["layer_types"][0] == "sliding_attention"
    full = load_decoder(folder)
    for block in full.layers:
        block.sliding = False
    unwindowed = np.asarray(full(jnp.asarray(tokens), jnp.asarray(mask)))
    assert np.abs(windowed - unwindowed)[np.array(LENGTHS) > 3].min() > 1e-4


@pytest.mark.parametrize("family", list(FAMILIES))
def test_lora_at_init_and_state_dict_round_trip(
    checkpoints: dict[str, tuple[Any, Path]], family: str
) -> None:
    reference, folder = checkpoints[family]
    tokens, mask = (jnp.asarray(a) for a in batch())
    plain = np.asarray(load_decoder(folder)(tokens, mask))
    model = load_decoder(folder, lora_rank=4, lora_alpha=8.0, seed=3)
    np.testing.assert_array_equal(np.asarray(model(tokens, mask)), plain)

    # Train-like change to every adapter, then export merged weights into a fresh torch model.
    rng = np.random.default_rng(1)
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.LoRAParam)):
        var[...] = jnp.asarray(rng.normal(0, 0.05, var[...].shape), jnp.float32)
        assert path[-1] in ("lora_a", "lora_b")
    ours = np.asarray(model(tokens, mask))
    assert np.abs(ours - plain).max() > 1e-3
    fresh = type(reference)(reference.config).eval()
    state = {name: torch.from_numpy(value) for name, value in decoder_state_dict(model).items()}
    fresh.load_state_dict(state, strict=True)
    logits, _ = torch_forward(fresh, np.asarray(tokens), np.asarray(mask))
    assert np.abs(ours - logits).max() < 1e-4


def test_lora_targets_and_bfloat16(checkpoints: dict[str, tuple[Any, Path]]) -> None:
    _, folder = checkpoints["qwen2"]
    model = load_decoder(folder, lora_rank=2, lora_targets=("q_proj", "v_proj"))
    lora = {
        ".".join(map(str, p[-4:-2])) for p, _ in nnx.to_flat_state(nnx.state(model, nnx.LoRAParam))
    }
    assert lora == {"self_attn.q_proj", "self_attn.v_proj"}

    tokens, mask = (jnp.asarray(a) for a in batch())
    full = np.asarray(load_decoder(folder)(tokens, mask))
    half = load_decoder(folder, compute_dtype="bfloat16")
    assert all(
        v[...].dtype == jnp.float32 for _, v in nnx.to_flat_state(nnx.state(half, nnx.Param))
    )
    assert half.hidden(tokens, mask).dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(half(tokens, mask)), full, atol=0.1)

    trainable = nnx.to_flat_state(nnx.state(model, decoder_trainable_filter(model.config)))
    assert {p[0] for p, _ in trainable} == {"layers", "score"}
    assert all(p[0] == "score" or "lora" in p for p, _ in trainable)
    jitted = nnx.jit(lambda m, t, k: m(t, k))(model, tokens, mask)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(model(tokens, mask)), atol=1e-5)
    with pytest.raises(UserError, match="vocab_size cannot be overridden"):
        load_decoder(folder, vocab_size=10)


def test_causal_lm_checkpoint_gets_a_seeded_head(tmp_path: Path) -> None:
    """lm_head.weight is ignored, the missing score head is initialised from the seed."""
    reference = hf_model("llama3", head="LlamaForCausalLM", tie_word_embeddings=False)
    folder = save(reference, tmp_path / "lm")
    assert "lm_head.weight" in load_file(folder / "model.safetensors")
    tokens, mask = batch()
    a, b, c = (load_decoder(folder, seed=s) for s in (0, 0, 1))
    ra, rb, rc = (np.asarray(m(jnp.asarray(tokens), jnp.asarray(mask))) for m in (a, b, c))
    np.testing.assert_array_equal(ra, rb)
    assert np.abs(ra - rc).max() > 1e-3
    ids, attention = (
        torch.from_numpy(tokens.astype(np.int64)),
        torch.from_numpy(mask.astype(np.int64)),
    )
    with torch.no_grad():
        theirs = reference.model(input_ids=ids, attention_mask=attention).last_hidden_state.numpy()
    ours = np.asarray(a.hidden(jnp.asarray(tokens), jnp.asarray(mask)))
    assert np.abs(ours - theirs)[mask].max() < 1e-4


def test_gemma3_multimodal_config_reads_text_config(
    checkpoints: dict[str, tuple[Any, Path]],
) -> None:
    _, folder = checkpoints["gemma3"]
    text = json.loads((folder / "config.json").read_text())
    wrapped = {"model_type": "gemma3", "text_config": text}
    assert DecoderConfig.from_hf(wrapped) == DecoderConfig.from_hf(text)
    hub_style = DecoderConfig.from_hf(
        {
            "model_type": "gemma3",
            "text_config": {
                "hidden_size": 2560,
                "intermediate_size": 10240,
                "num_hidden_layers": 34,
            },
        }
    )
    assert (hub_style.head_dim, hub_style.num_heads, hub_style.layer_types[5]) == (
        256,
        8,
        "full_attention",
    )
    assert hub_style.layer_types[0] == "sliding_attention"


def test_pre_transformers_5_rope_fields(checkpoints: dict[str, tuple[Any, Path]]) -> None:
    """Hub configs written before transformers 5 use rope_theta + rope_scaling (and, for Gemma 3,
    rope_local_base_freq) instead of rope_parameters."""
    llama = json.loads((checkpoints["llama3"][1] / "config.json").read_text())
    expected = DecoderConfig.from_hf(llama)
    params = llama.pop("rope_parameters")
    old = {**llama, "rope_theta": params.pop("rope_theta"), "rope_scaling": params}
    assert DecoderConfig.from_hf(old) == expected
    assert expected.rope.kind == "llama3"

    gemma = json.loads((checkpoints["gemma3"][1] / "config.json").read_text())
    expected = DecoderConfig.from_hf(gemma)
    params = gemma.pop("rope_parameters")
    full = params["full_attention"]
    old = {
        **gemma,
        "rope_theta": full.pop("rope_theta"),
        "rope_local_base_freq": params["sliding_attention"]["rope_theta"],
        "rope_scaling": full,
    }
    assert DecoderConfig.from_hf(old) == expected
    assert (expected.rope.kind, expected.local_rope.theta) == ("linear", 100.0)


def test_unknown_model_type_and_missing_field(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**TINY, "model_type": "mistral"}))
    with pytest.raises(UserError, match=r"config\.json: model_type: .*'mistral'"):
        load_decoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 300}))
    with pytest.raises(UserError, match=r"config\.json: missing field 'num_hidden_layers'"):
        load_decoder(tmp_path)
    with pytest.raises(UserError, match=r"rope type 'yarn' is not supported"):
        DecoderConfig.from_hf({**TINY, "model_type": "llama", "rope_scaling": {"type": "yarn"}})


def test_missing_and_unknown_tensors(
    checkpoints: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    _, folder = checkpoints["qwen3"]
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())
    tensors = load_file(folder / "model.safetensors")
    weights = tmp_path / "model.safetensors"

    save_file(
        {k: v for k, v in tensors.items() if k != "model.layers.1.self_attn.k_norm.weight"}, weights
    )
    with pytest.raises(
        UserError,
        match=r"model\.safetensors: missing tensor\(s\) model\.layers\.1\.self_attn\.k_norm\.weight",
    ):
        load_decoder(tmp_path)

    save_file(
        {**tensors, "model.layers.2.mlp.up_proj.weight": np.zeros((2, 2), np.float32)}, weights
    )
    with pytest.raises(
        UserError, match=r"model\.safetensors: unexpected tensor\(s\) model\.layers\.2\.mlp"
    ):
        load_decoder(tmp_path)

    bad = dict(tensors, **{"model.norm.weight": np.zeros(3, np.float32)})
    save_file(bad, weights)
    with pytest.raises(
        UserError, match=r"tensor model\.norm\.weight: expected shape \(64,\), got \(3,\)"
    ):
        load_decoder(tmp_path)


def test_remat_gives_the_same_rewards_and_gradients(
    checkpoints: dict[str, tuple[Any, Path]],
) -> None:
    _, folder = checkpoints["gemma3"]
    tokens, mask = (jnp.asarray(a) for a in batch())

    def grads(remat: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        model = load_decoder(folder, remat=remat)
        graphdef, params = nnx.split(model, nnx.Param)

        def loss(p):
            return nnx.merge(graphdef, p)(tokens, mask).sum()

        # the rematerialised blocks show as `remat2` equations in the jaxpr
        assert ("remat2" in str(jax.make_jaxpr(jax.grad(loss))(params))) == remat
        value, g = jax.jit(jax.value_and_grad(loss))(params)
        return np.asarray(value), [np.asarray(x) for x in jax.tree.leaves(g)]

    (plain, g_plain), (remat, g_remat) = grads(False), grads(True)
    np.testing.assert_allclose(remat, plain, atol=1e-5)
    assert len(g_plain) == len(g_remat)
    for a, b in zip(g_plain, g_remat, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5)
