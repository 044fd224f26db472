"""A model folder: `model.safetensors` + `config.json` + `tokenizer.json` (no pickles).

A decoder backbone's folder is instead a Hugging Face *ForSequenceClassification folder that
transformers loads as is: its config.json is the pretrained one with `architectures`,
`num_labels: 1`, `pad_token_id` and `dtype: float32` set, plus rewardpipe's own record (model
kind and max_len, LoRA, reward mean/std, train record) under the `rewardpipe` key; the weights
are `decoder_state_dict` (LoRA merged, float32; `model.safetensors`, or shards + index above
2 GB); the tokenizer files are copied from the
pretrained folder (tokenizer.json, tokenizer_config.json, any chat template files), the
tokenizer config's `pad_token` naming the pad id's token where it has one.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from rewardpipe.chat_format import PromptFormat
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
from rewardpipe.model.decoder import GEMMA3_DEFAULTS, DecoderRewardModel
from rewardpipe.model.decoder_weights import (
    INDEX,
    decoder_state_dict,
    load_decoder,
    read_hf_json,
    write_weights,
)
from rewardpipe.model.transformer import make_rngs

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
RECORD = "rewardpipe"  # a decoder folder's config.json key holding rewardpipe's own record
# What a decoder folder copies from the pretrained one besides config.json and the weights.
TOKENIZER_FILES = (
    TOKENIZER,
    TOKENIZER_CONFIG,
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_templates",
)
# What `RewardModel.from_pretrained` fetches of a Hub repo (snapshot_download allow_patterns).
# Sharded weights: the index and transformers' shard names.
DOWNLOAD = (
    WEIGHTS,
    INDEX,
    "model-*-of-*.safetensors",
    CONFIG,
    *(f"{f}/*" if "." not in f else f for f in TOKENIZER_FILES),
)
ARCHITECTURES = {
    "llama": "LlamaForSequenceClassification",
    "qwen2": "Qwen2ForSequenceClassification",
    "qwen3": "Qwen3ForSequenceClassification",
    "gemma3_text": "Gemma3TextForSequenceClassification",
}


def save(
    folder: str | Path,
    model: RewardTransformer | DecoderRewardModel,
    tokenizer: Tokenizer | None,
    extra: dict[str, Any],
    *,
    pretrained: str | Path | None = None,
    max_len: int | None = None,
) -> None:
    """Write a loadable folder; LoRA adapters are merged into the base weights first and the
    stored config computes in float32 (what inference wants). A `DecoderRewardModel` needs
    `pretrained` (the Hugging Face folder it was loaded from: config and tokenizer files) and
    `max_len`; `tokenizer` is not used for it."""
    if isinstance(model, DecoderRewardModel):
        if pretrained is None or max_len is None:
            raise ValueError("saving a decoder model needs pretrained= and max_len=")
        _save_decoder(Path(folder), model, Path(pretrained), max_len, extra)
        return
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


def _text_config(pretrained: Path) -> dict[str, Any]:
    hf = read_hf_json(Path(pretrained) / CONFIG)
    if hf.get("model_type") == "gemma3":  # multimodal: the text model is what is trained
        hf = {"model_type": "gemma3_text", **(hf.get("text_config") or {})}
    if hf.get("model_type") == "gemma3_text":  # fields Hub configs leave to the defaults
        hf = {**GEMMA3_DEFAULTS, **hf}
    return hf


def decoder_pad_id(pretrained: str | Path) -> int:
    """The pad id of a decoder folder made from `pretrained` (`PromptFormat.pad_id`: never in
    formatted text, so transformers pools the same last token as the mask does)."""
    hf = _text_config(Path(pretrained))
    preferred, vocab = hf.get("pad_token_id"), hf.get("vocab_size")
    return PromptFormat.from_folder(pretrained).pad_id(
        vocab if isinstance(vocab, int) else 0, preferred if isinstance(preferred, int) else None
    )


def _save_decoder(
    folder: Path, model: DecoderRewardModel, pretrained: Path, max_len: int, extra: dict[str, Any]
) -> None:
    cfg = model.config
    hf = _text_config(pretrained)
    pad = decoder_pad_id(pretrained)
    record = {
        "model": {
            "backbone": "decoder",
            "model_type": cfg.model_type,
            "max_len": max_len,
            "pad_token_id": pad,
        },
        "lora": {
            "rank": cfg.lora_rank,
            "alpha": cfg.lora_alpha,
            "targets": list(cfg.lora_targets),
            "merged": True,
        },
        **extra,
    }
    hf = {k: v for k, v in hf.items() if k not in ("torch_dtype", RECORD, "id2label", "label2id")}
    hf.update(
        architectures=[ARCHITECTURES[cfg.model_type]],
        num_labels=1,
        pad_token_id=pad,
        dtype="float32",
    )
    hf[RECORD] = record
    folder.mkdir(parents=True, exist_ok=True)
    write_weights(folder, decoder_state_dict(model))
    for name in TOKENIZER_FILES:
        src = pretrained / name
        if src.is_dir():
            shutil.copytree(src, folder / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copyfile(src, folder / name)
    _name_pad_token(folder, pad)
    (folder / CONFIG).write_text(json.dumps(hf, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _name_pad_token(folder: Path, pad: int) -> None:
    """Set the copied tokenizer_config.json's `pad_token` to the token of the pad id, so that
    transformers' tokenizer pads with it: without one, TRL's GRPOTrainer pads with EOS and sets
    `pad_token_id` to it, and where the formatted text ends in EOS (Llama 3) transformers would
    pool the token before it. A pad id past the tokenizer's vocabulary has no token to name."""
    path = folder / TOKENIZER_CONFIG
    token = Tokenizer.from_file(str(folder / TOKENIZER)).id_to_token(pad)
    if token is None or not path.is_file():
        return
    config = read_hf_json(path)
    current = config.get("pad_token")
    if (current.get("content") if isinstance(current, dict) else current) == token:
        return
    config["pad_token"] = token
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def is_decoder(config: dict[str, Any]) -> bool:
    """Whether `read_config`'s record is a decoder folder's."""
    return config["model"].get("backbone") == "decoder"


def read_config(folder: str | Path) -> dict[str, Any]:
    """rewardpipe's record of a folder: config.json, or a decoder folder's `rewardpipe` key."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise UserError(
            f"{path}: not found; is {folder} a model folder (run the train stage first)?"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if isinstance(config, dict) and isinstance(config.get(RECORD), dict):
        config = config[RECORD]
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise UserError(f"{path}: model: expected an object with the model architecture")
    return config


def load(
    folder: str | Path,
) -> tuple[RewardTransformer | DecoderRewardModel, Tokenizer | PromptFormat, dict[str, Any]]:
    """Model, tokenizer and the whole config (rewardpipe's record) of a folder written by `save`;
    a decoder folder gives a `DecoderRewardModel` (float32) and its `PromptFormat`."""
    folder = Path(folder)
    config = read_config(folder)
    if is_decoder(config):
        return (
            load_decoder(folder, compute_dtype="float32"),
            PromptFormat.from_folder(folder),
            config,
        )
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
