"""Decoder bundles: the model folder plus README.md and eval.json, its config.json's
`rewardpipe` record holding the bundle fields; validation, sharded weights (transformers' shards
+ index above `max_shard_bytes`) and transformers parity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from decoder_support import tiny_llama, trained_decoder
from publish_support import write_eval

from rewardpipe import __version__, model_folder
from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.publish import build_bundle, export, validate_bundle
from rewardpipe.publish.card import CardOptions

pytest.importorskip("torch", reason="the tiny Llama checkpoint needs PyTorch")
pytest.importorskip("transformers", reason="the tiny Llama checkpoint needs transformers")

MAX_LEN = 48


OPTIONS = CardOptions(license="apache-2.0", model_ref="models/export", model_name="tiny-rm")


def export_model(root: Path, pretrained: Path, **kwargs: int) -> dict[str, Path]:
    """A trained-like model folder from `pretrained` (LoRA perturbed, so the merge matters) and
    its published bundle (`kwargs` go to `build_bundle`)."""
    record = {"reward": {"mean": 0.5, "std": 2.0}, "train": {"steps": 1}}
    model = root / "model"
    model_folder.save(
        model, trained_decoder(pretrained), None, record, pretrained=pretrained, max_len=MAX_LEN
    )
    evals = write_eval(root / "eval.json")
    digest = export.params_hash({"train": {"steps": 1}})
    build_bundle(
        model, evals, root / "export", OPTIONS, git_revision=None, params_sha256=digest, **kwargs
    )
    return {"model": model, "eval": evals, "export": root / "export"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("decoder-export")
    return export_model(root, tiny_llama(root / "llama"))


@pytest.fixture(scope="module")
def sharded(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same model folder exported with a shard limit of a third of its weights."""
    root = tmp_path_factory.mktemp("decoder-sharded")
    limit = (built["model"] / "model.safetensors").stat().st_size // 3
    digest = export.params_hash({"train": {"steps": 1}})
    out = root / "export"
    build_bundle(
        built["model"],
        built["eval"],
        out,
        OPTIONS,
        git_revision=None,
        params_sha256=digest,
        max_shard_bytes=limit,
    )
    return {**built, "export": out, "single": built["export"], "limit": limit}


def transformers_rewards(folder: Path, ours: RewardModel, pairs: list[tuple[str, str]]) -> Any:
    """`AutoModelForSequenceClassification` (float32) rewards of `pairs` in one right-padded
    batch of rewardpipe's own token ids."""
    import torch
    import transformers

    from rewardpipe.encoding import pad_batch

    prompts, completions = zip(*pairs, strict=True)
    seqs = ours.encoder.encode(list(prompts), list(completions))
    pad = int(ours.config["model"]["pad_token_id"])
    tokens, mask = pad_batch(seqs, MAX_LEN, pad)
    assert (~mask).any(), "the batch should hold padding"
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(folder), local_files_only=True, dtype=torch.float32
    ).eval()
    with torch.no_grad():
        logits = reference(
            input_ids=torch.from_numpy(tokens.astype(np.int64)),
            attention_mask=torch.from_numpy(mask.astype(np.int64)),
        ).logits[:, 0]
    return logits.numpy()


def test_bundle_is_the_model_folder_with_bundle_fields(built: dict[str, Path]) -> None:
    out = built["export"]
    names = {p.name for p in out.iterdir()}
    assert names == {p.name for p in built["model"].iterdir()} | {"README.md", "eval.json"}
    hf = json.loads((out / "config.json").read_text())
    source = json.loads((built["model"] / "config.json").read_text())
    assert {k: v for k, v in hf.items() if k != "rewardpipe"} == {
        k: v for k, v in source.items() if k != "rewardpipe"
    }
    record = hf["rewardpipe"]
    assert record["format"] == export.FORMAT and record["format_version"] == 1
    assert record["reward"] == {"mean": 0.5, "std": 2.0}
    assert record["max_length"] == MAX_LEN and record["rewardpipe_version"] == __version__
    assert record["params_hash"] == export.params_hash({"train": {"steps": 1}})
    assert len(record["probe"]["scores"]) == len(export.PROBES)
    assert {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "eval.json"} <= set(
        record["files"]
    )
    for name in ("model.safetensors", "tokenizer.json"):
        assert (out / name).read_bytes() == (built["model"] / name).read_bytes()
    readme = (out / "README.md").read_text()
    assert "AutoModelForSequenceClassification" in readme and "decoder" in readme


