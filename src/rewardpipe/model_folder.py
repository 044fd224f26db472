"""A model folder: `model.safetensors` + `config.json` + `tokenizer.json` (no pickles)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from rewardpipe.errors import UserError
from rewardpipe.model import (
    ModelConfig,
    RewardTransformer,
    load_flat,
    load_safetensors,
    merge_lora,
    to_flat,
)
from rewardpipe.model import save_safetensors as _save_weights
from rewardpipe.model.transformer import make_rngs

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"


def save(
    folder: str | Path, model: RewardTransformer, tokenizer: Tokenizer, extra: dict[str, Any]
) -> None:
    """Write a loadable folder; LoRA adapters are merged into the base weights first and the
    stored config computes in float32 (what inference wants)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lora = {"rank": model.config.lora_rank, "alpha": model.config.lora_alpha, "merged": True}
    if model.config.lora_rank:
        model = merge_lora(model)
    if model.config.compute_dtype != "float32":
        plain = RewardTransformer(
            dataclasses.replace(model.config, compute_dtype="float32"), rngs=make_rngs(0)
        )
        load_flat(plain, to_flat(model))
        model = plain
    _save_weights(model, folder / WEIGHTS)
    tokenizer.save(str(folder / TOKENIZER))
    config = {"model": model.config.to_dict(), "lora": lora, **extra}
    (folder / CONFIG).write_text(
        json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def read_config(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise UserError(
            f"{path}: not found; is {folder} a model folder (run the train stage first)?"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise UserError(f"{path}: model: expected an object with the model architecture")
    return config


def load(folder: str | Path) -> tuple[RewardTransformer, Tokenizer, dict[str, Any]]:
    """Model, tokenizer and the whole config of a folder written by `save`."""
    folder = Path(folder)
    config = read_config(folder)
    model_config = ModelConfig.from_dict(config["model"])
    tok_path = folder / TOKENIZER
    if not tok_path.is_file():
        raise UserError(f"{tok_path}: not found")
    try:
        tokenizer = Tokenizer.from_file(str(tok_path))
    except Exception as exc:
        raise UserError(f"{tok_path}: not a valid tokenizers file: {exc}") from exc
    model = RewardTransformer(model_config, rngs=make_rngs(0))
    load_safetensors(model, folder / WEIGHTS)
    return model, tokenizer, config
