"""Load a pretrained BERT encoder (Hugging Face folder layout) into `RewardTransformer`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from rewardpipe.errors import UserError
from rewardpipe.model.config import ModelConfig
from rewardpipe.model.transformer import RewardTransformer
from rewardpipe.model.weights import load_flat, read_safetensors, to_flat

# Fields a caller may set on top of config.json; the rest are fixed by the pretrained weights.
BERT_OVERRIDABLE = frozenset(
    {"dropout", "lora_rank", "lora_alpha", "pooling", "compute_dtype", "max_len"}
)
# Tensors of a checkpoint that the reward model does not use.
_IGNORED_PREFIXES = ("embeddings.position_ids", "pooler.", "cls.", "classifier.")


def hf_names(config: ModelConfig) -> dict[str, tuple[str, bool]]:
    """HF tensor name -> (our dotted key, transpose?) for every backbone tensor."""
    names = {
        "embeddings.word_embeddings.weight": ("tok_emb.embedding", False),
        "embeddings.position_embeddings.weight": ("pos_emb.embedding", False),
        "embeddings.LayerNorm.weight": ("ln_emb.scale", False),
        "embeddings.LayerNorm.bias": ("ln_emb.bias", False),
    }
    if config.type_vocab_size:
        names["embeddings.token_type_embeddings.weight"] = ("type_emb.embedding", False)
    layer_parts = {
        "attention.self.query": "attn.query",
        "attention.self.key": "attn.key",
        "attention.self.value": "attn.value",
        "attention.output.dense": "attn.out",
        "intermediate.dense": "fc",
        "output.dense": "proj",
    }
    for i in range(config.n_layers):
        hf, ours = f"encoder.layer.{i}", f"blocks.{i}"
        for hf_part, our_part in layer_parts.items():
            # torch Linear stores [out, in]; ours is [in, out]
            names[f"{hf}.{hf_part}.weight"] = (f"{ours}.{our_part}.kernel", True)
            names[f"{hf}.{hf_part}.bias"] = (f"{ours}.{our_part}.bias", False)
        for hf_part, our_part in (
            ("attention.output.LayerNorm", "ln1"),
            ("output.LayerNorm", "ln2"),
        ):
            names[f"{hf}.{hf_part}.weight"] = (f"{ours}.{our_part}.scale", False)
            names[f"{hf}.{hf_part}.bias"] = (f"{ours}.{our_part}.bias", False)
    return names


def _canonical(name: str) -> str:
    """Strip a task model's `bert.` prefix; old checkpoints call LayerNorm params gamma/beta."""
    name = name.removeprefix("bert.")
    if ".LayerNorm." in name:
        name = name.replace(".gamma", ".weight").replace(".beta", ".bias")
    return name


def _listing(names: list[str], limit: int = 8) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def read_hf_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a Hugging Face BERT model folder)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: invalid JSON ({err})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def load_bert(
    folder: str | Path, *, rngs: nnx.Rngs, **overrides: Any
) -> tuple[RewardTransformer, ModelConfig]:
    """A reward model with the folder's BERT weights and a freshly initialised head (and LoRA).

    The folder holds config.json and model.safetensors (tokenizer.json is read elsewhere).
    `overrides` may set the fields in `BERT_OVERRIDABLE`; `max_len` may only shrink.
    """
    folder = Path(folder)
    hf_config = read_hf_config(folder)
    fixed = sorted(set(overrides) - BERT_OVERRIDABLE)
    if fixed:
        raise UserError(
            f"{folder}: {', '.join(fixed)} cannot be overridden for a pretrained backbone "
            f"(set by its config.json); allowed: {', '.join(sorted(BERT_OVERRIDABLE))}"
        )
    config = ModelConfig.from_hf_bert(hf_config, **overrides)
    n_positions = hf_config.get("max_position_embeddings", 512)
    if config.max_len > n_positions:
        raise UserError(
            f"model.max_len {config.max_len} exceeds the backbone's max_position_embeddings "
            f"{n_positions} ({folder / 'config.json'})"
        )

    weights_path = folder / "model.safetensors"
    if not weights_path.is_file() and (folder / "pytorch_model.bin").is_file():
        raise UserError(
            f"{weights_path}: not found; only pytorch_model.bin is there (a pickle, not loaded): "
            "convert it to safetensors first"
        )
    tensors = {_canonical(k): v for k, v in read_safetensors(weights_path).items()}
    names = hf_names(config)
    missing = sorted(set(names) - set(tensors))
    unexpected = sorted(
        k for k in tensors if k not in names and not k.startswith(_IGNORED_PREFIXES)
    )
    if missing or unexpected:
        raise UserError(
            f"{weights_path}: does not match a {config.n_layers}-layer BERT encoder; "
            f"missing tensors: {_listing(missing) or 'none'}; "
            f"unexpected tensors: {_listing(unexpected) or 'none'}"
        )

    model = RewardTransformer(config, rngs=rngs)
    flat = to_flat(model)  # head and LoRA adapters keep their fresh initialisation
    for hf_name, (key, transpose) in names.items():
        value = np.asarray(tensors[hf_name], dtype=np.float32)
        if key == "pos_emb.embedding":
            value = value[: config.max_len]
        flat[key] = value.T if transpose else value
    load_flat(model, flat, source=str(weights_path))
    return model, config
