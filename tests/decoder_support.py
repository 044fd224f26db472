"""A tiny random Llama 3 checkpoint in Hugging Face layout (needs torch and transformers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_chat_format import FAMILIES, make_folder
from tokenizers import Tokenizer

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