def test_round_trip_validates_and_scores_the_same(built: dict[str, Path]) -> None:
    report = validate_bundle(built["export"], built["model"])
    assert report["probe"]["max_abs_diff_recorded"] <= export.TOLERANCE
    assert report["probe"]["max_abs_diff_in_memory"] <= export.TOLERANCE
    assert "model.safetensors" in report["files"] and "README.md" in report["files"]
    loaded = RewardModel.from_pretrained(built["export"])
    source = RewardModel.from_pretrained(built["model"])
    prompts, completions = zip(*export.PROBES, strict=True)
    np.testing.assert_allclose(
        loaded.score_batch(list(prompts), list(completions)),
        source.score_batch(list(prompts), list(completions)),
        atol=1e-6,
    )


def test_tampered_weights_fail_naming_the_file(built: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(built["export"], tmp_path / "export"))
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-4:] = b"\x00\x00\x80\x3f"
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"model\.safetensors: content changed after export"):
        export.validate(copy)


def test_stray_and_missing_files_fail(built: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(built["export"], tmp_path / "export"))
    (copy / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(UserError, match=r"pytorch_model\.bin: a pickle-format file"):
        export.validate(copy)
    (copy / "pytorch_model.bin").unlink()
    (copy / "eval.json").unlink()
    with pytest.raises(UserError, match=r"eval\.json: missing"):
        export.validate(copy)


def test_wrong_probe_scores_fail(built: dict[str, Path], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(built["export"], tmp_path / "export"))
    hf = json.loads((copy / "config.json").read_text())
    hf["rewardpipe"]["probe"]["scores"][0] += 1.0
    (copy / "config.json").write_text(json.dumps(hf))
    with pytest.raises(UserError, match="probe rewards differ from those recorded"):
        export.validate(copy)


def test_transformers_loads_the_bundle_with_the_same_rewards(built: dict[str, Path]) -> None:
    ours = RewardModel.from_pretrained(built["export"])
    rewards = np.asarray(ours.score_batch(*map(list, zip(*export.PROBES, strict=True))))
    theirs = transformers_rewards(built["export"], ours, list(export.PROBES))
    np.testing.assert_allclose(theirs, rewards, atol=1e-4)


def test_sharded_export_writes_transformers_shards_and_index(sharded: dict[str, Path]) -> None:
    from safetensors.numpy import load_file

    out = sharded["export"]
    assert not (out / "model.safetensors").exists()
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(p.name for p in out.glob("model-*-of-*.safetensors"))
    assert len(shards) >= 2
    assert shards == [
        f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, 1 + len(shards))
    ]
    assert sorted(set(index["weight_map"].values())) == shards
    source = load_file(sharded["model"] / "model.safetensors")
    total = 0
    for shard in shards:
        tensors = load_file(out / shard)
        assert sum(v.nbytes for v in tensors.values()) <= sharded["limit"] or len(tensors) == 1
        for name, value in tensors.items():
            assert index["weight_map"][name] == shard
            np.testing.assert_array_equal(value, source[name])
            total += value.nbytes
    assert set(index["weight_map"]) == set(source)
    assert index["metadata"]["total_size"] == total
    record = json.loads((out / "config.json").read_text())["rewardpipe"]
    assert {"model.safetensors.index.json", *shards} <= set(record["files"])
    assert "model.safetensors" not in record["files"]


