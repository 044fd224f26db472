"""Tiny random Llama 3 / Qwen 2 / Qwen 3 / Gemma 3 checkpoints in Hugging Face layout (need torch
and transformers), and a LoRA decoder reward model built from one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import pytest
from flax import nnx
from test_chat_format import FAMILIES, make_folder
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers

from rewardpipe.model import factory
from rewardpipe.params import ModelParams

EXTRA_ROWS = 4  # embedding rows beyond the tokenizer's vocabulary (as real checkpoints have)
# Qwen 2's pre-tokenizer split (transformers' qwen2 PRETOKENIZE_REGEX).
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


# family -> (its tokenizer in test_chat_format.FAMILIES, transformers config and causal-LM classes,
# config fields beyond the shared tiny sizes).
DECODERS = {
    "llama3": ("llama3", "LlamaConfig", "LlamaForCausalLM", {"rope_theta": 500_000.0}),
    "qwen2": (
        "qwen2.5",
        "Qwen2Config",
        "Qwen2ForCausalLM",
        {"rope_theta": 1_000_000.0, "tie_word_embeddings": True},  # as Qwen2.5-0.5B
    ),
    "qwen3": (
        "qwen2.5",
        "Qwen3Config",
        "Qwen3ForCausalLM",
        {"head_dim": 32, "tie_word_embeddings": True},  # head_dim != hidden / heads, as Qwen 3
    ),
    "gemma3": (
        "gemma3",
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        {
            "head_dim": 16,
            "query_pre_attn_scalar": 12,
            "sliding_window": 4,  # shorter than the sequences
            "layer_types": ["sliding_attention", "full_attention"],
            "rope_theta": 10_000.0,
            "rope_local_base_freq": 100.0,
        },
    ),
}


def tiny_decoder(
    folder: Path,
    family: str = "llama3",
    *,
    template: bool = True,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    extra_rows: int = EXTRA_ROWS,
) -> Path:
    """A `family` *ForCausalLM save (no score head; every parameter perturbed) with the family's
    special tokens and, with `template`, its chat template; without, the
    `question\\n\\nsolution<eos>` fallback. 2 layers, 4 heads (2 kv heads); `extra_rows`
    embedding rows beyond the tokenizer's vocabulary."""
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    tokenizer_family, config_cls, model_cls, fields = DECODERS[family]
    tokens, bos, config = FAMILIES[tokenizer_family]
    if not template:
        config = {k: v for k, v in config.items() if k != "chat_template"}
    qwen = family.startswith("qwen")
    # transformers' Qwen2Tokenizer rebuilds the tokenizer from the vocabulary with Qwen's
    # normalizer and pre-tokenizer, which the tiny Qwen tokenizers therefore get too; the tiny
    # Gemma one is byte-level BPE (not Gemma's SentencePiece-style), so it is declared generic.
    tokenizer_class = "Qwen2Tokenizer" if qwen else "PreTrainedTokenizerFast"
    make_folder(folder, tokens, bos, {**config, "tokenizer_class": tokenizer_class})
    if qwen:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tokenizer.save(str(folder / "tokenizer.json"))
    vocab = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()
    eos = config["eos_token"]
    torch.manual_seed(0)
    hf_config = getattr(transformers, config_cls)(
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=vocab + extra_rows,
        max_position_embeddings=512,
        bos_token_id=tokens.index(bos) if bos else None,
        eos_token_id=tokens.index(eos if isinstance(eos, str) else eos["content"]),
        **fields,
    )
    model = getattr(transformers, model_cls)(hf_config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(folder)
    return folder


def tiny_llama(folder: Path, *, template: bool = True) -> Path:
    """A LlamaForCausalLM save (no score head) with the Llama 3 special tokens and, with
    `template`, its chat template; without, the `question\\n\\nsolution<|eot_id|>` fallback."""
    return tiny_decoder(folder, "llama3", template=template, hidden_size=32, intermediate_size=64)


def trained_decoder(pretrained: Path):
    """The factory's LoRA decoder with every LoRA matrix perturbed (so the merge matters)."""
    params = ModelParams(backbone="decoder", pretrained=str(pretrained), lora_rank=4)
    model = factory.create(params, vocab_size=0, pad_id=0, precision="float32", seed=3)
    lora = nnx.state(model, nnx.LoRAParam)
    keys = iter(jax.random.split(jax.random.key(1), len(jax.tree.leaves(lora))))
    nnx.update(model, jax.tree.map(lambda x: 0.1 * jax.random.normal(next(keys), x.shape), lora))
    return model


def tiny_gemma3_multimodal(folder: Path) -> Path:
    """A Gemma3ForConditionalGeneration save (a tiny SigLIP tower; the `gemma3` config with the
    text model under `text_config`, as Gemma 3 4B and larger ship) with `tiny_decoder`'s Gemma 3
    text model shape and tokenizer."""
    torch = pytest.importorskip("torch", reason="needs PyTorch")
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    text = tiny_decoder(folder / "text-only", "gemma3")
    skip = ("architectures", "transformers_version", "dtype")
    text_config = json.loads((text / "config.json").read_text())
    tokens = FAMILIES["gemma3"][0]
    config = transformers.Gemma3Config(
        text_config={k: v for k, v in text_config.items() if k not in skip},
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        image_token_index=tokens.index("<image_soft_token>"),
        boi_token_index=tokens.index("<start_of_image>"),
        eoi_token_index=tokens.index("<end_of_image>"),
    )
    torch.manual_seed(1)
    model = transformers.Gemma3ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    out = folder / "multimodal"
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(text / name, out / name)
    return out
