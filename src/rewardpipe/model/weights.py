"""Model params <-> a flat `{"blocks.0.attn.query.kernel": array}` dict <-> safetensors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from rewardpipe.errors import UserError
from rewardpipe.io import atomic_path
from rewardpipe.model.transformer import RewardTransformer


def _params(model: nnx.Module) -> dict[str, nnx.Variable]:
    """Dotted key -> the model's own Param variable (LoRA params included)."""
    flat = nnx.to_flat_state(nnx.state(model, nnx.Param))
    return {".".join(str(part) for part in path): var for path, var in flat}


def to_flat(model: nnx.Module) -> dict[str, np.ndarray]:
    """Every Param as a float32 numpy array under its dotted path."""
    return {key: np.asarray(var[...], dtype=np.float32) for key, var in _params(model).items()}


def load_flat(model: nnx.Module, flat: dict[str, np.ndarray], *, source: str = "weights") -> None:
    """Set the model's Params from `flat` in place; keys and shapes must match exactly.

    `source` names where `flat` came from (a file path) in error messages.
    """
    params = _params(model)
    missing = sorted(set(params) - set(flat))
    unexpected = sorted(set(flat) - set(params))
    mismatched = [
        f"{key}: expected shape {tuple(params[key].shape)}, got {tuple(np.shape(flat[key]))}"
        for key in sorted(set(params) & set(flat))
        if tuple(params[key].shape) != tuple(np.shape(flat[key]))
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {'; '.join(mismatched)}")
    if problems:
        raise UserError(f"{source}: weights do not fit the model config; " + " | ".join(problems))
    for key, var in params.items():
        var[...] = jnp.asarray(flat[key], dtype=var[...].dtype)


def save_safetensors(
    model: nnx.Module, path: str | Path, *, metadata: dict[str, str] | None = None
) -> None:
    """Write the Params to `path` atomically (temp file in the same folder, then rename)."""
    with atomic_path(path) as tmp:
        save_file(to_flat(model), str(tmp), metadata=metadata)


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file; a missing or corrupt file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: weights file not found")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable safetensors file ({err})") from None


def load_safetensors(model: nnx.Module, path: str | Path) -> None:
    """Set the model's Params from a file written by `save_safetensors`."""
    load_flat(model, read_safetensors(path), source=str(path))


def merge_lora(model: RewardTransformer) -> RewardTransformer:
    """A new model with lora_rank 0 whose kernels are W + scale·A·B (same rewards)."""
    config = model.config
    flat = to_flat(model)
    merged = {}
    for key, value in flat.items():
        if ".lora." in key:
            continue
        prefix = key.removesuffix(".kernel")
        if key.endswith(".kernel") and f"{prefix}.lora.lora_a" in flat:
            a, b = flat[f"{prefix}.lora.lora_a"], flat[f"{prefix}.lora.lora_b"]
            value = value + np.float32(config.lora_scale) * (a @ b)
        merged[key] = value
    plain = RewardTransformer(dataclasses.replace(config, lora_rank=0), rngs=nnx.Rngs(0))
    load_flat(plain, merged)
    return plain