def test_sharded_bundle_validates_and_scores_identically(sharded: dict[str, Path]) -> None:
    report = validate_bundle(sharded["export"], sharded["model"])
    assert report["probe"]["max_abs_diff_in_memory"] <= export.TOLERANCE
    assert "model.safetensors.index.json" in report["files"]
    loaded = RewardModel.from_pretrained(sharded["export"])
    single = RewardModel.from_pretrained(sharded["single"])
    np.testing.assert_array_equal(export.probe_scores(loaded), export.probe_scores(single))
    theirs = transformers_rewards(sharded["export"], loaded, list(export.PROBES))
    np.testing.assert_allclose(theirs, export.probe_scores(loaded), atol=1e-4)


def test_a_missing_or_tampered_shard_fails_naming_it(
    sharded: dict[str, Path], tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(sharded["export"], tmp_path / "export"))
    shard = sorted(copy.glob("model-*-of-*.safetensors"))[-1]
    data = bytearray(shard.read_bytes())
    data[-4:] = b"\x00\x00\x80\x3f"
    shard.write_bytes(bytes(data))
    with pytest.raises(UserError, match=rf"{shard.name}: content changed after export"):
        export.validate(copy)
    with pytest.raises(UserError, match=rf"{shard.name}: sha256"):
        RewardModel.from_pretrained(copy)
    shard.unlink()
    with pytest.raises(UserError, match=rf"{shard.name}: missing"):
        export.validate(copy)


def test_an_index_that_disagrees_with_its_shards_fails(
    sharded: dict[str, Path], tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(sharded["export"], tmp_path / "export"))
    path = copy / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    index["metadata"]["total_size"] += 4
    path.write_text(json.dumps(index))
    with pytest.raises(UserError, match=r"index\.json: metadata\.total_size: expected \d+"):
        export.validate(copy)
    index["metadata"]["total_size"] -= 4
    shards = sorted(set(index["weight_map"].values()))
    moved = next(name for name, shard in index["weight_map"].items() if shard == shards[-2])
    index["weight_map"][moved] = shards[-1]  # shards[-2] still holds other tensors
    path.write_text(json.dumps(index))
    with pytest.raises(UserError, match="holds other tensors than"):
        export.validate(copy)


def test_the_shard_limit_is_checked() -> None:
    from rewardpipe.params import PublishParams

    assert PublishParams().max_shard_bytes == 2_000_000_000 == export.MAX_SHARD_BYTES
    with pytest.raises(UserError, match=r"publish\.max_shard_bytes"):
        PublishParams(max_shard_bytes=0).check()


@pytest.mark.parametrize("bundle", ["built", "sharded"])
def test_a_pushed_decoder_bundle_loads_by_repo_id(
    bundle: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Hub serves to `from_pretrained(repo_id)` (the allow_patterns it asks for, applied
    to the files pushed) holds the prompt format too: it scores like the local bundle."""
    import fnmatch

    import huggingface_hub
    import huggingface_hub.constants
    from mock_hub import MockHub

    from rewardpipe.publish import hub

    built = request.getfixturevalue(bundle)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with MockHub("hf_mockTOKEN0123456789") as mock:
        hub.push(built["export"], "alice/rm", token="hf_mockTOKEN0123456789", endpoint=mock.url)
    pushed = mock.state.commits[0].files
    assert "tokenizer_config.json" in pushed
    assert set(pushed) == set(export.decoder_files(built["export"]))

    def fake_snapshot_download(repo_id: str, **kwargs: object) -> str:
        patterns = kwargs["allow_patterns"]
        for name, data in pushed.items():
            if any(fnmatch.fnmatch(name, p) for p in patterns):
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / name).write_bytes(data)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    remote = RewardModel.from_pretrained("alice/rm")
    local = RewardModel.from_pretrained(built["export"])
    np.testing.assert_allclose(export.probe_scores(remote), export.probe_scores(local), atol=1e-6)
