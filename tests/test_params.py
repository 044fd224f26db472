"""Tests for typed, validated params (rewardpipe.params)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rewardpipe.errors import UserError
from rewardpipe.params import (
    EvaluateParams,
    GrpoParams,
    ModelParams,
    Params,
    PolicyParams,
    PrepareParams,
    PublishParams,
    SampleParams,
    TrainParams,
    load_params,
    load_section,
    section_from_dict,
    to_dict,
)

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_section_loads_from_the_repo_params_yaml():
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params = load_params(REPO / "params.yaml")
    assert isinstance(params, Params)
    expected = {
        "prepare": PrepareParams,
        "model": ModelParams,
        "train": TrainParams,
        "evaluate": EvaluateParams,
        "publish": PublishParams,
        "policy": PolicyParams,
        "grpo": GrpoParams,
        "sample": SampleParams,
    }
    assert set(raw) == set(expected)
    for name, cls in expected.items():
        section = getattr(params, name)
        assert isinstance(section, cls)
        # Every key written in params.yaml arrives with its value (ints widened to floats).
        as_dict = to_dict(section)
        for key, value in raw[name].items():
            assert as_dict[key] == value, f"{name}.{key}"
        assert load_section(REPO / "params.yaml", name) == section


def test_missing_sections_and_keys_take_the_defaults(tmp_path):
    params = load_params(write(tmp_path, {"train": {"steps": 5}}))
    assert params.train.steps == 5
    assert params.train.lr == TrainParams().lr
    assert params.prepare == PrepareParams()
    assert params.publish == PublishParams()


def test_ints_are_accepted_for_floats(tmp_path):
    path = write(tmp_path, {"train": {"lr": 1, "grad_clip": 2}, "prepare": {"val_fraction": 0}})
    params = load_params(path)
    assert params.train.lr == 1.0 and isinstance(params.train.lr, float)
    assert isinstance(params.train.grad_clip, float)
    assert params.prepare.val_fraction == 0.0 and isinstance(params.prepare.val_fraction, float)
    weights = load_params(write(tmp_path, {"prepare": {"negative_kinds": {"arithmetic": 2}}}))
    assert weights.prepare.negative_kinds == {"arithmetic": 2.0}
    assert isinstance(weights.prepare.negative_kinds["arithmetic"], float)


def test_yaml_1_1_exponent_without_dot_is_read_as_a_float(tmp_path):
    # PyYAML reads `1e-3` (no dot) as a string; a float field must still take it.
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 1e-3\n", encoding="utf-8")
    assert load_params(path).train.lr == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("data", "where", "expected"),
    [
        ({"train": {"lrr": 0.1}}, "params.yaml: train.lrr", "known keys"),
        ({"prepare": {"sorce": "hub"}}, "params.yaml: prepare.sorce", "source"),
        ({"train": {"steps": "many"}}, "params.yaml: train.steps", "expected an integer"),
        ({"train": {"steps": 1.5}}, "params.yaml: train.steps", "expected an integer"),
        ({"train": {"steps": True}}, "params.yaml: train.steps", "expected an integer"),
        ({"train": {"lr": "fast"}}, "params.yaml: train.lr", "expected"),
        ({"train": {"lr": None}}, "params.yaml: train.lr", "expected"),
        ({"publish": {"push": "yes"}}, "params.yaml: publish.push", "expected true or false"),
        ({"prepare": {"split": 0.5}}, "params.yaml: prepare.split", "expected a list"),
        ({"prepare": {"split": ["a", "b", "c"]}}, "params.yaml: prepare.split", "expected"),
        ({"prepare": {"negative_kinds": [1, 2]}}, "params.yaml: prepare.negative_kinds", "mapping"),
        (
            {"prepare": {"negative_kinds": {"arithmetic": "lots"}}},
            "params.yaml: prepare.negative_kinds",
            "expected",
        ),
        ({"prepare": {"path": 3}}, "params.yaml: prepare.path", "expected a string"),
        ({"prepare": {"source": "nope"}}, "params.yaml: prepare.source", "synthetic | hub | local"),
        ({"prepare": {"dataset": "mnist"}}, "params.yaml: prepare.dataset", "gsm8k | preference"),
        ({"train": {"precision": "fp8"}}, "params.yaml: train.precision", "float32 | bfloat16"),
        ({"model": {"backbone": "gpt"}}, "params.yaml: model.backbone", "transformer | bert"),
        ({"model": {"n_heads": 0}}, "params.yaml: model.n_heads", ">= 1"),
        ({"model": {"d_model": 130, "n_heads": 4}}, "params.yaml: model.d_model", "n_heads"),
        ({"prepare": {"val_fraction": 1.5}}, "params.yaml: prepare.val_fraction", "[0, 1)"),
        ({"prepare": {"split": [0.5, 0.5]}}, "params.yaml: prepare.split", "three"),
        ({"prepare": {"source": "local"}}, "params.yaml: prepare.path", "file or folder"),
        ({"prepare": {"dataset": "custom"}}, "params.yaml: prepare.custom_config", "mapping"),
        ({"prepare": {"vocab_size": 10}}, "params.yaml: prepare.vocab_size", ">= 300"),
        ({"prepare": {"max_examples": 0}}, "params.yaml: prepare.max_examples", ">= 1"),
        ({"model": {"backbone": "bert"}}, "params.yaml: model.pretrained", "folder"),
        ({"train": {"batch_size": 0}}, "params.yaml: train.batch_size", ">= 1"),
        ({"evaluate": {"vote_temperature": 0}}, "params.yaml: evaluate.vote_temperature", "> 0"),
        ({"publish": {"push": True}}, "params.yaml: publish.repo_id", "user/name"),
    ],
)
def test_bad_values_name_section_key_and_what_was_expected(tmp_path, data, where, expected):
    with pytest.raises(UserError) as info:
        load_params(write(tmp_path, data))
    message = str(info.value)
    assert message.startswith(where), message
    assert expected in message, message


def test_wrong_type_message_shows_the_value_given(tmp_path):
    with pytest.raises(UserError, match=r"train\.steps: expected an integer, got 'many'"):
        load_params(write(tmp_path, {"train": {"steps": "many"}}))


def test_unknown_section_and_non_mapping_section(tmp_path):
    with pytest.raises(UserError, match="unknown section"):
        load_params(write(tmp_path, {"trian": {"steps": 1}}))
    with pytest.raises(UserError, match=r"params.yaml: train: expected a mapping"):
        load_params(write(tmp_path, {"train": [1, 2]}))


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UserError, match="params file not found"):
        load_params(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n", encoding="utf-8")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected a mapping of sections"):
        load_params(listing)


def test_load_section_reads_only_its_own_section(tmp_path):
    # A bad value in another section does not stop a stage that does not read it.
    path = write(tmp_path, {"prepare": {"seed": 3}, "train": {"steps": "many"}})
    assert load_section(path, "prepare").seed == 3
    with pytest.raises(UserError, match=r"train\.steps"):
        load_section(path, "train")


def test_section_from_dict_returns_frozen_checked_dataclass():
    section = section_from_dict("prepare", {"source": "local", "path": "data/raw"})
    assert section.path == "data/raw"
    with pytest.raises(AttributeError):
        section.path = "elsewhere"  # type: ignore[misc]


def test_params_yaml_holds_exactly_the_dataclass_defaults():
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    assert raw == {name: to_dict(section) for name, section in vars(Params()).items()}


@pytest.mark.parametrize(
    ("section", "data", "message"),
    [
        ("train", {"lr": float("inf")}, "train.lr: expected a finite number"),
        ("train", {"margin": float("nan")}, "train.margin: expected a finite number"),
        ("model", {"dropout": float("-inf")}, "model.dropout: expected a finite number"),
        ("prepare", {"split": [1.0, 0.0, float("nan")]}, "prepare.split[2]: expected a finite"),
        ("prepare", {"split": [0.5, 0.2, 0.2]}, "prepare.split: expected three non-negative"),
        ("prepare", {"negative_kinds": {"final_anwser": 1}}, "unknown kind 'final_anwser'"),
        ("prepare", {"negative_kinds": {"foreign": 0}}, "expected a positive weight"),
    ],
)
def test_non_finite_floats_bad_splits_and_unknown_negative_kinds_fail_at_load(
    section, data, message
):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        section_from_dict(section, data)


def test_yaml_infinity_is_a_param_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: .inf\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"params.yaml: train.lr: expected a finite number"):
        load_section(path, "train")


def test_model_config_is_derived_from_model_params_and_shares_its_checks():
    from rewardpipe.model.config import ModelConfig

    mp = ModelParams(d_model=64, n_heads=2, n_layers=3, d_ff=96, max_len=48, lora_rank=4)
    config = ModelConfig.from_params(mp, vocab_size=300, pad_id=1)
    shared = set(to_dict(mp)) & set(config.to_dict())
    assert {"d_model", "n_layers", "n_heads", "d_ff", "max_len", "lora_rank"} <= shared
    assert all(getattr(config, k) == getattr(mp, k) for k in shared)
    assert ModelConfig().d_model == ModelParams().d_model
    with pytest.raises(UserError, match=r"model config: model.d_model: expected divisible"):
        ModelConfig(d_model=30, n_heads=4)
    with pytest.raises(UserError, match=r"params.yaml: model.d_model: expected divisible"):
        section_from_dict("model", {"d_model": 30, "n_heads": 4})


def test_decoder_backbone_needs_a_hugging_face_folder(tmp_path):
    with pytest.raises(
        UserError, match=r"model\.pretrained: expected a Hub id or a Hugging Face model folder"
    ):
        section_from_dict("model", {"backbone": "decoder"})
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match=r"model\.pretrained: .*missing: tokenizer\.json, tok"):
        section_from_dict("model", {"backbone": "decoder", "pretrained": str(tmp_path)})
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text("{}")
    model = section_from_dict(
        "model", {"backbone": "decoder", "pretrained": str(tmp_path), "lora_targets": ["q_proj"]}
    )
    assert model.lora_targets == ["q_proj"]
    with pytest.raises(UserError, match=r"model\.dropout: expected 0 when backbone is decoder"):
        section_from_dict(
            "model", {"backbone": "decoder", "pretrained": str(tmp_path), "dropout": 0.1}
        )


@pytest.mark.parametrize("targets", [[], ["q_proj", "q_proj"], ["qkv"]])
def test_lora_targets_are_known_distinct_modules(targets):
    with pytest.raises(UserError, match=r"model\.lora_targets: expected a non-empty list"):
        section_from_dict("model", {"lora_targets": targets})


def test_grpo_params_say_what_is_wrong():
    from rewardpipe.errors import UserError

    with pytest.raises(UserError, match=re.escape("grpo.num_generations: expected >= 2")):
        section_from_dict("grpo", {"num_generations": 1})
    with pytest.raises(UserError, match=re.escape("grpo.reward_weights: expected keys from")):
        section_from_dict("grpo", {"reward_weights": {"bogus": 1.0}})
    with pytest.raises(
        UserError, match=re.escape("grpo.reward_model: expected a reward model folder")
    ):
        section_from_dict("grpo", {"reward_weights": {"reward_model": 1.0}})
    with pytest.raises(UserError, match=re.escape("policy.revision")):
        section_from_dict("policy", {"pretrained": "/tmp", "revision": "main"})
    assert section_from_dict("grpo", {"reward_weights": {"digits": 1}}).reward_weights == {
        "digits": 1.0
    }


def test_sample_params_say_what_is_wrong():
    with pytest.raises(UserError, match=re.escape("sample.n: expected an integer >= 1, got 0")):
        section_from_dict("sample", {"n": 0})
    with pytest.raises(UserError, match=re.escape("sample.top_p: expected in (0, 1]")):
        section_from_dict("sample", {"top_p": 0})
    with pytest.raises(UserError, match=re.escape("sample.few_shot: expected an integer >= 0")):
        section_from_dict("sample", {"few_shot": -1})
    with pytest.raises(UserError, match=re.escape("sample.test_questions: expected null or")):
        section_from_dict("sample", {"test_questions": -2})
    with pytest.raises(UserError, match=re.escape("sample.tiny_policy.layers: expected")):
        section_from_dict("sample", {"tiny_policy": {"hidden_size": 8}})
    sp = section_from_dict("sample", {"temperature": 0, "train_questions": None})
    assert sp.temperature == 0.0 and sp.train_questions is None
