"""A decoder model folder is a transformers *ForSequenceClassification folder with the same
rewards as `RewardModel.from_pretrained(...).score_batch`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from decoder_support import tiny_llama, trained_decoder
from flax import nnx

from rewardpipe import model_folder
from rewardpipe.encoding import pad_batch
from rewardpipe.inference import RewardModel
from rewardpipe.model import trainable_filter

torch = pytest.importorskip("torch", reason="parity tests need PyTorch")
transformers = pytest.importorskip("transformers", reason="parity tests need transformers")

PAIRS = [
    ("What is 2 + 3?", "2 + 3 = 5. #### 5"),
    ("Natalia sold 48 clips.\nHow many?", "48 / 2 = 24\n#### 72"),
    ("Ünïcödé — “quotes”", "日本語 🙂 ok " * 12),  # truncated at MAX_LEN
    ("", ""),
]
MAX_LEN = 48


@pytest.mark.parametrize("template", [True, False], ids=["chat-template", "fallback"])
def test_folder_loads_in_transformers_with_the_same_rewards(tmp_path: Path, template: bool):
    pretrained = tiny_llama(tmp_path / "llama", template=template)
    model = trained_decoder(pretrained)
    out = tmp_path / "model"
    record = {"reward": {"mean": 0.5, "std": 2.0}, "train": {"steps": 1}}
    model_folder.save(out, model, None, record, pretrained=pretrained, max_len=MAX_LEN)

    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert config["num_labels"] == 1 and config["dtype"] == "float32"
    assert config["rewardpipe"]["model"] == {
        "backbone": "decoder",
        "model_type": "llama",
        "max_len": MAX_LEN,
        "pad_token_id": config["pad_token_id"],
    }
    assert config["rewardpipe"]["lora"]["merged"] is True
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    }  # fmt: skip

    ours = RewardModel.from_pretrained(out)
    assert ours.reward_mean == 0.5 and ours.reward_std == 2.0
    prompts, solutions = [q for q, _ in PAIRS], [s for _, s in PAIRS]
    rewards = np.asarray(ours.score_batch(prompts, solutions))

    # The in-memory LoRA model (unmerged) gives the same rewards as the saved folder.
    seqs = ours.encoder.encode(prompts, solutions)
    pad = config["pad_token_id"]
    assert all(pad not in s for s in seqs) and max(len(s) for s in seqs) == MAX_LEN
    tokens, mask = pad_batch(seqs, MAX_LEN, pad)
    np.testing.assert_allclose(np.asarray(model(tokens, mask)), rewards, atol=1e-5)

    # transformers: its own tokenizer and chat template, its last-non-pad pooling.
    tok = transformers.AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    ids = []
    for (q, s), seq in zip(PAIRS, seqs, strict=True):
        if template:
            chat = [{"role": "user", "content": q}, {"role": "assistant", "content": s}]
            text = tok.apply_chat_template(chat, tokenize=False)
            row = tok(text, add_special_tokens=False)["input_ids"]
        else:
            row = tok(q + "\n\n" + s + tok.eos_token)["input_ids"]
        if len(row) > MAX_LEN:
            row = [*row[: MAX_LEN - 1], row[-1]]
        assert row == seq.tolist()
        ids.append(row)
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(out), local_files_only=True, dtype=torch.float32
    ).eval()
    assert reference.config.pad_token_id == pad
    tokens, mask = pad_batch([np.asarray(r) for r in ids], MAX_LEN, pad)
    with torch.no_grad():
        logits = reference(
            input_ids=torch.from_numpy(tokens.astype(np.int64)),
            attention_mask=torch.from_numpy(mask.astype(np.int64)),
        ).logits[:, 0]
    np.testing.assert_allclose(logits.numpy(), rewards, atol=1e-4)


def test_lora_trains_adapters_and_score_only(tmp_path: Path) -> None:
    model = trained_decoder(tiny_llama(tmp_path / "llama"))
    state = nnx.state(model, trainable_filter(model.config))
    names = {".".join(map(str, path)) for path, _ in nnx.to_flat_state(state)}
    assert names and all(".lora." in n or n.startswith("score.") for n in names)
    assert "score.kernel" in names
