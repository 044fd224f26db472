"""Decoder bundles: the model folder plus README.md and eval.json, its config.json's
`rewardpipe` record holding the bundle fields; validation and transformers parity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("decoder-export")
    pretrained = tiny_llama(root / "llama")
    record = {"reward": {"mean": 0.5, "std": 2.0}, "train": {"steps": 1}}
    model = root / "model"
    model_folder.save(
        model, trained_decoder(pretrained), None, record, pretrained=pretrained, max_len=MAX_LEN
    )
    evals = write_eval(root / "eval.json")
    digest = export.params_hash({"train": {"steps": 1}})
    build_bundle(model, evals, root / "export", OPTIONS, git_revision=None, params_sha256=digest)
    return {"model": model, "eval": evals, "export": root / "export"}


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
    import torch
    import transformers

    from rewardpipe.encoding import pad_batch

    ours = RewardModel.from_pretrained(built["export"])
    prompts, completions = zip(*export.PROBES, strict=True)
    rewards = np.asarray(ours.score_batch(list(prompts), list(completions)))
    seqs = ours.encoder.encode(list(prompts), list(completions))
    pad = int(ours.config["model"]["pad_token_id"])
    tokens, mask = pad_batch(seqs, MAX_LEN, pad)
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(built["export"]), local_files_only=True, dtype=torch.float32
    ).eval()
    with torch.no_grad():
        logits = reference(
            input_ids=torch.from_numpy(tokens.astype(np.int64)),
            attention_mask=torch.from_numpy(mask.astype(np.int64)),
        ).logits[:, 0]
    np.testing.assert_allclose(logits.numpy(), rewards, atol=1e-4)


def test_a_pushed_decoder_bundle_loads_by_repo_id(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Hub serves to `from_pretrained(repo_id)` (the allow_patterns it asks for, applied
    to the files pushed) holds the prompt format too: it scores like the local bundle."""
    import fnmatch

    import huggingface_hub
    import huggingface_hub.constants
    from mock_hub import MockHub

    from rewardpipe.publish import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with MockHub("hf_mockTOKEN0123456789") as mock:
        hub.push(built["export"], "alice/rm", token="hf_mockTOKEN0123456789", endpoint=mock.url)
    pushed = mock.state.commits[0].files
    assert "tokenizer_config.json" in pushed

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
