"""Writing weights as transformers does: one file within the limit, else shards + an index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from rewardpipe.errors import UserError
from rewardpipe.model.decoder_weights import read_checkpoint, weight_files, write_weights
from rewardpipe.publish.export import _write_decoder_weights

TENSORS = {
    "model.embed_tokens.weight": np.arange(40, dtype=np.float32).reshape(10, 4),  # 160 bytes
    "model.layers.0.mlp.up_proj.weight": np.ones((4, 4), np.float32),  # 64
    "model.layers.0.mlp.down_proj.weight": np.full((4, 4), 2.0, np.float32),  # 64
    "model.norm.weight": np.ones(4, np.float32),  # 16
    "score.weight": np.full((1, 4), 0.5, np.float32),  # 16
}


def test_within_the_limit_is_one_file(tmp_path: Path) -> None:
    assert write_weights(tmp_path, TENSORS, max_shard_bytes=320) == ["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    assert weight_files(tmp_path) == ["model.safetensors"]


def test_above_the_limit_shards_in_order_with_an_index(tmp_path: Path) -> None:
    names = write_weights(tmp_path, TENSORS, max_shard_bytes=100)
    shards = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert names == ["model.safetensors.index.json", *shards]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no temp files left
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"] == {"total_size": 320}
    # The 160-byte embedding is alone (larger than the limit); then 64 + 16 + 16 fit one shard.
    assert index["weight_map"] == {
        "model.embed_tokens.weight": shards[0],
        "model.layers.0.mlp.up_proj.weight": shards[1],
        "model.layers.0.mlp.down_proj.weight": shards[2],
        "model.norm.weight": shards[2],
        "score.weight": shards[2],
    }
    assert weight_files(tmp_path) == names
    loaded = {name: value for name, (value, _) in read_checkpoint(tmp_path).items()}
    assert sorted(loaded) == sorted(TENSORS)
    for name, value in TENSORS.items():
        np.testing.assert_array_equal(loaded[name], value)
    assert load_file(tmp_path / shards[2]).keys() == {
        "model.layers.0.mlp.down_proj.weight",
        "model.norm.weight",
        "score.weight",
    }


def test_a_sharded_model_folder_exports_as_one_file_within_the_limit(tmp_path: Path) -> None:
    write_weights(tmp_path / "model", TENSORS, max_shard_bytes=100)
    (tmp_path / "out").mkdir()
    _write_decoder_weights(tmp_path / "out", tmp_path / "model", 10_000)
    assert weight_files(tmp_path / "out") == ["model.safetensors"]
    tensors = load_file(tmp_path / "out" / "model.safetensors")
    assert sorted(tensors) == sorted(TENSORS)


def test_a_bad_index_names_the_field(tmp_path: Path) -> None:
    write_weights(tmp_path, TENSORS, max_shard_bytes=100)
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"score.weight": "../elsewhere.safetensors"}}))
    with pytest.raises(
        UserError, match=r"index\.json: weight_map\.score\.weight: expected a shard"
    ):
        weight_files(tmp_path)
    with pytest.raises(ValueError, match="max_shard_bytes"):
        write_weights(tmp_path, TENSORS, max_shard_bytes=0)
