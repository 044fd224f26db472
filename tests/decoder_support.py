"""A tiny random Llama 3 checkpoint in Hugging Face layout (needs torch and transformers), and
a LoRA decoder reward model built from it."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest
from flax import nnx
from test_chat_format import FAMILIES, make_folder
from tokenizers import Tokenizer

from rewardpipe.model import factory
from rewardpipe.params import ModelParams

EXTRA_ROWS = 4  # embedding rows beyond the tokenizer's vocabulary (as real checkpoints have)


def tiny_llama(folder: Path, *, template: bool = True) -> Path:
    """A LlamaForCausalLM save (no score head) with the Llama 3 special tokens and, with
    `template`, its chat template; without, the `question\\n\\nsolution<|eot_id|>` fallback."""
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    tokens, bos, config = FAMILIES["llama3"]
    if not template:
        config = {k: v for k, v in config.items() if k != "chat_template"}
    make_folder(folder, tokens, bos, config)
    vocab = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()
    torch.manual_seed(0)
    hf_config = transformers.LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=vocab + EXTRA_ROWS,
        max_position_embeddings=512,
        bos_token_id=tokens.index(bos),
        eos_token_id=tokens.index("<|eot_id|>"),
        rope_theta=500_000.0,
    )
    model = transformers.LlamaForCausalLM(hf_config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(folder)
    return folder


def trained_decoder(pretrained: Path):
    """The factory's LoRA decoder with every LoRA matrix perturbed (so the merge matters)."""
    params = ModelParams(backbone="decoder", pretrained=str(pretrained), lora_rank=4)
    model = factory.create(params, vocab_size=0, pad_id=0, precision="float32", seed=3)
    lora = nnx.state(model, nnx.LoRAParam)
    keys = iter(jax.random.split(jax.random.key(1), len(jax.tree.leaves(lora))))
    nnx.update(model, jax.tree.map(lambda x: 0.1 * jax.random.normal(next(keys), x.shape), lora))
    return model
