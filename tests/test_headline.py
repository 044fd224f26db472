"""The headline metrics: order, names that no param shares, rates only, the best baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from publish_support import eval_metrics

from rewardpipe import headline

REPO = Path(__file__).resolve().parents[1]


def test_headline_reads_eval_and_the_train_record_in_table_order():
    train = {"steps": 40, "val": {"accuracy": 0.7, "loss": 0.55}, "loss": 0.5}
    shown = headline.headline(eval_metrics(), train)
    assert list(shown) == list(headline.NAMES)
    assert list(shown)[:3] == ["val_accuracy", "pairwise_accuracy", "bon_exact"]
    assert shown == {
        "val_accuracy": 0.7,
        "pairwise_accuracy": 0.625,
        "bon_exact": 0.75,
        "bon_numerical": 0.75,
        "vote_exact": 0.5,
        "auc": 0.7,
        "baseline_exact": 0.5,  # majority vote; the oracle is an upper bound, not a baseline
        "bon_over_baseline": 0.25,
        "length_corr": 0.05,
        "val_loss": 0.55,
        "train_loss": 0.5,
        "steps": 40,
    }


def test_a_process_model_adds_its_step_rates_after_the_rest():
    metrics = eval_metrics()
    assert not set(headline.headline(metrics)) - set(headline.NAMES)  # an outcome model
    metrics["process"] = {
        "step_auc": 0.74,
        "processbench": {"f1": 0.5, "error_accuracy": 0.4, "correct_accuracy": 0.67},
    }
    shown = headline.headline(metrics)
    assert list(shown)[len(headline.NAMES) :] == [n for n, _, _ in headline.PROCESS]
    assert shown["prm_f1"] == 0.5 and shown["prm_first_error"] == 0.4
    assert shown["prm_no_error"] == 0.67 and shown["step_auc"] == 0.74


def test_missing_and_non_finite_figures_are_none():
    metrics = eval_metrics()
    metrics["ranking"]["auc"] = float("nan")
    del metrics["baselines"]
    shown = headline.headline(metrics)
    assert shown["auc"] is None and shown["val_accuracy"] is None and shown["steps"] is None
    assert shown["baseline_exact"] is None and shown["bon_over_baseline"] is None
    assert headline.best_baseline(None) == (None, None)


def test_best_baseline_names_the_strongest_rule():
    metrics = eval_metrics()
    metrics["baselines"]["longest"]["exact_accuracy"]["value"] = 0.6
    assert headline.best_baseline(metrics) == ("longest", 0.6)


@pytest.mark.parametrize("name", headline.NAMES + tuple(n for n, _, _ in headline.PROCESS))
def test_no_headline_name_is_a_param(name):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    flat = {f"{section}.{key}" for section, keys in params.items() for key in keys}
    assert name not in flat and name not in params and "." not in name
