"""The pull-request report posted by CML: headline metrics against `main`, the `dvc metrics diff`
and `dvc params diff` tables, the evaluation report, and the DVC plots rendered to PNG offline.

    python -m rewardpipe.cml_report --eval metrics/eval.json --baseline-rev ci-main \\
        --metrics-diff metrics_diff.md --params-diff params_diff.md \\
        --eval-report metrics/eval/report.md --plots plots.json --out cml/report.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardpipe.errors import UserError
from rewardpipe.headline import EVAL, PROCESS, best_baseline, headline, lookup

WATERMARK = "rewardpipe-report"


def headline_table(current: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """Markdown table of the headline eval metrics (`rewardpipe.headline`, what `dvc exp show`
    shows) of two full eval.json files: main, this PR and the change."""
    from rewardpipe.evaluation.report import fmt, fmt_delta

    now_all = headline(current)
    base_all = headline(baseline) if baseline else {}
    lines = ["| Metric | main | this PR | change |", "| --- | ---: | ---: | ---: |"]
    best, _ = best_baseline(current)
    for name, label, _ in EVAL + PROCESS:
        now, base = now_all.get(name), base_all.get(name)
        if now is None and base is None:
            continue
        if name == "baseline_exact" and best:
            label = f"{label} ({best})"
        lines.append(f"| {label} | {fmt(base)} | {fmt(now)} | {fmt_delta(now, base)} |")
    return "\n".join(lines)


CURVE_PREFIX = "curve_"


def plot_file_name(plot_id: str, content: dict[str, Any] | None = None) -> str:
    """`ROC` -> `roc`. Training curves (a dvclive TSV, or any plot over `step`) get the curve
    prefix: `metrics/train/plots/metrics/val/loss.tsv` -> `curve_val_loss`, `Loss` -> `curve_loss`."""
    x_field = lookup(content, "encoding.x.field") if content else None
    is_curve = plot_id.endswith(".tsv") or x_field == "step"
    name = plot_id.split("plots/metrics/")[-1].removesuffix(".tsv").removesuffix(".json")
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()
    return CURVE_PREFIX + slug if is_curve else slug


def _load_spec(spec: str | Path | dict[str, Any]) -> dict[str, Any]:
    if isinstance(spec, dict):
        data = spec
    else:
        try:
            data = json.loads(Path(spec).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(
                f"{spec}: expected the output of `dvc plots diff --json` ({exc})"
            ) from exc
    # `dvc plots diff --json` wraps the plots in {"data": ...} (plus "errors" when some failed)
    plots = data.get("data", data) if isinstance(data, dict) else None
    if not isinstance(plots, dict):
        raise UserError(f"{spec}: expected a JSON object of plot id -> list of rendered plots")
    return plots


def render_plots(
    spec: str | Path | dict[str, Any], out_dir: str | Path, scale: float = 1.5
) -> list[Path]:
    """Render every Vega-Lite plot of `dvc plots diff --json` (a file or the parsed object) to
    `out_dir/<plot id>.png` with vl-convert (no browser, no network); returns the PNG paths."""
    import vl_convert  # native renderer: imported only when plots are rendered

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for plot_id, items in _load_spec(spec).items():
        if not isinstance(items, list):
            continue
        vega = [i for i in items if isinstance(i, dict) and i.get("type") == "vega"]
        for k, item in enumerate(vega):
            name = plot_file_name(plot_id, item.get("content")) + (
                f"_{k + 1}" if len(vega) > 1 else ""
            )
            try:
                png = vl_convert.vegalite_to_png(vl_spec=item["content"], scale=scale)
            except (KeyError, ValueError) as exc:
                raise UserError(
                    f"plot {plot_id!r}: not a renderable Vega-Lite spec ({exc})"
                ) from exc
            path = out / f"{name}.png"
            path.write_bytes(png)
            paths.append(path)
    return paths


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def _demote(markdown: str, levels: int = 3) -> str:
    """Push headings down (`#` -> `####`) so an included report nests under this report's
    `###` sections; markdown has six levels at most."""

    def deeper(match: re.Match[str]) -> str:
        return "#" * min(6, len(match.group(1)) + levels) + " "

    return re.sub(r"^(#{1,6}) ", deeper, markdown, flags=re.MULTILINE)


def build_report(
    current: dict[str, Any],
    baseline: dict[str, Any] | None = None,
    *,
    metrics_diff_md: str = "",
    params_diff_md: str = "",
    eval_report_md: str = "",
    images: Sequence[str | Path] = (),
    curve_images: Sequence[str | Path] = (),
    image_root: str | Path | None = None,
    context: str = "",
) -> str:
    """The comment's markdown. `images` (evaluation plots) are shown, `curve_images` (training
    curves) folded; both are linked relative to `image_root`, the folder the report is written to,
    so that CML uploads them. A missing baseline is said, not hidden."""
    parts = ["## Reward model report", ""]
    if context:
        parts += [context, ""]
    parts += ["### Headline metrics", ""]
    if baseline is None:
        parts += ["_No baseline from `main` (its pipeline did not run): showing this PR only._", ""]
    parts += [headline_table(current, baseline), ""]
    if metrics_diff_md.strip():
        parts += [
            _details("Metrics diff against main (<code>dvc metrics diff</code>)", metrics_diff_md),
            "",
        ]
    parts += ["### Params changed against main", ""]
    parts += [params_diff_md.strip() or "_No params changed._", ""]
    if eval_report_md.strip():
        parts += [
            _details(
                "Evaluation report (<code>metrics/eval/report.md</code>)", _demote(eval_report_md)
            ),
            "",
        ]
    root = Path(image_root) if image_root else None
    if images:
        parts += ["### Plots", "", *(_image_md(i, root) for i in images), ""]
    if curve_images:
        curves = "\n\n".join(_image_md(i, root) for i in curve_images)
        parts += [_details("Training curves", curves), ""]
    return "\n".join(parts).rstrip() + "\n"


def _image_md(image: str | Path, root: Path | None) -> str:
    path = Path(image)
    link = path.relative_to(root) if root and path.is_relative_to(root) else path
    return f"![{path.stem}]({link.as_posix()})"


def _read_optional(path: str | None) -> str:
    return Path(path).read_text(encoding="utf-8") if path and Path(path).exists() else ""


def read_json_at(repo: str | Path, rev: str, path: str) -> dict[str, Any] | None:
    """A JSON file as recorded in a git revision or DVC experiment, or None if it is not there."""
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException

    try:
        return json.loads(DVCFileSystem(str(repo), rev=rev).read_text(path))
    except (DvcException, FileNotFoundError, json.JSONDecodeError):
        return None  # no baseline: the report says so


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Build the pull-request report (markdown + PNG plots)."
    )
    ap.add_argument("--eval", default="metrics/eval.json", help="this run's eval.json")
    ap.add_argument("--baseline", help="main's eval.json")
    ap.add_argument("--baseline-rev", help="read main's eval.json from this revision/experiment")
    ap.add_argument("--metrics-diff", help="file with `dvc metrics diff --md` output")
    ap.add_argument("--params-diff", help="file with `dvc params diff --md` output")
    ap.add_argument("--eval-report", default="metrics/eval/report.md")
    ap.add_argument("--plots", help="file with `dvc plots diff --json` output")
    ap.add_argument("--context", default="", help="a line under the title (commits, config)")
    ap.add_argument("--out", default="cml/report.md")
    args = ap.parse_args(argv)
    try:
        current = json.loads(Path(args.eval).read_text(encoding="utf-8"))
        baseline = (
            json.loads(Path(args.baseline).read_text(encoding="utf-8"))
            if args.baseline
            else read_json_at(".", args.baseline_rev, args.eval)
            if args.baseline_rev
            else None
        )
        out = Path(args.out)
        images = render_plots(args.plots, out.parent / "plots") if args.plots else []
        report = build_report(
            current,
            baseline,
            metrics_diff_md=_read_optional(args.metrics_diff),
            params_diff_md=_read_optional(args.params_diff),
            eval_report_md=_read_optional(args.eval_report),
            images=[i for i in images if not i.name.startswith(CURVE_PREFIX)],
            curve_images=[i for i in images if i.name.startswith(CURVE_PREFIX)],
            image_root=out.parent,
            context=args.context,
        )
    except (OSError, json.JSONDecodeError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(f"report: {out} ({len(images)} plots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
