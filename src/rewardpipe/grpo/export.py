"""The trained policy as a folder transformers' AutoModelForCausalLM loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from safetensors.numpy import save_file

from rewardpipe.io import atomic_dir
from rewardpipe.model_folder import TOKENIZER_FILES
from rewardpipe.policy import PolicyLM, policy_state_dict

CAUSAL_LM = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
}


def export_policy(
    policy: PolicyLM, hf_config: dict[str, Any], out: str | Path, tokenizer_folder: Path | None
) -> None:
    """`hf_config` with the CausalLM architecture and float32, the merged weights
    (`policy_state_dict`), and the tokenizer files (+ generation_config.json) of
    `tokenizer_folder`."""
    cfg = policy.config
    hf = {k: v for k, v in hf_config.items() if k not in ("torch_dtype", "rewardpipe")}
    hf.update(
        architectures=[CAUSAL_LM[cfg.model_type]],
        dtype="float32",
        tie_word_embeddings=policy.lm_head is None,
    )
    with atomic_dir(out) as tmp:
        save_file(
            policy_state_dict(policy), str(tmp / "model.safetensors"), metadata={"format": "pt"}
        )
        (tmp / "config.json").write_text(json.dumps(hf, indent=2, sort_keys=True) + "\n")
        if tokenizer_folder is None:
            return
        for name in (*TOKENIZER_FILES, "generation_config.json"):
            src = Path(tokenizer_folder) / name
            if src.is_dir():
                shutil.copytree(src, tmp / name)
            elif src.is_file():
                shutil.copyfile(src, tmp / name)
