"""The pull-request report: built from two real eval.json files, plots rendered to PNG offline."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from rewardpipe import cml_report
from rewardpipe.errors import UserError

FIX = Path(__file__).parent / "fixtures" / "cml"


def load(name: str) -> dict:
    return json.loads((FIX / name).read_text())


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def table_row(report: str, label: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_headline_table_compares_main_and_pr():
    main, pr = load("main_eval.json"), load("pr_eval.json")
    report = cml_report.build_report(pr, main)
    # real values: pairwise 0.5139 on main, 0.4722 on the PR
    assert table_row(report, "Pairwise accuracy") == [
        "Pairwise accuracy",
        "0.5139",
        "0.4722",
        "-0.0417",
    ]
    assert table_row(report, "Best-of-N exact accuracy")[1:] == ["0.2500", "0.1250", "-0.1250"]
    assert table_row(report, "Best baseline exact accuracy (rule_based)")[1:] == [
        "0.2500",
        "0.2500",
        "+0.0000",
    ]
    assert table_row(report, "Best-of-N over the best baseline")[1:] == [
        "0.0000",
        "-0.1250",
        "-0.1250",
    ]
    # the headline is what `dvc exp show` shows: no oracle, no per-kind rows, no counts
    assert "Oracle" not in report.split("### Headline metrics")[1].split("\n\n")[1]
    assert "No baseline" not in report


def test_report_without_baseline_says_so():
    report = cml_report.build_report(load("pr_eval.json"), None)
    assert "_No baseline from `main`" in report
    assert table_row(report, "AUC")[1:] == ["n/a", "0.4340", "n/a"]


def test_report_carries_diffs_eval_report_and_images(tmp_path):
    images = [tmp_path / "plots" / "roc.png"]
    curves = [tmp_path / "plots" / "curve_train_loss.png"]
    report = cml_report.build_report(
        load("pr_eval.json"),
        load("main_eval.json"),
        metrics_diff_md=(FIX / "metrics_diff.md").read_text(),
        params_diff_md=(FIX / "params_diff.md").read_text(),
        eval_report_md=(FIX / "eval_report.md").read_text(),
        images=images,
        curve_images=curves,
        image_root=tmp_path,
        context="Commit abc1234 against `main`.",
    )
    assert report.startswith("## Reward model report\n\nCommit abc1234 against `main`.")
    assert "| params.yaml | train.lr    | 0.002   | 0.01        |" in report
    assert "| metrics/eval.json          | ranking.pairwise_accuracy" in report
    # the eval report's own headings sit one level below this report's
    assert (
        "\n#### Reward model evaluation" in report and "\n# Reward model evaluation" not in report
    )
    assert "![roc](plots/roc.png)" in report
    curves_block = report[report.index("<summary>Training curves</summary>") :]
    assert "![curve_train_loss](plots/curve_train_loss.png)" in curves_block


def test_params_section_when_nothing_changed():
    report = cml_report.build_report(load("pr_eval.json"), load("main_eval.json"))
    assert "### Params changed against main\n\n_No params changed._" in report


def test_render_plots_from_dvc_plots_diff(tmp_path):
    paths = cml_report.render_plots(FIX / "plots_diff.json", tmp_path / "plots", scale=1.0)
    assert [p.name for p in paths] == [
        "roc.png",
        "reward_histogram.png",
        "reliability.png",
        "curve_loss.png",
        "curve_val_accuracy.png",
    ]
    for path in paths:
        width, height = png_size(path)
        assert width > 200 and height > 200, (path, width, height)


def test_render_plots_accepts_the_parsed_object_and_skips_non_vega(tmp_path):
    spec = json.loads((FIX / "plots_diff.json").read_text())
    spec["data"] = {"ROC": spec["data"]["ROC"], "image.png": [{"type": "image", "url": "x.png"}]}
    assert [p.name for p in cml_report.render_plots(spec, tmp_path)] == ["roc.png"]


def test_render_plots_rejects_something_else(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(UserError, match="plot id -> list of rendered plots"):
        cml_report.render_plots(bad, tmp_path)
    with pytest.raises(UserError, match="expected the output of `dvc plots diff --json`"):
        cml_report.render_plots(tmp_path / "missing.json", tmp_path)


def test_plot_file_names():
    assert cml_report.plot_file_name("Reward histogram") == "reward_histogram"
    assert cml_report.plot_file_name("metrics/train/plots/metrics/val/loss.tsv") == "curve_val_loss"
    over_steps = {"encoding": {"x": {"field": "step"}}}
    assert cml_report.plot_file_name("Loss", over_steps) == "curve_loss"


def test_main_writes_report_and_pngs(tmp_path, capsys):
    out = tmp_path / "cml" / "report.md"
    code = cml_report.main([
        "--eval", str(FIX / "pr_eval.json"), "--baseline", str(FIX / "main_eval.json"),
        "--metrics-diff", str(FIX / "metrics_diff.md"), "--params-diff", str(FIX / "params_diff.md"),
        "--eval-report", str(FIX / "eval_report.md"), "--plots", str(FIX / "plots_diff.json"),
        "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    report = out.read_text()
    assert "![roc](plots/roc.png)" in report and (out.parent / "plots" / "roc.png").is_file()
    assert table_row(report, "AUC")[1:] == ["0.4919", "0.4340", "-0.0579"]
    assert "report:" in capsys.readouterr().out


def test_main_reports_a_missing_input_without_traceback(tmp_path, capsys):
    assert (
        cml_report.main(["--eval", str(tmp_path / "none.json"), "--out", str(tmp_path / "r.md")])
        == 1
    )
    assert capsys.readouterr().err.startswith("error: ")
