"""Bundle export and validation: round trip, and each kind of broken bundle named precisely."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from publish_support import tiny_model_folder, write_eval

from rewardpipe import __version__, model_folder
from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.publish import build_bundle, export, validate_bundle
from rewardpipe.publish.card import CardOptions

REV = "0123456789abcdef0123456789abcdef01234567"
OPTIONS = CardOptions(license="apache-2.0", model_ref="models/export", model_name="tiny-rm")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    model = tiny_model_folder(root / "model")
    evals = write_eval(root / "eval.json")
    digest = export.params_hash({"train": {"steps": 3}})
    build_bundle(model, evals, root / "export", OPTIONS, git_revision=REV, params_sha256=digest)
    return {"model": model, "eval": evals, "export": root / "export", "root": root}


@pytest.fixture
def copy(built: dict[str, Path], tmp_path: Path) -> Path:
    """A scratch copy of the exported bundle to break."""
    return Path(shutil.copytree(built["export"], tmp_path / "export"))


def test_bundle_holds_exactly_the_five_files(built: dict[str, Path]) -> None:
    names = sorted(p.name for p in built["export"].iterdir())
    assert names == sorted(export.FILES)
    assert not list(built["root"].glob(".*"))  # no temp folders left beside it


def test_round_trip_gives_the_same_scores(built: dict[str, Path]) -> None:
    source = RewardModel.from_pretrained(built["model"])
    loaded = RewardModel.from_pretrained(built["export"])
    prompts = [p for p, _ in export.PROBES] + ["What is 2 + 2?"]
    completions = [c for _, c in export.PROBES] + ["2 + 2 = 4\n#### 4"]
    np.testing.assert_allclose(
        loaded.score_batch(prompts, completions),
        source.score_batch(prompts, completions),
        atol=1e-5,
    )
    config = json.loads((built["export"] / "config.json").read_text())
    np.testing.assert_allclose(config["probe"]["scores"], export.probe_scores(loaded), atol=1e-6)


def test_config_records_what_the_issue_asks(built: dict[str, Path]) -> None:
    config = model_folder.read_config(built["export"])
    assert config["format"] == export.FORMAT and config["format_version"] == 1
    assert config["model"]["lora_rank"] == 0 and config["lora"]["merged"] is True
    assert config["max_length"] == config["model"]["max_len"] == 64
    assert config["reward"] == {"mean": 0.25, "std": 2.0}
    assert config["tokenizer"]["file"] == "tokenizer.json"
    assert config["tokenizer"]["vocab_size"] == config["model"]["vocab_size"]
    assert config["rewardpipe_version"] == __version__
    assert config["git_revision"] == REV
    assert config["params_hash"] == export.params_hash({"train": {"steps": 3}})
    assert config["train"]["steps"] == 3  # the train stage's record is kept
    assert set(config["files"]) == set(export.HASHED)
    # eval.json is the evaluate stage's metrics, unchanged
    assert json.loads((built["export"] / "eval.json").read_text()) == json.loads(
        built["eval"].read_text()
    )


def test_params_hash_is_canonical_and_sensitive() -> None:
    a = export.params_hash({"train": {"lr": 0.001, "steps": 3}, "model": {"d_model": 16}})
    b = export.params_hash({"model": {"d_model": 16}, "train": {"steps": 3, "lr": 0.001}})
    c = export.params_hash({"model": {"d_model": 16}, "train": {"steps": 4, "lr": 0.001}})
    assert a == b != c and len(a) == 64


def test_validate_passes_on_the_export(built: dict[str, Path]) -> None:
    report = validate_bundle(built["export"], built["model"])
    assert report["checks"] == ["files", "parse", "config_schema", "hashes", "weights", "probe"]
    assert report["probe"]["max_abs_diff_in_memory"] <= export.TOLERANCE
    assert report["probe"]["max_abs_diff_recorded"] <= export.TOLERANCE
    assert set(report["files"]) == set(export.FILES)


def _edit_config(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def _set(path: str, value: object) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return change


@pytest.mark.parametrize("name", export.FILES)
def test_a_missing_file_is_named(copy: Path, name: str) -> None:
    (copy / name).unlink()
    with pytest.raises(UserError, match=rf"{name}: missing"):
        export.validate(copy)


def test_truncated_safetensors_is_named(copy: Path) -> None:
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UserError, match=r"model\.safetensors: not a readable safetensors file"):
        export.validate(copy)


def test_flipped_bytes_in_the_weights_are_caught(copy: Path) -> None:
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100:-96] = b"\x00\x00\xc0\x7f"  # a float32 NaN inside the tensor data
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"model\.safetensors: content changed after export"):
        export.validate(copy)


def test_weights_that_change_with_matching_hashes_fail_the_probe(copy: Path) -> None:
    """A different model saved in place (hashes re-recorded): only the probe can tell."""
    other = tiny_model_folder(copy.parent / "other", seed=1)
    shutil.copy(other / "model.safetensors", copy / "model.safetensors")
    info = export.file_info(copy / "model.safetensors")
    _edit_config(copy, lambda c: c["files"].__setitem__("model.safetensors", info))
    with pytest.raises(
        UserError, match=r"model\.safetensors: probe rewards differ from those recorded"
    ):
        export.validate(copy)


def test_in_memory_model_mismatch_is_named(copy: Path, built: dict[str, Path]) -> None:
    other = tiny_model_folder(copy.parent / "other", seed=1)
    with pytest.raises(UserError, match="differ from those of the in-memory model"):
        export.validate(copy, RewardModel.from_pretrained(other))


def test_lora_adapters_are_merged_into_the_export_and_flagged(tmp_path: Path) -> None:
    import dataclasses

    from safetensors.numpy import load_file

    from rewardpipe.model import build_model, load_flat, to_flat

    base, tokenizer, config = model_folder.load(tiny_model_folder(tmp_path / "base"))
    model = build_model(dataclasses.replace(base.config, lora_rank=2, lora_alpha=4.0), seed=1)
    flat = to_flat(model)
    rng = np.random.default_rng(0)
    for key in flat:  # a trained adapter: B is no longer zero, so merging changes the kernels
        if key.endswith("lora.lora_b"):
            flat[key] = rng.normal(0, 0.5, flat[key].shape).astype(np.float32)
    load_flat(model, flat)
    adapted = RewardModel(model, tokenizer, config)
    prompts, completions = [p for p, _ in export.PROBES], [c for _, c in export.PROBES]
    extra = {k: config[k] for k in ("reward", "train")}
    model_folder.save(tmp_path / "model", model, tokenizer, extra)
    build_bundle(
        tmp_path / "model",
        write_eval(tmp_path / "eval.json"),
        tmp_path / "export",
        OPTIONS,
        git_revision=REV,
        params_sha256=export.params_hash({}),
    )

    exported = model_folder.read_config(tmp_path / "export")
    assert exported["lora"] == {"rank": 2, "alpha": 4.0, "merged": True}
    assert exported["model"]["lora_rank"] == 0
    assert not [k for k in load_file(tmp_path / "export" / "model.safetensors") if "lora" in k]
    scores = adapted.score_batch(prompts, completions)
    assert np.ptp(scores) > 0
    np.testing.assert_allclose(
        RewardModel.from_pretrained(tmp_path / "export").score_batch(prompts, completions),
        scores,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("model.d_model", 32), r"model\.safetensors: weights do not fit the model config"),
        (_set("model.n_layers", 2), r"model\.safetensors: weights do not fit the model config"),
        (_set("model.hidden", 3), r"config\.json: model config: unknown key"),
        (
            _set("tokenizer.vocab_size", 7),
            r"tokenizer\.json: vocabulary of \d+ tokens, but .*config\.json",
        ),
        (_set("max_length", 128), r"config\.json: max_length: expected model\.max_len \(64\)"),
        (_set("reward.std", 0), r"config\.json: reward\.std: expected a finite number > 0"),
        (_set("format", "other"), r"config\.json: format"),
        (_set("git_revision", "HEAD"), r"config\.json: git_revision"),
        (_set("probe.scores", [0.0]), r"config\.json: probe\.scores"),
        (_set("model.lora_rank", 4), r"config\.json: model\.lora_rank: expected 0"),
        (lambda c: c.pop("files"), r"config\.json: files"),
    ],
)
def test_config_mismatch_is_named(copy: Path, change: Callable[[dict], None], message: str) -> None:
    _edit_config(copy, change)
    with pytest.raises(UserError, match=message):
        export.validate(copy)


def test_probe_scores_tampered_in_config_fail(copy: Path) -> None:
    _edit_config(
        copy, lambda c: c["probe"]["scores"].__setitem__(0, c["probe"]["scores"][0] + 0.01)
    )
    with pytest.raises(UserError, match=r"probe 0: .*tolerance 1e-05"):
        export.validate(copy)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("config.json", "{not json", r"config\.json:1: not valid JSON"),
        ("eval.json", "[]", r"eval\.json: expected a non-empty JSON object"),
        ("tokenizer.json", '{"nope": 1}', r"tokenizer\.json: not a valid tokenizers file"),
        (
            "README.md",
            "---\nlicense: [unclosed\n---\n# card\n",
            r"README\.md: invalid model card metadata",
        ),
        ("README.md", "---\ntags: [a]\n---\n# card\n", r"README\.md: metadata: license"),
    ],
)
def test_unparseable_files_are_named(copy: Path, name: str, content: str, message: str) -> None:
    (copy / name).write_text(content)
    with pytest.raises(UserError, match=message):
        export.validate(copy)


@pytest.mark.parametrize(
    ("name", "message"),
    [("pytorch_model.bin", "a pickle-format file"), ("notes.txt", "unexpected file")],
)
def test_stray_files_are_refused(copy: Path, name: str, message: str) -> None:
    (copy / name).write_bytes(b"x")
    (copy / ".gitattributes").write_text("*.safetensors filter=lfs\n")  # hidden: ignored
    with pytest.raises(UserError, match=rf"{name}: {message}"):
        export.validate(copy)


def test_failed_validation_keeps_the_previous_bundle(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Path(shutil.copytree(built["export"], tmp_path / "export"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(folder: Path, reference: object = None) -> dict:
        raise UserError(f"{folder}/model.safetensors: broken")

    monkeypatch.setattr(export, "validate", fail)
    with pytest.raises(UserError, match="broken"):
        build_bundle(
            built["model"], built["eval"], out, OPTIONS, git_revision=None, params_sha256=None
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # temp folder removed


def test_a_failed_check_during_export_names_the_final_folder(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    no_licence = CardOptions(license="", model_ref="models/export", model_name="tiny-rm")
    with pytest.raises(UserError) as info:
        build_bundle(
            built["model"], built["eval"], Path("models/export"), no_licence,
            git_revision=None, params_sha256=None,
        )  # fmt: skip
    message = str(info.value)
    assert message.startswith("models/export/README.md: metadata: license"), message
    assert ".tmp" not in message
    assert os.listdir(tmp_path) == []


def test_build_rejects_a_bad_eval_file(built: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "eval.json"
    bad.write_text("[1, 2]")
    with pytest.raises(UserError, match=r"eval\.json: expected the evaluate stage's metrics"):
        build_bundle(
            built["model"], bad, tmp_path / "out", OPTIONS, git_revision=None, params_sha256=None
        )
    assert not (tmp_path / "out").exists()
