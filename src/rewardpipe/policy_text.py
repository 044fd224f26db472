"""A policy's text <-> tokens: generation prompts, left-padded prompt batches, completion texts;
and the tiny policy folder (a tokenizer trained on the data, a random Llama config) that smoke
runs and tests sample from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardpipe.chat_format import PromptFormat, render_template
from rewardpipe.data.sources import load_source
from rewardpipe.data.tokenizer import PAD, SEP, train_bpe
from rewardpipe.errors import UserError
from rewardpipe.params import PrepareParams


def prompt_text(fmt: PromptFormat, question: str, instruction: str = "") -> str:
    """The generation prompt: the chat template with `add_generation_prompt`, else
    `question\\n\\n` (the plain format's prefix of `question\\n\\nsolution` + EOS)."""
    content = question + instruction
    if fmt.chat_template is None:
        return content + "\n\n"
    return render_template(
        fmt._compiled,
        fmt.template_source,
        messages=[{"role": "user", "content": content}],
        tools=None,
        documents=None,
        add_generation_prompt=True,
        **fmt.special_tokens,
    )


def encode_prompts(
    fmt: PromptFormat, texts: Sequence[str], width: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded to `width` (one jit shape): (tokens int32[B, width], mask bool[B, width]);
    a longer prompt keeps its end. Special tokens as `PromptFormat.encode` adds them."""
    ids = []
    for text in texts:
        add = fmt.chat_template is None and not (fmt.bos_token and text.startswith(fmt.bos_token))
        ids.append(fmt.tokenizer.encode(text, add_special_tokens=add).ids[-width:])
    tokens = np.full((len(ids), width), pad_id, np.int32)
    mask = np.zeros((len(ids), width), bool)
    for row, seq in enumerate(ids):
        tokens[row, width - len(seq) :] = seq
        mask[row, width - len(seq) :] = True
    return tokens, mask


def decode(fmt: PromptFormat, tokens: np.ndarray, mask: np.ndarray, eos_id: int) -> list[str]:
    """The completion texts (without the EOS token)."""
    out = []
    for row, keep in zip(np.asarray(tokens), np.asarray(mask), strict=True):
        ids = [int(t) for t, k in zip(row, keep, strict=True) if k and t != eos_id]
        out.append(fmt.tokenizer.decode(ids, skip_special_tokens=True))
    return out


def tiny_policy_folder(
    folder: Path, texts: list[str], size: dict[str, int], max_positions: int
) -> tuple[Path, dict[str, Any]]:
    """A tokenizer trained on `texts` and a random Llama config.json (size: vocab_size,
    hidden_size, layers, heads) in `folder`; `policy.random_policy` makes the model from it.
    Untied LM head with init std 1/sqrt(hidden) (`initializer_range`): logits of order 1 that
    LoRA on the backbone can move (a 0.02 head gives near-uniform logits that barely do)."""
    tokenizer = train_bpe(texts, size["vocab_size"])
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"eos_token": SEP, "pad_token": PAD}), encoding="utf-8"
    )
    hf = {
        "model_type": "llama",
        "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": size["hidden_size"],
        "intermediate_size": 4 * size["hidden_size"],
        "num_hidden_layers": size["layers"],
        "num_attention_heads": size["heads"],
        "num_key_value_heads": size["heads"],
        "rope_theta": 10000.0,
        "max_position_embeddings": max_positions,
        "pad_token_id": tokenizer.token_to_id(PAD),
        "eos_token_id": tokenizer.token_to_id(SEP),
        "bos_token_id": tokenizer.token_to_id(SEP),
        "tie_word_embeddings": False,
        "initializer_range": size["hidden_size"] ** -0.5,
        "rms_norm_eps": 1e-6,
    }
    (folder / "config.json").write_text(json.dumps(hf, indent=2), encoding="utf-8")
    return folder, hf


def source_splits(pp: PrepareParams, stage: str) -> dict[str, list[dict[str, Any]]]:
    """The prepare source's rows by split; `stage` (which needs train and test) names errors."""
    splits = {
        s.name: s.rows
        for s in load_source(
            pp.source, path=pp.path, hub_name=pp.hub_name, hub_config=pp.hub_config,
            hub_revision=pp.hub_revision, n_train=pp.synthetic_train, n_test=pp.synthetic_test,
            seed=pp.seed,
        )
    }  # fmt: skip
    if "train" not in splits or "test" not in splits:
        raise UserError(
            f"{stage}: the prepare source needs train and test splits, got {sorted(splits)}"
        )
    return splits
