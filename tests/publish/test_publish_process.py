"""Exporting a process reward model: the bundle records objective, separator and the probes'
step scores, and validation checks the step scores too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from publish_support import tiny_model_folder, write_eval

from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.publish import build_bundle, export, validate_bundle
from rewardpipe.publish.card import CardOptions

OPTIONS = CardOptions(license="apache-2.0", model_ref="models/export", model_name="tiny-prm")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("prm-export")
    model = tiny_model_folder(root / "model", seed=4)
    path = model / "config.json"
    path.write_text(
        json.dumps({**json.loads(path.read_text()), "objective": "process", "separator": "<sep>"})
    )
    build_bundle(
        model,
        write_eval(root / "eval.json"),
        root / "export",
        OPTIONS,
        git_revision=None,
        params_sha256=None,
    )
    return root


def test_bundle_records_objective_separator_and_step_probes(built):
    config = json.loads((built / "export" / "config.json").read_text())
    assert config["objective"] == "process" and config["separator"] == "<sep>"
    steps = config["probe"]["step_scores"]
    assert len(steps) == len(export.PROBES) == len(config["probe"]["scores"])
    assert [min(s) for s in steps] == pytest.approx(config["probe"]["scores"], abs=1e-6)
    loaded = RewardModel.from_pretrained(built / "export")
    assert loaded.is_process
    q, sol = export.PROBES[1]
    assert loaded.score_steps(q, sol) == pytest.approx(steps[1], abs=1e-5)


def test_validation_covers_step_scores(built, tmp_path):
    report = validate_bundle(built / "export", built / "model")
    assert "probe_steps" in report["checks"] and report["probe"]["max_abs_diff_steps"] <= 1e-5
    copy = Path(shutil.copytree(built / "export", tmp_path / "export"))
    config = json.loads((copy / "config.json").read_text())
    config["probe"]["step_scores"][0][0] += 0.01
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"probe rewards differ from those recorded \(steps\)"):
        export.validate(copy)
    del config["probe"]["step_scores"]
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"probe\.step_scores: expected the step scores"):
        export.validate(copy)


def test_outcome_bundles_have_no_step_probes(tmp_path):
    model = tiny_model_folder(tmp_path / "model")
    build_bundle(
        model,
        write_eval(tmp_path / "eval.json"),
        tmp_path / "export",
        OPTIONS,
        git_revision=None,
        params_sha256=None,
    )
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert "step_scores" not in config["probe"] and "objective" not in config


def test_model_card_shows_the_process_section(tmp_path):
    from publish_support import eval_metrics, selection

    from rewardpipe.publish.card import render_card

    metrics = eval_metrics()
    metrics["process"] = {
        "aggregate": "min",
        "step_auc": 0.81,
        "processbench": {
            "f1": 0.66,
            "error_accuracy": 0.6,
            "correct_accuracy": 0.733,
            "threshold": 0.42,
        },
        "best_of_n": {how: selection(0.5) for how in ("min", "last", "prod", "mean")},
        "weighted_vote": {how: selection(0.25) for how in ("min", "last", "prod", "mean")},
    }
    text = render_card({"model": {}}, metrics, OPTIONS)
    assert "| ProcessBench F1 | 0.660 |" in text and "| step AUC | 0.810 |" in text
    assert "| min | 0.500 | 0.250 |" in text and "| threshold | 0.420 |" in text
    assert "ProcessBench" not in render_card({"model": {}}, eval_metrics(), OPTIONS)
