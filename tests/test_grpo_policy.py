"""grpo on `rewardpipe.policy`: the LoRA policy starts as the transformers CausalLM, the
trainer's log-probs and samples are the policy's, generation prompts follow the chat template,
and a pretrained folder trains and exports. (Parity, KV cache, top-p, EOS: tests/model/
test_policy.py.)"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from decoder_support import tiny_llama
from flax import nnx

from rewardpipe import policy as policy_lm
from rewardpipe.chat_format import PromptFormat
from rewardpipe.grpo import trainer as grpo_trainer
from rewardpipe.grpo.run import run as run_grpo
from rewardpipe.params import GrpoParams
from rewardpipe.policy_text import encode_prompts, prompt_text


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return tiny_llama(tmp_path_factory.mktemp("llama"))


def test_the_lora_policy_starts_as_the_transformers_causal_lm(llama):
    import torch
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(llama).eval()
    ours = policy_lm.load_policy(llama, lora_rank=2)
    assert ours.lm_head is not None  # Llama saves an untied head
    assert jax.tree.leaves(nnx.state(ours, nnx.LoRAParam))
    tokens = np.random.default_rng(0).integers(0, ours.config.vocab_size, (2, 7)).astype(np.int32)
    with torch.no_grad():
        theirs = hf(torch.tensor(tokens, dtype=torch.long)).logits.numpy()
    got = np.asarray(policy_lm.logits(ours, jnp.asarray(tokens), jnp.ones(tokens.shape, bool)))
    np.testing.assert_allclose(got, theirs, atol=1e-4)


def test_the_trainer_samples_and_scores_with_the_policy(llama):
    model = policy_lm.load_policy(llama, lora_rank=2)
    fmt = PromptFormat.from_folder(llama)
    gp = GrpoParams(max_prompt_len=16, max_new_tokens=5, temperature=0.0)
    trainer = grpo_trainer.Trainer(model, fmt, 0, -1, gp)
    prompts = [prompt_text(fmt, "What is 2 + 3?"), prompt_text(fmt, "1 + 1?")]
    tokens, mask, comp, comp_mask = trainer.generate(trainer.lora0, prompts, jax.random.key(0), 0.0)
    want = policy_lm.generate(
        model, tokens, mask, 5, 0.0, 1.0, jax.random.key(0), eos_ids=trainer.stops, use_cache=False
    )
    np.testing.assert_array_equal(comp, np.asarray(want[0]))
    np.testing.assert_array_equal(comp_mask, np.asarray(want[1]))
    full, full_mask = np.concatenate([tokens, comp], 1), np.concatenate([mask, comp_mask], 1)
    got = grpo_trainer.logprobs(trainer.graphdef, trainer.lora0, trainer.rest, full, full_mask, 16)
    ref = policy_lm.token_logprobs(model, full, full_mask)[:, 16:]
    assert got.shape == (2, 5) and bool(jnp.all(got <= 0))
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), atol=1e-5)


def test_generation_prompts_follow_the_chat_template(llama):
    fmt = PromptFormat.from_folder(llama)
    text = prompt_text(fmt, "What is 2 + 3?", " Answer with ####.")
    full = fmt.format("What is 2 + 3?", "5")
    assert "What is 2 + 3? Answer with ####." in text and text.endswith("\n\n")
    assert full.startswith(text.replace(" Answer with ####.", ""))
    tokens, mask = encode_prompts(fmt, [text, "x"], 64, 0)
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
    exported = policy_lm.load_policy(tmp_path / "policy")
    assert exported.lm_head is not None
    assert (tmp_path / "policy" / "tokenizer_config.json").is_file()
