"""A causal LM over the decoder of `rewardpipe.model.decoder`: its blocks, then the LM head (or
the tied embeddings); loaded from and exported to a Hugging Face *ForCausalLM folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors.numpy import save_file

from rewardpipe.errors import UserError
from rewardpipe.io import atomic_dir
from rewardpipe.model.decoder import DecoderConfig, DecoderRewardModel
from rewardpipe.model.decoder_weights import decoder_state_dict, load_decoder, read_hf_json
from rewardpipe.model.transformer import make_rngs
from rewardpipe.model.weights import read_safetensors
from rewardpipe.model_folder import TOKENIZER_FILES

CAUSAL_LM = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
}
LM_HEAD = "lm_head.weight"


class CausalLM(nnx.Module):
    """tokens int32[B,T], mask bool[B,T] -> logits float32[B,T,V]; `lm_head` None: tied."""

    def __init__(self, decoder: DecoderRewardModel, lm_head: np.ndarray | None):
        self.decoder = decoder
        self.lm_head = None if lm_head is None else nnx.Param(jnp.asarray(lm_head))

    @property
    def config(self) -> DecoderConfig:
        return self.decoder.config

    def __call__(self, tokens: jax.Array, mask: jax.Array) -> jax.Array:
        h = self.decoder.hidden(tokens, mask).astype(jnp.float32)
        w = self.decoder.embed_tokens.embedding[...] if self.lm_head is None else self.lm_head[...]
        return jnp.einsum("btd,vd->btv", h, w.astype(jnp.float32))


def _lm_head(folder: Path) -> np.ndarray | None:
    files = sorted(folder.glob("*.safetensors"))
    for path in files:
        tensors = read_safetensors(path)
        if LM_HEAD in tensors:
            return np.asarray(tensors[LM_HEAD], dtype=np.float32)
    return None


def load_policy(folder: str | Path, **overrides: Any) -> CausalLM:
    """A Hugging Face CausalLM folder (config.json + safetensors): `overrides` set compute_dtype
    and the lora_* fields (LoRA adapters start at B = 0, so the policy starts as the base)."""
    folder = Path(folder)
    hf = read_hf_json(folder / "config.json")
    decoder = load_decoder(folder, **overrides)
    tied = hf.get("tie_word_embeddings", decoder.config.gemma)
    head = None if tied else _lm_head(folder)
    if not tied and head is None:
        raise UserError(f"{folder}: tie_word_embeddings is false but no {LM_HEAD} tensor found")
    return CausalLM(decoder, head)


def random_policy(hf_config: dict[str, Any], seed: int = 0, **overrides: Any) -> CausalLM:
    """A randomly initialised policy for a Hugging Face config dict (tests, smoke runs)."""
    config = DecoderConfig.from_hf(hf_config, **overrides)
    decoder = DecoderRewardModel(config, rngs=make_rngs(seed))
    tied = hf_config.get("tie_word_embeddings", True)
    head = None
    if not tied:
        rng = np.random.default_rng(seed)
        # std 1/sqrt(hidden): logits of order 1 that the adapters can move (a 0.02 head cannot).
        std = config.hidden_size**-0.5
        head = rng.normal(0, std, (config.vocab_size, config.hidden_size)).astype(np.float32)
    return CausalLM(decoder, head)


def state_dict(policy: CausalLM) -> dict[str, np.ndarray]:
    """The transformers *ForCausalLM state dict, float32, LoRA merged."""
    out = {k: v for k, v in decoder_state_dict(policy.decoder).items() if k != "score.weight"}
    if policy.lm_head is not None:
        out[LM_HEAD] = np.array(policy.lm_head[...], dtype=np.float32, order="C")
    return out


def export_policy(
    policy: CausalLM, hf_config: dict[str, Any], out: str | Path, tokenizer_folder: Path | None
) -> None:
    """A folder transformers' AutoModelForCausalLM loads: `hf_config` with the CausalLM
    architecture and float32, the merged weights, and the tokenizer files of `tokenizer_folder`."""
    cfg = policy.config
    hf = {k: v for k, v in hf_config.items() if k not in ("torch_dtype", "rewardpipe")}
    hf.update(
        architectures=[CAUSAL_LM[cfg.model_type]],
        dtype="float32",
        tie_word_embeddings=policy.lm_head is None,
    )
    with atomic_dir(out) as tmp:
        save_file(state_dict(policy), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(hf, indent=2, sort_keys=True) + "\n")
        for name in TOKENIZER_FILES if tokenizer_folder is not None else ():
            src = Path(tokenizer_folder) / name
            if src.is_dir():
                shutil.copytree(src, tmp / name)
            elif src.is_file():
                shutil.copyfile(src, tmp / name)
        gen = Path(tokenizer_folder or "") / "generation_config.json"
        if tokenizer_folder is not None and gen.is_file():
            shutil.copyfile(gen, tmp / gen.name)
