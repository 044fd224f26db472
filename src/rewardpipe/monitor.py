"""The terminal dashboard: training curves (dvclive TSVs) and run comparison (`dvc exp show`).

A run is the workspace, a DVC experiment or any git revision. Its curves are the TSV files under
`<metrics_dir>/plots/metrics/` (columns `step`, `<name>`), named by their path there without
`.tsv` (`train/loss`, `val/accuracy`); its metrics and params come from `dvc exp show --json`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardpipe import headline
from rewardpipe.errors import UserError

Curve = list[tuple[float, float]]
Curves = dict[str, Curve]

WORKSPACE = "workspace"
METRICS_DIR = "metrics/train"
DEFAULT_PLOTS = ("train/loss", "val/loss", "val/accuracy")
HEADLINE = headline.NAMES
SHOWN = HEADLINE + tuple(name for name, _, _ in headline.PROCESS)  # a PRM's after the rest
EXPORT_FORMATS = ("json", "csv")
MARKERS = ("hd", "x", "o", "+", "*", "#", "@", "%")


@dataclass(frozen=True)
class Experiment:
    """One row of `dvc exp show`: the workspace, a baseline commit or an experiment."""

    name: str
    rev: str
    baseline: str
    params: dict[str, Any]
    metrics: dict[str, int | float]


@dataclass(frozen=True)
class Stats:
    final: float
    min: float
    max: float
    mean: float
    points: int
    last_step: float


# ---------------------------------------------------------------- curves


def parse_tsv(text: str, source: str) -> Curve:
    """(step, value) rows of one dvclive TSV; the value column is the one not named step/timestamp."""
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    if not rows:
        return []
    header = rows[0]
    values = [c for c in header if c not in ("step", "timestamp")]
    if "step" not in header or len(values) != 1:
        raise UserError(
            f"{source}: expected a dvclive TSV with columns step and one metric, got {header}"
        )
    i_step, i_value = header.index("step"), header.index(values[0])
    curve = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            curve.append((float(row[i_step]), float(row[i_value])))
        except (ValueError, IndexError) as exc:
            raise UserError(
                f"{source}:{n}: expected numbers in step and {values[0]}, got {row}"
            ) from exc
    return curve


def _curve_name(path: str, root: str) -> str:
    return path[len(root) :].strip("/").removesuffix(".tsv")


def read_curves(metrics_dir: str | Path) -> Curves:
    """The curves of the workspace run: every TSV under `metrics_dir/plots/metrics/`."""
    root = Path(metrics_dir) / "plots" / "metrics"
    return {
        _curve_name(p.as_posix(), root.as_posix()): parse_tsv(p.read_text(encoding="utf-8"), str(p))
        for p in sorted(root.rglob("*.tsv"))
    }


def read_curves_at(repo: str | Path, rev: str, metrics_dir: str = METRICS_DIR) -> Curves:
    """The curves recorded in a git revision or experiment (git- or DVC-tracked files)."""
    from dvc.api import DVCFileSystem  # heavy import, only needed for recorded runs

    root = f"{metrics_dir.strip('/')}/plots/metrics"
    fs = DVCFileSystem(str(repo), rev=rev)
    if not fs.exists(root):
        return {}
    paths = sorted(p.lstrip("/") for p in fs.find(root) if p.endswith(".tsv"))
    return {_curve_name(p, root): parse_tsv(fs.read_text(p), f"{rev}:{p}") for p in paths}


def summarize(curves: Curves) -> dict[str, Stats]:
    """Final / min / max / mean of each non-empty curve."""
    out = {}
    for name, curve in curves.items():
        if not curve:
            continue
        values = [v for _, v in curve]
        out[name] = Stats(
            final=values[-1],
            min=min(values),
            max=max(values),
            mean=sum(values) / len(values),
            points=len(values),
            last_step=curve[-1][0],
        )
    return out


def export_curves(runs: dict[str, Curves], path: str | Path, fmt: str | None = None) -> Path:
    """Write the curves of one or more runs as JSON `{run: {metric: [{step, value}]}}` or as CSV
    rows `run,metric,step,value`; the format defaults to the file's suffix."""
    path = Path(path)
    fmt = export_format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        data = {
            run: {m: [{"step": _num(s), "value": v} for s, v in c] for m, c in curves.items()}
            for run, curves in runs.items()
        }
        path.write_text(json.dumps({"runs": data}, indent=2) + "\n", encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["run", "metric", "step", "value"])
        for run, curves in runs.items():
            for metric, curve in curves.items():
                writer.writerows([run, metric, _num(s), v] for s, v in curve)
    return path


