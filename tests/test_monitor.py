"""The terminal dashboard: dvclive curves, `dvc exp show` parsing, tables, plots and export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rewardpipe import monitor as mon
from rewardpipe.errors import UserError

FIX = Path(__file__).parent / "fixtures" / "monitor"


@pytest.fixture(scope="module")
def experiments() -> list[mon.Experiment]:
    return mon.parse_exp_show(json.loads((FIX / "exp_show.json").read_text()))


@pytest.fixture(scope="module")
def curves() -> mon.Curves:
    return mon.read_curves(FIX / "train")


def test_parse_tsv_reads_step_and_value_columns():
    assert mon.parse_tsv("step\tloss\n3\t0.7\n6\t0.5\n", "x.tsv") == [(3.0, 0.7), (6.0, 0.5)]
    # dvclive may add a timestamp column: it is not the value
    assert mon.parse_tsv("timestamp\tstep\tacc\n99\t1\t0.25\n", "x.tsv") == [(1.0, 0.25)]


def test_parse_tsv_names_file_and_line_of_a_bad_row():
    with pytest.raises(UserError, match=r"x\.tsv:3: expected numbers in step and loss"):
        mon.parse_tsv("step\tloss\n1\t0.5\n2\tnan-ish\n", "x.tsv")
    with pytest.raises(UserError, match="columns step and one metric"):
        mon.parse_tsv("a\tb\n1\t2\n", "x.tsv")


def test_read_curves_names_curves_by_their_path(curves):
    assert sorted(curves) == [
        "train/accuracy", "train/grad_norm", "train/loss", "train/lr", "train/margin",
        "train/reward_mean", "train/reward_std", "val/accuracy", "val/loss", "val/margin",
    ]  # fmt: skip
    assert curves["val/accuracy"][0] == (6.0, 0.5)
    assert [s for s, _ in curves["train/loss"]] == [3, 6, 9, 12, 15, 18]


def test_summarize_gives_final_min_max_mean(curves):
    stats = mon.summarize(curves)["train/loss"]
    values = [v for _, v in curves["train/loss"]]
    assert stats.final == values[-1] == pytest.approx(0.6942981084187826)
    assert stats.min == min(values) == pytest.approx(0.6918015480041504)
    assert stats.max == pytest.approx(0.7052060763041178)
    assert stats.mean == pytest.approx(sum(values) / 6)
    assert (stats.points, stats.last_step) == (6, 18)
    assert "empty" not in mon.summarize({"empty": [], "x": [(1, 2.0)]})


def test_parse_exp_show_lists_workspace_baseline_and_experiments(experiments):
    assert [e.name for e in experiments] == ["workspace", "master", "exp-d", "exp-c"]
    assert (experiments[0].rev, experiments[0].baseline) == ("workspace", "workspace")
    exp_d = experiments[2]
    assert exp_d.baseline == "master" and exp_d.rev.startswith("a96ccfd")
    assert exp_d.params["train.lr"] == 0.01 and exp_d.params["train.steps"] == 18
    assert exp_d.metrics["pairwise_accuracy"] == pytest.approx(0.4722222222222222)
    assert exp_d.metrics["val_accuracy"] == pytest.approx(0.7142857313156128)
    assert exp_d.metrics["steps"] == 18 and isinstance(exp_d.metrics["steps"], int)
    assert set(exp_d.metrics) == set(mon.HEADLINE)  # the headline files are all DVC shows
    # the baseline commit recorded no metrics files: errors are skipped, not raised
    assert experiments[1].metrics == {}


def test_find_experiments_by_name_or_rev_prefix(experiments):
    assert [e.name for e in mon.find_experiments(experiments, ["exp-c", "a96ccf"])] == [
        "exp-c",
        "exp-d",
    ]
    with pytest.raises(UserError, match=r"unknown run\(s\) nope; runs in `dvc exp show`: exp-c"):
        mon.find_experiments(experiments, ["nope"])


def test_compare_table_shows_changed_params_and_headline_metrics(experiments):
    exps = mon.find_experiments(experiments, ["exp-c", "exp-d"])
    assert mon.varying_params(exps) == ["train.lr", "train.steps"]
    lines = mon.compare_table(exps).splitlines()
    header = lines[0].split()
    assert header[:4] == ["run", "rev", "train.lr", "train.steps"]
    assert header[4:] == list(mon.HEADLINE)  # the same headline as `dvc exp show`
    row_c = dict(zip(header, lines[2].split(), strict=True))
    row_d = dict(zip(header, lines[3].split(), strict=True))
    assert (
        row_c["run"] == "exp-c" and row_c["train.lr"] == "0.0020" and row_c["train.steps"] == "12"
    )
    assert row_d["pairwise_accuracy"] == "0.4722" and row_c["pairwise_accuracy"] == "0.5139"


def test_plot_curves_draws_every_run_with_a_legend(curves):
    one = mon.plot_curves({"exp-d": curves["val/accuracy"]}, "val/accuracy", width=60, height=12)
    assert "val/accuracy" in one and "exp-d" not in one  # a single run needs no legend
    assert "0.71" in one and "\x1b[" not in one  # y ticks, no colour codes
    shifted = [(s, v - 0.2) for s, v in curves["val/accuracy"]]
    two = mon.plot_curves(
        {"exp-c": shifted, "exp-d": curves["val/accuracy"]}, "val/accuracy", 60, 12
    )
    assert "exp-c" in two and "exp-d" in two
    assert len(one.splitlines()) == len(two.splitlines()) == 12


def test_plot_names_defaults_and_rejects_unknown(curves):
    assert mon.plot_names(curves, None) == ["train/loss", "val/loss", "val/accuracy"]
    assert mon.plot_names(curves, ["train/lr"]) == ["train/lr"]
    with pytest.raises(UserError, match="no curve named train/nope; logged curves: train/accuracy"):
        mon.plot_names(curves, ["train/nope"])


def test_run_report_has_curve_stats_metrics_and_plots(experiments, curves):
    exp_d = mon.find_experiments(experiments, ["exp-d"])[0]
    text = mon.run_report(exp_d, "exp-d", curves, ["train/loss"], width=60, height=10)
    assert text.startswith("run exp-d (rev a96ccfd, baseline master)")
    loss_row = next(line for line in text.splitlines() if line.startswith("train/loss "))
    assert loss_row.split()[1:5] == ["0.6943", "0.6918", "0.7052", "0.6959"]
    metrics = text.split("\nmetrics\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in metrics[2:]] == list(mon.HEADLINE)
    assert metrics[2 + mon.HEADLINE.index("pairwise_accuracy")].split() == [
        "pairwise_accuracy",
        "0.4722",
    ]
    assert "┌" in text  # the plot


def test_run_report_says_when_a_run_recorded_no_metrics(experiments):
    master = experiments[1]
    text = mon.run_report(master, "master", {}, [])
    assert "no training curves recorded" in text
    assert "no metrics recorded for this run" in text


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_round_trips(tmp_path, curves, fmt):
    runs = {"exp-d": curves, "other": {"train/loss": [(1.0, 0.5)]}}
    path = mon.export_curves(runs, tmp_path / f"curves.{fmt}")
    if fmt == "json":
        data = json.loads(path.read_text())["runs"]
        assert data["exp-d"]["val/accuracy"][0] == {"step": 6, "value": 0.5}
        assert data["other"] == {"train/loss": [{"step": 1, "value": 0.5}]}
    else:
        rows = list(csv.DictReader(path.open()))
        assert rows[0].keys() == {"run", "metric", "step", "value"}
        assert len(rows) == sum(len(c) for c in curves.values()) + 1
        assert {"run": "other", "metric": "train/loss", "step": "1", "value": "0.5"} in rows


def test_export_format_comes_from_option_or_suffix(tmp_path):
    path = mon.export_curves({"r": {"m": [(1, 2.0)]}}, tmp_path / "out.dat", fmt="csv")
    assert path.read_text().splitlines() == ["run,metric,step,value", "r,m,1,2.0"]
    with pytest.raises(
        UserError, match=r"out\.txt: export format: expected json \| csv, got 'txt'"
    ):
        mon.export_format(tmp_path / "out.txt", None)


def test_format_table_aligns_columns():
    text = mon.format_table(["name", "value"], [["a", 1.5], ["long-name", 12345.678]])
    lines = text.splitlines()
    assert lines[0] == "name        value"
    assert lines[2] == "a          1.5000" and lines[3] == "long-name   12346"
    assert len({len(line) for line in lines}) == 1
