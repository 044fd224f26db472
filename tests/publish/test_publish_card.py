"""The model card: metadata, model-index with baselines, sections, user templates, and the usage
snippet executed against a real bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from publish_support import eval_metrics, tiny_model_folder, write_eval

from rewardpipe.errors import UserError
from rewardpipe.params import EvaluateParams, ModelParams, PrepareParams, PublishParams
from rewardpipe.publish import build_bundle, card

CONFIG = {
    "model": {"backbone": "transformer", "n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32},
    "lora": {"rank": 0, "merged": True},
    "reward": {"mean": 0.25, "std": 2.0},
    "max_length": 64,
    "tokenizer": {"vocab_size": 300, "input": "[cls] prompt [sep] completion [sep]"},
    "train": {
        "steps": 3,
        "val": {"accuracy": 0.75, "loss": 0.5},
        "params": {"lr": 0.001, "steps": 3},
    },
    "rewardpipe_version": "0.1.0",
    "git_revision": "0123456789abcdef0123456789abcdef01234567",
    "params_hash": "ab" * 32,
}


def options(**overrides: object) -> card.CardOptions:
    base = {"license": "apache-2.0", "model_ref": "alice/tiny-rm", "model_name": "tiny-rm"}
    return card.CardOptions(**{**base, **overrides})


def test_metadata_has_license_tags_datasets_and_base_model() -> None:
    text = card.render_card(
        CONFIG,
        eval_metrics(),
        options(
            tags=["reward-model", "bert"], datasets=["openai/gsm8k"], base_model="org/bert-tiny"
        ),
    )
    data = ModelCard(text).data
    assert data.license == "apache-2.0"
    assert data.tags == ["reward-model", "bert"]
    assert data.datasets == ["openai/gsm8k"]
    assert data.base_model == "org/bert-tiny"


def test_model_index_has_the_metrics_and_the_baselines_beside_them() -> None:
    data = ModelCard(card.render_card(CONFIG, eval_metrics(), options())).data
    (entry,) = data.to_dict()["model-index"]
    assert entry["name"] == "tiny-rm"
    metrics = {m["type"]: m["value"] for r in entry["results"] for m in r["metrics"]}
    assert metrics["pairwise_accuracy"] == 0.625
    assert metrics["auc"] == 0.7
    assert metrics["best_of_n_exact_accuracy"] == 0.75
    assert metrics["weighted_vote_exact_accuracy"] == 0.5
    assert metrics["baseline_majority_vote_exact_accuracy"] == 0.5
    assert metrics["baseline_oracle_exact_accuracy"] == 1.0
    assert metrics["baseline_random_exact_accuracy"] == 0.25


def test_body_sections() -> None:
    text = card.render_card(CONFIG, eval_metrics(), options())
    for heading in (
        "## Usage",
        "## Evaluation",
        "## Training",
        "## Limitations",
        "## How to reproduce",
    ):
        assert heading in text
    # the evaluation table shows the model beside every baseline
    row = next(line for line in text.splitlines() if line.startswith("| exact accuracy"))
    assert row.split("|")[2:9] == [
        " 0.750 ",
        " 0.500 ",
        " 0.250 ",
        " 0.500 ",
        " 0.250 ",
        " 0.000 ",
        " 1.000 ",
    ]
    assert "lr: 0.001" in text  # training params
    assert "git checkout 0123456789abcdef0123456789abcdef01234567" in text
    assert "dvc repro" in text and "ab" * 32 in text
    assert "RewardModel.from_pretrained('alice/tiny-rm')" in text
    assert "reward hacking" in text


def test_card_without_evaluation_or_git() -> None:
    config = {**CONFIG, "git_revision": None}
    text = card.render_card(config, {"n_prompts": 0}, options())
    assert "No evaluation metrics were recorded." in text
    assert "git checkout" not in text and "no revision recorded" in text
    assert "model-index" not in ModelCard(text).data.to_dict()


def test_user_template_gets_the_sections_and_keeps_the_metadata(tmp_path: Path) -> None:
    template = tmp_path / "card.md"
    template.write_text("# {{ model_name }} by us\n\n{{ eval_table }}\n\nrev {{ git_revision }}\n")
    text = card.render_card(CONFIG, eval_metrics(), options(template=str(template)))
    assert text.startswith("---\n")  # metadata header prepended
    assert ModelCard(text).data.license == "apache-2.0"
    assert "# tiny-rm by us" in text and "| exact accuracy | 0.750" in text
    assert "rev 0123456789abcdef" in text


def test_user_template_with_its_own_header(tmp_path: Path) -> None:
    template = tmp_path / "card.md"
    template.write_text("---\n{{ card_data }}\n---\n\nCustom {{ license }}\n")
    text = card.render_card(CONFIG, eval_metrics(), options(template=str(template)))
    assert text.count("---\n") == 2 and "Custom apache-2.0" in text


def test_bad_templates_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"publish\.model_card: .*missing\.md: template file not found"
    ):
        card.render_card(CONFIG, eval_metrics(), options(template=str(tmp_path / "missing.md")))
    broken = tmp_path / "broken.md"
    broken.write_text("line one\n{% if %}\n")
    with pytest.raises(UserError, match=r"broken\.md:2: cannot render"):
        card.render_card(CONFIG, eval_metrics(), options(template=str(broken)))


def test_backbone_licence_and_id_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "hub" / "models--google--bert-tiny" / "snapshots" / "abc"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# BERT\n")
    assert card.backbone_info(folder) == {"base_model": "google/bert-tiny", "license": "mit"}
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "prajjwal1/bert-tiny"}))
    assert card.backbone_info(folder)["base_model"] == "prajjwal1/bert-tiny"
    assert card.backbone_info(None) == {"base_model": None, "license": None}


def test_card_options_from_params(tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n")
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "google/bert-tiny"}))
    opts = card.card_options(
        PublishParams(repo_id="alice/rm", tags=["reward-model"]),
        PrepareParams(source="hub", hub_name="openai/gsm8k"),
        ModelParams(backbone="bert", pretrained=str(folder)),
        EvaluateParams(),
    )
    assert (opts.license, opts.base_model, opts.model_ref) == (
        "mit",
        "google/bert-tiny",
        "alice/rm",
    )
    assert opts.tags == ["reward-model", "bert"] and opts.datasets == ["openai/gsm8k"]
    assert opts.license_note and "mit" in opts.license_note
    plain = card.card_options(PublishParams(), PrepareParams(), ModelParams(), EvaluateParams())
    assert (plain.license, plain.base_model, plain.model_ref) == (
        "apache-2.0",
        None,
        "models/export",
    )
    assert plain.datasets == [] and plain.tags[-1] == "transformer"


def test_usage_snippet_runs_against_the_exported_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    model = tiny_model_folder(tmp_path / "model")
    build_bundle(
        model,
        write_eval(tmp_path / "eval.json"),
        out,
        options(model_ref=str(out)),
        git_revision=None,
        params_sha256=None,
    )
    (snippet,) = card.python_blocks((out / "README.md").read_text(encoding="utf-8"))
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    good, bad = namespace["good"], namespace["bad"]
    scores, rewards = namespace["scores"], namespace["rewards"]
    assert namespace["best"] == (good if scores[0] >= scores[1] else bad)
    assert len(rewards) == 2 and all(isinstance(r, float) for r in rewards)
    reward_model = namespace["model"]
    expected = [(s - reward_model.reward_mean) / reward_model.reward_std for s in scores]
    assert rewards == pytest.approx(expected, abs=1e-5)
    printed = [float(x) for x in capsys.readouterr().out.split()]
    assert printed == pytest.approx(scores, abs=1e-5)
