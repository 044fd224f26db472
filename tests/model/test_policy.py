"""The policy LM matches transformers' *ForCausalLM; cached and uncached generation agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_decoder import batch, hf_model, save

from rewardpipe.errors import UserError
from rewardpipe.policy import (
    _sample,
    generate,
    load_policy,
    logits,
    policy_state_dict,
    token_logprobs,
)

torch = pytest.importorskip("torch", reason="parity tests need PyTorch")

HEADS = {
    "llama3": ("LlamaForCausalLM", {}),
    "qwen2": ("Qwen2ForCausalLM", {"tie_word_embeddings": True}),  # as Qwen2.5-0.5B
    "qwen3": ("Qwen3ForCausalLM", {}),
    "gemma3": ("Gemma3ForCausalLM", {"final_logit_softcapping": 5.0}),
}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    root = tmp_path_factory.mktemp("policies")
    out = {}
    for family, (head, extra) in HEADS.items():
        model = hf_model(family, head, **extra)
        out[family] = (model, save(model, root / family))
    return out


def left_padded() -> tuple[np.ndarray, np.ndarray]:
    """Prompts of lengths 5, 2, 7 left-padded to 7 (ids 1..299)."""
    rng = np.random.default_rng(1)
    tokens, mask = np.zeros((3, 7), np.int32), np.zeros((3, 7), bool)
    for i, n in enumerate([5, 2, 7]):
        tokens[i, 7 - n :], mask[i, 7 - n :] = rng.integers(1, 300, n), True
    return tokens, mask


@pytest.mark.parametrize("family", list(HEADS))
def test_logits_match_transformers(policies: dict[str, tuple[Any, Path]], family: str) -> None:
    reference, folder = policies[family]
    tokens, mask = batch()
    model = load_policy(folder)
    assert (model.lm_head is None) == bool(reference.config.tie_word_embeddings)
    ours = np.asarray(logits(model, jnp.asarray(tokens), jnp.asarray(mask)))
    with torch.no_grad():
        theirs = reference(
            input_ids=torch.from_numpy(tokens.astype(np.int64)),
            attention_mask=torch.from_numpy(mask.astype(np.int64)),
        ).logits.numpy()
    diff = np.abs(ours - theirs)[mask]
    assert diff.max() < 1e-4, diff.max()
    assert np.abs(theirs).max() > 0.05
    logp = np.asarray(token_logprobs(model, jnp.asarray(tokens), jnp.asarray(mask)))
    their_logp = torch.log_softmax(torch.from_numpy(theirs), -1).numpy()
    picked = np.take_along_axis(their_logp[:, :-1], tokens[:, 1:, None], -1)[..., 0]
    want = np.where(mask[:, 1:], picked, 0.0)
    assert np.abs(logp[:, 1:] - want).max() < 1e-4 and (logp[:, 0] == 0).all()


@pytest.mark.parametrize("family", ["llama3", "gemma3"])
def test_left_padding_does_not_change_logits(
    policies: dict[str, tuple[Any, Path]], family: str
) -> None:
    model = load_policy(policies[family][1])
    tokens, mask = left_padded()
    padded = np.asarray(logits(model, jnp.asarray(tokens), jnp.asarray(mask)))
    for row in range(3):
        alone = tokens[row][mask[row]][None]
        single = np.asarray(logits(model, jnp.asarray(alone), jnp.ones_like(alone, bool)))[0]
        assert np.abs(padded[row][mask[row]] - single).max() < 1e-5


@pytest.mark.parametrize("family", ["llama3", "gemma3"])
def test_cached_and_uncached_greedy_agree_and_match_transformers(
    policies: dict[str, tuple[Any, Path]], family: str
) -> None:
    reference, folder = policies[family]
    model = load_policy(folder)
    tokens, mask = left_padded()
    run = {
        cache: generate(
            model, tokens, mask, 10, 0.0, 1.0, jax.random.key(0), eos_ids=(), use_cache=cache
        )
        for cache in (True, False)
    }
    np.testing.assert_array_equal(np.asarray(run[True][0]), np.asarray(run[False][0]))
    assert np.asarray(run[True][1]).all()  # no EOS: every token is kept
    prompt = torch.from_numpy(tokens[2:3].astype(np.int64))  # the unpadded row
    with torch.no_grad():
        theirs = reference.generate(
            prompt, max_new_tokens=10, min_new_tokens=10, do_sample=False, pad_token_id=0
        )[0, 7:].numpy()
    np.testing.assert_array_equal(np.asarray(run[True][0])[2], theirs)


def test_sampling_seed_temperature_top_p_and_eos(policies: dict[str, tuple[Any, Path]]) -> None:
    model = load_policy(policies["qwen2"][1])
    tokens, mask = left_padded()

    def gen(t: float, p: float, seed: int, **kw: Any) -> np.ndarray:
        out = generate(model, tokens, mask, 8, t, p, jax.random.key(seed), eos_ids=(), **kw)
        return np.asarray(out[0])

    greedy = gen(0.0, 1.0, 0)
    np.testing.assert_array_equal(gen(0.0, 1.0, 5), greedy)  # temperature 0 ignores the seed
    np.testing.assert_array_equal(gen(1.0, 1e-6, 3), greedy)  # tiny top_p: only the top token
    hot = gen(1.0, 1.0, 7)
    np.testing.assert_array_equal(gen(1.0, 1.0, 7), hot)  # same seed, same samples
    assert (gen(1.0, 1.0, 8) != hot).any()
    np.testing.assert_array_equal(gen(1.0, 1.0, 7, use_cache=False), hot)
    # Stop at EOS: declare the greedy second token EOS; it is kept, the rest is padding.
    eos = int(greedy[0, 1])
    out, keep = generate(model, tokens, mask, 8, 0.0, 1.0, jax.random.key(0), eos_ids=(eos,))
    out, keep = np.asarray(out), np.asarray(keep)
    first = np.argmax(greedy == eos, axis=1)
    for row in range(3):
        if (greedy[row] == eos).any():
            assert keep[row].sum() == first[row] + 1 and (out[row, first[row] + 1 :] == 0).all()
            np.testing.assert_array_equal(out[row, : first[row] + 1], greedy[row, : first[row] + 1])
        else:
            assert keep[row].all()
    assert not keep[0, 2:].any()


def test_top_p_keeps_the_nucleus() -> None:
    probs = jnp.log(jnp.asarray([[0.5, 0.3, 0.15, 0.05]] * 4000))
    drawn = np.asarray(
        _sample(probs, jax.random.key(0), jnp.float32(1.0), jnp.float32(0.7), nucleus=True)
    )
    counts = np.bincount(drawn, minlength=4)
    assert counts[2] == counts[3] == 0 and counts[1] > 0.3 * 4000 * 0.3  # renormalised 0.5:0.3
    assert abs(counts[0] / 4000 - 0.5 / 0.8) < 0.03
    everything = np.asarray(
        _sample(probs, jax.random.key(1), jnp.float32(1.0), jnp.float32(1.0), nucleus=False)
    )
    assert (np.bincount(everything, minlength=4) > 0).all()


def test_state_dict_round_trip_and_errors(
    policies: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    reference, folder = policies["llama3"]
    state = policy_state_dict(load_policy(folder))
    theirs = {k: v.numpy() for k, v in reference.state_dict().items()}
    assert set(state) == set(theirs)
    assert max(np.abs(state[k] - theirs[k]).max() for k in state) == 0
    with pytest.raises(UserError, match="max_new_tokens"):
        generate(load_policy(folder), *left_padded(), 0, 0.0, 1.0, jax.random.key(0))
