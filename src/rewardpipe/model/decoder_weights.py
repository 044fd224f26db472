"""Hugging Face decoder checkpoints <-> `DecoderRewardModel` (names, transposes, shards, LoRA)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from rewardpipe.errors import UserError
from rewardpipe.io import atomic_path, read_json
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


WEIGHTS, INDEX = "model.safetensors", "model.safetensors.index.json"
MAX_SHARD_BYTES = 2_000_000_000  # transformers' "2GB": larger weights go to shards + an index


def shard_name(i: int, n: int) -> str:
    """transformers' name of shard `i` (1-based) of `n`."""
    return f"model-{i:05d}-of-{n:05d}.safetensors"


def read_hf_json(path: Path) -> dict[str, Any]:
    """A Hugging Face folder's config.json or weight index: a JSON object."""
    if not path.is_file():
        raise UserError(f"{path}: not found (expected a Hugging Face model folder)")
    data = read_json(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def weight_map(folder: Path) -> dict[str, str]:
    """A sharded folder's index: tensor name -> shard file (a plain file name beside it)."""
    index = folder / INDEX
    mapping = read_hf_json(index).get("weight_map")
    if not isinstance(mapping, dict) or not mapping:
        raise UserError(f"{index}: weight_map: expected an object of tensor -> shard file")
    for name, shard in mapping.items():
        if not isinstance(shard, str) or Path(shard).name != shard or shard.startswith("."):
            raise UserError(
                f"{index}: weight_map.{name}: expected a shard file name, got {shard!r}"
            )
    return mapping


def weight_files(folder: Path) -> list[str]:
    """The weight files of a folder: `model.safetensors`, else the index and its shards (in
    order); [] when there are neither."""
    if (folder / WEIGHTS).is_file():
        return [WEIGHTS]
    if (folder / INDEX).is_file():
        return [INDEX, *sorted(set(weight_map(folder).values()))]
    return []


def read_checkpoint(folder: Path) -> dict[str, tuple[np.ndarray, Path]]:
    """Canonical tensor name -> (array, file it came from), from one file or an index + shards."""
    names = weight_files(folder)
    if not names:
        raise UserError(f"{folder}: neither {WEIGHTS} nor {INDEX} found")
    tensors: dict[str, tuple[np.ndarray, Path]] = {}
    for path in (folder / name for name in names if name != INDEX):
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
    where = folder / (weight_files(folder) or [WEIGHTS])[0]
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


def write_weights(
    folder: Path,
    tensors: dict[str, np.ndarray],
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    metadata: dict[str, str] | None = None,
) -> list[str]:
    """Write `tensors` into `folder` as transformers does: one `model.safetensors` when they
    total at most `max_shard_bytes`, else shards of at most that size (a larger tensor alone in
    one) plus `model.safetensors.index.json` ({metadata: {total_size}, weight_map}). Each file
    is written to a temp file, then renamed; returns the names written."""
    if max_shard_bytes < 1:
        raise ValueError(f"max_shard_bytes: expected an integer >= 1, got {max_shard_bytes}")
    metadata = {"format": "pt", **(metadata or {})}
    total = sum(int(v.nbytes) for v in tensors.values())
    if total <= max_shard_bytes:
        with atomic_path(folder / WEIGHTS) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
        return [WEIGHTS]
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name, value in tensors.items():
        if shards[-1] and size + value.nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = value
        size += int(value.nbytes)
    names = [shard_name(i, len(shards)) for i in range(1, len(shards) + 1)]
    for name, shard in zip(names, shards, strict=True):
        with atomic_path(folder / name) as tmp:
            save_file(shard, str(tmp), metadata=metadata)
    index = {
        "metadata": {"total_size": total},
        "weight_map": {t: name for name, shard in zip(names, shards, strict=True) for t in shard},
    }
    with atomic_path(folder / INDEX) as tmp:
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [INDEX, *names]