def export_format(path: str | Path, fmt: str | None) -> str:
    """The export format: `fmt`, else the file's suffix; json or csv."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise UserError(f"{path}: export format: expected json | csv, got {fmt or 'no suffix'!r}")
    return fmt


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


# ---------------------------------------------------------------- dvc exp show


def dvc_executable() -> str:
    """The `dvc` next to this Python (the project venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dvc"
    return str(local) if local.exists() else "dvc"


def exp_show(repo: str | Path, all_commits: bool = False) -> list[dict[str, Any]]:
    """Run `dvc exp show --json` in `repo` and return its parsed output."""
    cmd = [dvc_executable(), "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    try:
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise UserError("dvc: command not found (run `make install`)") from exc
    if proc.returncode != 0:
        raise UserError(f"`dvc exp show --json` failed in {repo}: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout or "[]")


def parse_exp_show(rows: list[dict[str, Any]]) -> list[Experiment]:
    """Flatten `dvc exp show --json`: the workspace, each baseline commit and its experiments."""
    out = []
    for row in rows:
        baseline = WORKSPACE if row["rev"] == WORKSPACE else row.get("name") or row["rev"][:7]
        out.append(_experiment(row, baseline, baseline))
        for group in row.get("experiments") or []:
            for exp in group.get("revs") or []:
                out.append(_experiment(exp, exp.get("name") or exp["rev"][:7], baseline))
    return out


def _experiment(row: dict[str, Any], name: str, baseline: str) -> Experiment:
    data = row.get("data") or {}
    params: dict[str, Any] = {}
    for content in (data.get("params") or {}).values():
        params.update(flatten(content.get("data") or {}))
    metrics: dict[str, int | float] = {}
    for file, content in (data.get("metrics") or {}).items():
        for key, value in flatten(content.get("data") or {}).items():
            if _is_number(value):
                metrics[f"{Path(file).stem}:{key}" if key in metrics else key] = value
    return Experiment(name=name, rev=row["rev"], baseline=baseline, params=params, metrics=metrics)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def find_experiments(experiments: list[Experiment], names: Iterable[str]) -> list[Experiment]:
    """Look runs up by experiment/branch name or a revision prefix (at least 4 characters)."""
    found, missing = [], []
    for name in names:
        match = next((e for e in experiments if e.name == name), None) or next(
            (e for e in experiments if len(name) >= 4 and e.rev.startswith(name)), None
        )
        (found if match else missing).append(match or name)
    if missing:
        known = ", ".join(sorted({e.name for e in experiments})) or "none"
        raise UserError(f"unknown run(s) {', '.join(missing)}; runs in `dvc exp show`: {known}")
    return found


# ---------------------------------------------------------------- rendering


def fmt(value: Any) -> str:
    """Numbers at 4 decimals (large ones as integers), everything else as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4f}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (first column left-aligned, the rest right-aligned)."""
    cells = [headers] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def summary_table(stats: dict[str, Stats]) -> str:
    rows = [
        [name, s.final, s.min, s.max, s.mean, s.points, _num(s.last_step)]
        for name, s in stats.items()
    ]
    return format_table(["metric", "final", "min", "max", "mean", "points", "last step"], rows)


def metrics_table(metrics: dict[str, float], keys: Iterable[str] | None = None) -> str:
    keys = [k for k in keys if k in metrics] if keys else sorted(metrics)
    return format_table(["metric", "value"], [[k, metrics[k]] for k in keys])


def varying_params(experiments: list[Experiment]) -> list[str]:
    """The params whose values differ between the given runs."""
    keys = sorted({k for e in experiments for k in e.params})
    return [k for k in keys if len({json.dumps(e.params.get(k)) for e in experiments}) > 1]


def compare_table(experiments: list[Experiment], metrics: list[str] | None = None) -> str:
    """One row per run: the params that differ, then the chosen (default: headline) metrics."""
    if not metrics:
        present = {k for e in experiments for k in e.metrics}
        metrics = [k for k in SHOWN if k in present] or sorted(present)
    params = varying_params(experiments)
    rows = [
        [
            e.name,
            e.rev[:7],
            *(e.params.get(p) for p in params),
            *(e.metrics.get(m) for m in metrics),
        ]
        for e in experiments
    ]
    headers = ["run", "rev", *params, *(m.removesuffix(".value") for m in metrics)]
    return format_table(headers, rows)


def plot_curves(
    series: dict[str, Curve], title: str, width: int = 80, height: int = 18, color: bool = False
) -> str:
    """A terminal line plot (plotext) of one or more labelled curves sharing the step axis."""
    import plotext as plt  # its figure is module-global state: clear it for every plot

    fig = plt.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.title(title)
    fig.label("step", axis="x")
    for i, (label, curve) in enumerate(series.items()):
        if not curve:
            continue
        marker = MARKERS[i % len(MARKERS)]  # distinct markers keep runs apart without colour
        signal = fig.signal([s for s, _ in curve], [v for _, v in curve], marker=marker)
        signal.lines()
        if len(series) > 1:
            signal.label(label)
        fig.draw(signal)
    return fig.build().string(colorless=not color)


def plot_names(available: Iterable[str], wanted: list[str] | None) -> list[str]:
    """The curves to plot: the requested ones (unknown names are an error), else the defaults."""
    available = list(available)
    if wanted:
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise UserError(
                f"no curve named {', '.join(unknown)}; logged curves: {', '.join(available)}"
            )
        return wanted
    return [n for n in DEFAULT_PLOTS if n in available] or available[:3]


def run_report(
    experiment: Experiment | None,
    name: str,
    curves: Curves,
    plots: list[str],
    width: int = 80,
    height: int = 18,
    color: bool = False,
) -> str:
    """The one-run view: curve statistics, recorded metrics, and the plots."""
    header = f"run {name}" + (
        f" (rev {experiment.rev[:7]}, baseline {experiment.baseline})"
        if experiment and experiment.rev != WORKSPACE
        else ""
    )
    parts = [header, "=" * len(header)]
    if curves:
        parts += ["", "curves", summary_table(summarize(curves))]
    else:
        parts += ["", "no training curves recorded for this run"]
    if experiment and experiment.metrics:
        parts += [
            "",
            "metrics",
            metrics_table(experiment.metrics, _headline_first(experiment.metrics)),
        ]
    elif experiment:
        parts += [
            "",
            "no metrics recorded for this run in `dvc exp show` (are the metrics files git-ignored?)",
        ]
    parts += ["", *(plot_curves({name: curves[p]}, p, width, height, color) for p in plots)]
    return "\n".join(parts).rstrip() + "\n"


def compare_report(
    experiments: list[Experiment],
    curves: dict[str, Curves],
    plots: list[str],
    width: int = 80,
    height: int = 18,
    color: bool = False,
) -> str:
    """The comparison view: one table across runs, then one overlaid plot per curve."""
    parts = [
        "comparison of " + ", ".join(e.name for e in experiments),
        "",
        compare_table(experiments),
        "",
    ]
    for p in plots:
        series = {run: c[p] for run, c in curves.items() if p in c}
        parts.append(plot_curves(series, p, width, height, color))
    return "\n".join(parts).rstrip() + "\n"


def _headline_first(metrics: dict[str, float]) -> list[str]:
    """The headline metrics in their order, then any other metric a user declared."""
    head = [k for k in SHOWN if k in metrics]
    return head + sorted(k for k in metrics if k not in head)
