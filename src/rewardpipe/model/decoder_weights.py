"""Hugging Face decoder checkpoints <-> `DecoderRewardModel` (names, transposes, shards, LoRA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rewardpipe.errors import UserError
from rewardpipe.io import read_json
from rewardpipe.model.decoder import DecoderConfig, DecoderRewardModel
from rewardpipe.model.transformer import make_rngs
from rewardpipe.model.weights import load_flat, read_safetensors, to_flat

# Checkpoint tensors a reward model does not use: the LM head and Gemma 3's vision tower.
_IGNORED = ("lm_head.", "vision_tower.", "multi_modal_projector.")
# Where the language model sits in multimodal (Gemma 3) checkpoints, new and old layout.
_PREFIXES = {"model.language_model.": "model.", "language_model.model.": "model."}


def hf_name(key: str) -> tuple[str, bool]:
    """Our dotted Param key -> (transformers *ForSequenceClassification name, transpose?)."""
    if key == "embed_tokens.embedding":
        return "model.embed_tokens.weight", False
    transpose = key.endswith(".kernel")  # torch Linear stores [out, in]; ours is [in, out]
    name = key.removesuffix(".kernel") + ".weight" if transpose else key
    return (name if key.startswith("score.") else f"model.{name}"), transpose


def _canonical(name: str) -> str | None:
    """The *ForSequenceClassification name of a checkpoint tensor; None: not used."""
    for old, new in _PREFIXES.items():
        if name.startswith(old):
            name = new + name.removeprefix(old)
    if name.startswith(("embed_tokens.", "layers.", "norm.")):  # a bare *Model save
        name = f"model.{name}"
    for prefix in _IGNORED:
        if name.startswith((prefix, f"model.{prefix}", f"language_model.{prefix}")):
            return None
    return name


def read_hf_json(path: Path) -> dict[str, Any]:
    """A Hugging Face folder's config.json or weight index: a JSON object."""
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a Hugging Face model folder)")
    data = read_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def read_checkpoint(folder: Path) -> dict[str, tuple[np.ndarray, Path]]:
    """Canonical tensor name -> (array, file it came from), from one file or an index + shards."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    elif index.is_file():
        weight_map = read_hf_json(index).get("weight_map")
        if not isinstance(weight_map, dict):
            raise UserError(f"{index}: weight_map: expected an object of tensor -> shard file")
        files = [folder / shard for shard in sorted(set(weight_map.values()))]
    else:
        raise UserError(
            f"{folder}: neither model.safetensors nor model.safetensors.index.json found"
        )
    tensors: dict[str, tuple[np.ndarray, Path]] = {}
    for path in files:
        for raw, value in read_safetensors(path).items():
            name = _canonical(raw)
            if name is not None:
                tensors[name] = (value, path)
    return tensors


def load_decoder(folder: str | Path, *, seed: int = 0, **overrides: Any) -> DecoderRewardModel:
    """A reward model with a Hugging Face folder's decoder weights (config.json + safetensors).

    `score.weight` is loaded when present (a *ForSequenceClassification checkpoint), else the head
    starts as normal(0.02) from `seed`; LoRA adapters always start fresh (B = 0). `overrides`
    set compute_dtype and the lora_* fields of `DecoderConfig`.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    config = DecoderConfig.from_hf(read_hf_json(config_path), source=str(config_path), **overrides)
    tensors = read_checkpoint(folder)
    model = DecoderRewardModel(config, rngs=make_rngs(seed))
    flat = to_flat(model)
    names = {hf_name(key): key for key in flat if ".lora." not in key}
    expected = {name for name, _ in names}
    where = folder / "model.safetensors"
    if not where.is_file():
        where = folder / "model.safetensors.index.json"
    missing = sorted(name for name in expected - set(tensors) if name != "score.weight")
    if missing:
        raise UserError(
            f"{where}: missing tensor(s) {', '.join(missing)} for a {config.model_type} model"
        )
    unknown = sorted(set(tensors) - expected)
    if unknown:
        raise UserError(
            f"{tensors[unknown[0]][1]}: unexpected tensor(s) {', '.join(unknown)} "
            f"for a {config.model_type} model"
        )
    for (name, transpose), key in names.items():
        if name not in tensors:
            continue  # score.weight: keep the fresh head
        value, path = tensors[name]
        want = flat[key].shape[::-1] if transpose else flat[key].shape
        if tuple(value.shape) != want:
            raise UserError(
                f"{path}: tensor {name}: expected shape {want}, got {tuple(value.shape)}"
            )
        value = np.asarray(value, dtype=np.float32)
        flat[key] = value.T if transpose else value
    load_flat(model, flat, source=str(folder))
    return model


def decoder_state_dict(model: DecoderRewardModel) -> dict[str, np.ndarray]:
    """The transformers *ForSequenceClassification state dict (float32, LoRA merged in)."""
    flat, scale = to_flat(model), np.float32(model.config.lora_scale)
    out = {}
    for key, value in flat.items():
        if ".lora." in key:
            continue
        prefix = key.removesuffix(".kernel")
        if key.endswith(".kernel") and f"{prefix}.lora.lora_a" in flat:
            value = value + scale * (flat[f"{prefix}.lora.lora_a"] @ flat[f"{prefix}.lora.lora_b"])
        name, transpose = hf_name(key)
        # A writable C-order copy: safetensors writes the raw buffer, whatever its strides.
        out[name] = np.array(value.T if transpose else value, dtype=np.float32, order="C")
    return out
