"""The policy LM of grpo: loads a transformers CausalLM save with the same logits, samples
greedily like a step-by-step argmax, masks after EOS, and renders generation prompts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from decoder_support import tiny_llama
from flax import nnx

from rewardpipe.chat_format import PromptFormat
from rewardpipe.grpo import policy_model, sampling
from rewardpipe.grpo.run import run as run_grpo


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("llama"))


def test_a_transformers_causal_lm_loads_with_the_same_logits(llama):
    import torch
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(llama).eval()
    ours = policy_model.load_policy(llama, lora_rank=2)
    assert ours.lm_head is not None  # Llama saves an untied head
    tokens = np.random.default_rng(0).integers(0, ours.config.vocab_size, (2, 7)).astype(np.int32)
    with torch.no_grad():
        theirs = hf(torch.tensor(tokens, dtype=torch.long)).logits.numpy()
    got = np.asarray(ours(jnp.asarray(tokens), jnp.ones(tokens.shape, bool)))
    np.testing.assert_allclose(got, theirs, atol=1e-4)


def test_greedy_generation_is_the_step_by_step_argmax_and_stops_at_eos(llama):
    model = policy_model.load_policy(llama)
    graphdef, state = nnx.split(model)
    tokens = jnp.asarray([[0, 5, 9, 11], [3, 4, 12, 13]], jnp.int32)
    mask = jnp.asarray([[False, True, True, True], [True] * 4])
    comp, comp_mask = sampling.generate(
        graphdef, (state,), tokens, mask, jax.random.key(0),
        max_new_tokens=4, temperature=0.0, top_p=1.0, eos_id=-1,
    )  # fmt: skip
    seq, seq_mask = tokens, mask
    for i in range(4):
        nxt = jnp.argmax(model(seq, seq_mask)[:, -1], axis=-1).astype(jnp.int32)
        np.testing.assert_array_equal(comp[:, i], nxt)
        seq = jnp.concatenate([seq, nxt[:, None]], axis=1)
        seq_mask = jnp.concatenate([seq_mask, jnp.ones((2, 1), bool)], axis=1)
    assert bool(comp_mask.all())
    eos = int(comp[0, 1])  # call the second sampled token of row 0 the EOS: the mask ends there
    _, m = sampling.generate(
        graphdef, (state,), tokens, mask, jax.random.key(0),
        max_new_tokens=4, temperature=0.0, top_p=1.0, eos_id=eos,
    )  # fmt: skip
    first = int(np.argmax(np.asarray(comp[0]) == eos))
    assert m[0].tolist() == [i <= first for i in range(4)]
    logp = sampling.completion_logprobs(model(seq, seq_mask), seq, 4)
    assert logp.shape == (2, 4) and bool(jnp.all(logp <= 0))


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = jnp.log(jnp.asarray([[0.5, 0.3, 0.15, 0.05]]))
    kept = np.isfinite(np.asarray(sampling._top_p_filter(logits, 0.75)))
    assert kept.tolist() == [[True, True, False, False]]


def test_generation_prompts_follow_the_chat_template(llama):
    fmt = PromptFormat.from_folder(llama)
    text = sampling.prompt_text(fmt, "What is 2 + 3?", " Answer with ####.")
    full = fmt.format("What is 2 + 3?", "5")
    assert "What is 2 + 3? Answer with ####." in text and text.endswith("\n\n")
    assert full.startswith(text.replace(" Answer with ####.", ""))
    tokens, mask = sampling.encode_prompts(fmt, [text, "x"], 64, 0)
    assert tokens.shape == (2, 64) and mask[0, -1] and not mask[1, 0]  # left padded


@pytest.mark.slow
def test_grpo_runs_on_a_pretrained_folder_and_exports_it(llama, tmp_path):
    from test_grpo_run import paths, sections

    from rewardpipe.params import PolicyParams

    pp, _, gp = sections(
        steps=1, num_generations=2, batch_prompts=2, max_new_tokens=3, eval_questions=2,
        val_questions=2, eval_batch=2, log_every=1, eval_every=1, checkpoint_every=1,
        reward_weights={"numbers": 1.0, "format_approx": 1.0},
    )  # fmt: skip
    out = run_grpo(pp, PolicyParams(pretrained=str(llama)), gp, paths(tmp_path))
    assert out["result"].step == 1
    exported = policy_model.load_policy(tmp_path / "policy")
    assert exported.lm_head is not None
    assert (tmp_path / "policy" / "tokenizer_config.json").is_file()
