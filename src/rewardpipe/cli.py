"""The `rewardpipe` command.

Pipeline work goes through DVC (`dvc exp run -S ...`), so every training run is an experiment that
`dvc exp show` and `rewardpipe monitor` list. Work on files outside the pipeline (another dataset
folder, checkpoint or output file) and `--no-dvc` run the stage script directly, with a temporary
copy of params.yaml that carries the command-line values. Run it from the project root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from typer.core import TyperGroup

from rewardpipe import monitor as mon
from rewardpipe.errors import UserError

HUB = {
    "gsm8k": ("openai/gsm8k", "main"),
    "openrubrics": ("OpenRubrics/OpenRubric-v2", None),
}
# --dataset NAME -> (prepare.dataset, prepare.source when neither --source nor --path is given)
DATASETS = {
    "gsm8k": ("gsm8k", "hub"),
    "openrubrics": ("rubric", "hub"),
    "preference": ("preference", "local"),
    "synthetic": ("gsm8k", "synthetic"),
    "custom": ("custom", "local"),
}
STAGES = ("prepare", "train", "evaluate", "publish")
SPLITS = ("test", "val", "train")
CHECKPOINTS = Path("models/checkpoints")
ADHOC_OUTPUT = Path("results/eval.json")


class DatasetName(StrEnum):
    gsm8k = "gsm8k"
    openrubrics = "openrubrics"
    preference = "preference"
    synthetic = "synthetic"
    custom = "custom"


class Source(StrEnum):
    hub = "hub"
    local = "local"
    synthetic = "synthetic"


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


class _Group(TyperGroup):
    """Every command's UserError becomes one `error: ...` line and exit code 1 (no traceback)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Prepare data, train, evaluate, deploy and monitor reward models; runs are DVC experiments.",
)
dataset_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Prepare datasets.")
app.add_typer(dataset_app, name="dataset")

ParamsFile = Annotated[Path, typer.Option("--params", help="Base params file.")]
SourceOpt = Annotated[
    Source | None,
    typer.Option("--source", help="Where the data comes from (default: per dataset)."),
]
PathOpt = Annotated[
    str | None, typer.Option("--path", help="Local file or folder (implies --source local).")
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"rewardpipe {version('rewardpipe')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """rewardpipe: reward models for LLM post-training, every run a DVC experiment."""


# ------------------------------------------------------------------------------------ commands


@dataset_app.command("prepare")
def dataset_prepare(
    config: Annotated[DatasetName, typer.Option("--config", help="Which dataset to prepare.")],
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Folder for train/val/test JSONL.")
    ],
    source: SourceOpt = None,
    path: PathOpt = None,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Validate rows.")
    ] = True,
    custom_config: Annotated[
        Path | None, typer.Option("--custom-config", help="Column mapping file.")
    ] = None,
    hub_name: Annotated[
        str | None, typer.Option("--hub-name", help="Hub dataset id to load.")
    ] = None,
    params: ParamsFile = Path("params.yaml"),
) -> None:
    """Prepare a dataset into DIR with the prepare stage (outside the DVC pipeline)."""
    overrides = dataset_overrides(config, source, path, custom_config, hub_name, validate)
    with temp_params(params, overrides) as tmp:
        run_stage("prepare", params=tmp, out=output_dir)


@app.command()
def train(
    steps: Annotated[int | None, typer.Option("--steps", help="train.steps")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="train.lr")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="train.batch_size")] = None,
    grad_accum: Annotated[int | None, typer.Option("--grad-accum", help="train.grad_accum")] = None,
    lora_rank: Annotated[
        int | None, typer.Option("--lora-rank", help="model.lora_rank (> 0: LoRA).")
    ] = None,
    no_lora: Annotated[
        bool, typer.Option("--no-lora", help="Train every weight (lora_rank 0).")
    ] = False,
    dataset: Annotated[
        DatasetName | None, typer.Option("--dataset", help="Dataset to train on.")
    ] = None,
    source: SourceOpt = None,
    path: PathOpt = None,
    run_name: Annotated[str | None, typer.Option("--run-name", help="Experiment name.")] = None,
    resume_from: Annotated[
        Path | None,
        typer.Option(
            "--resume-from",
            help="Checkpoint folder to resume from (copied into models/checkpoints).",
        ),
    ] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", "-S", help="Any param as KEY=VALUE (repeatable).")
    ] = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Run up to this stage (default: all).")
    ] = None,
    no_dvc: Annotated[
        bool, typer.Option("--no-dvc", help="Run the stage scripts, no experiment.")
    ] = False,
    params: ParamsFile = Path("params.yaml"),
) -> None:
    """Train a reward model as a DVC experiment (`dvc exp run -n NAME -S ...`)."""
    overrides = train_overrides(steps, lr, batch_size, grad_accum, lora_rank, no_lora)
    if dataset or source or path:
        overrides |= dataset_overrides(dataset, source, path)
    if resume_from:
        from rewardpipe.training.checkpoints import copy_runs

        for run, target in copy_runs(resume_from, CHECKPOINTS):
            typer.echo(f"resume: {run} -> {target}", err=True)
    if no_dvc:
        stages = (
            ["prepare", "train"] if any(k.startswith("prepare.") for k in overrides) else ["train"]
        )
        with temp_params(params, overrides, sets or []) as tmp:
            for name in stages:
                run_stage(name, params=tmp)
    else:
        run_command(exp_run_command(run_name, overrides, sets or [], check_stage(stage)))


@app.command()
def evaluate(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Model folder to evaluate.")
    ] = None,
    dataset: Annotated[
        DatasetName | None, typer.Option("--dataset", help="Evaluate on this dataset.")
    ] = None,
    source: SourceOpt = None,
    path: PathOpt = None,
    split: Annotated[
        str, typer.Option("--split", help="test | val | train of the prepared data.")
    ] = "test",
    output: Annotated[
        Path | None, typer.Option("--output", help="Where to write eval.json.")
    ] = None,
    num_samples: Annotated[
        int | None, typer.Option("--num-samples", help="Evaluate N prompts.")
    ] = None,
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="External candidates JSONL.")
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions", help="JSONL of {question, answer, completion}: accuracy only."
        ),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="eval.json to diff against.")
    ] = None,
    run_name: Annotated[str | None, typer.Option("--run-name", help="Experiment name.")] = None,
    no_dvc: Annotated[
        bool, typer.Option("--no-dvc", help="Run the stage script, no experiment.")
    ] = False,
    params: ParamsFile = Path("params.yaml"),
) -> None:
    """Evaluate a reward model: ranking and best-of-N metrics, plots, report.

    The pipeline's own model and test set run as `dvc exp run evaluate`; a --checkpoint,
    --dataset, --split other than test, --output, --baseline or --predictions runs the stage
    directly and writes to --output (default results/eval.json) and the folder beside it."""
    overrides = evaluate_overrides(num_samples, candidates)
    adhoc = [checkpoint, dataset, source, path, output, predictions, baseline]
    if split not in SPLITS:
        raise UserError(f"--split: expected {' | '.join(SPLITS)}, got {split!r}")
    if no_dvc or any(v is not None for v in adhoc) or split != "test":
        with tempfile.TemporaryDirectory(prefix="rewardpipe-eval-") as work:
            data = None
            if dataset or source or path or split != "test":
                data = prepared_split(dataset, source, path, split, params, Path(work))
            files = (checkpoint, output, predictions, baseline, data)
            evaluate_direct(params, overrides, *files, no_dvc=no_dvc)
    else:
        run_command(exp_run_command(run_name, overrides, [], "evaluate"))


@app.command()
def deploy(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="Trained model folder (models/model).")
    ],
    repo_id: Annotated[str, typer.Option("--repo-id", help="Hugging Face Hub repo, user/name.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private.")] = False,
    commit_message: Annotated[
        str | None, typer.Option("--commit-message", help="Hub commit message.")
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tags", help="Model card tags (repeat or comma-separate)."),
    ] = None,
    model_card: Annotated[
        Path | None, typer.Option("--model-card", help="Model card template file.")
    ] = None,
    validate_only: Annotated[
        bool, typer.Option("--validate-only", help="Export and check the bundle, push nothing.")
    ] = False,
    params: ParamsFile = Path("params.yaml"),
) -> None:
    """Export, validate and push a model to the Hugging Face Hub (the publish stage)."""
    if not checkpoint.is_dir():
        raise UserError(
            f"{checkpoint}: --checkpoint: expected a trained model folder (models/model)"
        )
    overrides = deploy_overrides(
        repo_id, private, commit_message, tags or [], model_card, validate_only
    )
    with temp_params(params, overrides) as tmp:
        if validate_only:  # export into a scratch folder: the pipeline's outputs stay as they are
            work = tmp.parent
            run_stage(
                "publish", params=tmp, model=checkpoint, out=work / "export",
                metrics=work / "publish.json",
            )  # fmt: skip
        else:
            run_stage("publish", params=tmp, model=checkpoint)


@app.command()
def monitor(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Runs to show (with --compare: two or more).")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="One run: workspace (default) or experiment.")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare the runs given as arguments.")
    ] = False,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the curves to this file.")
    ] = None,
    fmt: Annotated[
        ExportFormat | None, typer.Option("--format", help="Export format (default: suffix).")
    ] = None,
    metrics: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Curve to plot (repeatable).")
    ] = None,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw the terminal plots.")
    ] = True,
    width: Annotated[int, typer.Option("--width", help="Plot width in columns.")] = 80,
    height: Annotated[int, typer.Option("--height", help="Plot height in rows.")] = 18,
    metrics_dir: Annotated[
        str, typer.Option("--metrics-dir", help="dvclive folder.")
    ] = mon.METRICS_DIR,
) -> None:
    """Curves and metrics of a run, or a comparison of experiments (`--compare A B ...`)."""
    names = ([run] if run else []) + list(runs or [])
    if compare and len(names) < 2:
        raise UserError(
            "--compare: name at least two runs, e.g. `rewardpipe monitor --compare a b`"
        )
    if not compare and len(names) > 1:
        raise UserError(f"one run at a time without --compare (got {', '.join(names)})")
    view = dict(
        metrics=metrics or [], plots=plots, width=width, height=height, metrics_dir=metrics_dir
    )
    curves = (
        show_compare(names, **view)
        if compare
        else show_run(names[0] if names else mon.WORKSPACE, **view)
    )
    if export:
        typer.echo(f"curves -> {mon.export_curves(curves, export, fmt.value if fmt else None)}")


@app.command()
def score(
    model: Annotated[str, typer.Option("--model", help="Model folder or Hub repo id.")],
    input: Annotated[Path, typer.Option("--input", help="JSONL of {prompt|question, completion}.")],
    output: Annotated[Path, typer.Option("--output", help="JSONL with a reward per row.")],
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per forward pass.")] = 64,
) -> None:
    """Score completions with a trained reward model."""
    from rewardpipe.inference import score_file  # jax loads only for this command

    score_file(model, input, output, batch_size)
    typer.echo(f"scored {input} -> {output}")


# ----------------------------------------------------------------- command-line -> params


def dataset_overrides(
    config: str | None,
    source: str | None = None,
    path: str | None = None,
    custom_config: Path | None = None,
    hub_name: str | None = None,
    validate: bool | None = None,
) -> dict[str, Any]:
    """prepare.* values for a dataset name: gsm8k and openrubrics load from the Hub unless --path
    (or --source) says otherwise; preference and custom need local files; synthetic is built in.
    Without a name only the source and path change (the dataset kind stays as in params.yaml)."""
    kind, default_source = DATASETS[str(config)] if config else (None, None)
    source = str(source) if source else ("local" if path else default_source)
    out: dict[str, Any] = {"prepare.dataset": kind} if kind else {}
    if source:
        out["prepare.source"] = source
    if path:
        out["prepare.path"] = path
    elif source == "local" and config:
        raise UserError(f"--path: dataset {config} from local files needs --path FILE_OR_FOLDER")
    hub = (hub_name, None) if hub_name else HUB.get(str(config), (None, None))
    if source == "hub" and hub[0]:
        out |= {"prepare.hub_name": hub[0], "prepare.hub_config": hub[1]}
    elif source == "hub" and config:
        raise UserError(f"--hub-name: dataset {config} has no default Hub id; pass --hub-name")
    if kind == "custom":
        if not custom_config:
            raise UserError("--custom-config: dataset custom needs a column-mapping file")
        out["prepare.custom_config"] = str(custom_config)
    if validate is not None:
        out["prepare.validate"] = validate
    return out


def train_overrides(
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    grad_accum: int | None = None,
    lora_rank: int | None = None,
    no_lora: bool = False,
) -> dict[str, Any]:
    if no_lora and lora_rank:
        raise UserError("--lora-rank and --no-lora: give one of them")
    values = {
        "train.steps": steps,
        "train.lr": lr,
        "train.batch_size": batch_size,
        "train.grad_accum": grad_accum,
        "model.lora_rank": 0 if no_lora else lora_rank,
    }
    return {k: v for k, v in values.items() if v is not None}


def evaluate_overrides(num_samples: int | None, candidates: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if num_samples is not None:
        out["evaluate.num_samples"] = num_samples
    if candidates is not None:
        if not candidates.is_file():
            raise UserError(f"{candidates}: --candidates: file not found")
        out["evaluate.candidates_path"] = str(candidates)
    return out


def deploy_overrides(
    repo_id: str,
    private: bool,
    commit_message: str | None,
    tags: list[str],
    model_card: Path | None,
    validate_only: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "publish.push": not validate_only,
        "publish.repo_id": repo_id,
        "publish.private": private,
    }
    if commit_message:
        out["publish.commit_message"] = commit_message
    split_tags = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
    if split_tags:
        out["publish.tags"] = split_tags
    if model_card:
        if not model_card.is_file():
            raise UserError(f"{model_card}: --model-card: file not found")
        out["publish.model_card"] = str(model_card)
    return out


def format_override(value: Any) -> str:
    """A value as DVC's `-S key=value` reads it back (YAML / Hydra syntax)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_override(v) for v in value) + "]"
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z0-9_./@+-]+", text) and yaml.safe_load(text) == text
    return text if plain and not _is_float(text) else json.dumps(text)


def _is_float(text: str) -> bool:
    """YAML 1.2 and Hydra read `1e-3` as a number where PyYAML keeps a string: quote such text."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_set(item: str) -> tuple[str, Any]:
    """`section.key=value` -> (key, YAML-parsed value)."""
    key, sep, raw = item.partition("=")
    if not sep or "." not in key:
        raise UserError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.lr=1e-4")
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise UserError(f"--set {item!r}: the value is not valid YAML ({exc})") from exc


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (`train.lr`) in a params mapping, in place."""
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise UserError(f"{dotted}: {key} is not a section of params")
        node[leaf] = value
    return params


@contextmanager
def temp_params(base: Path, overrides: dict[str, Any], sets: list[str] = ()) -> Iterator[Path]:
    """A checked copy of `base` with the overrides and `--set` values applied, for one command."""
    from rewardpipe.params import load_params

    if not base.is_file():
        raise UserError(f"{base}: params file not found (run rewardpipe from the project root)")
    data = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    apply_overrides(data, overrides | dict(parse_set(s) for s in sets))
    with tempfile.TemporaryDirectory(prefix="rewardpipe-") as tmp:
        path = Path(tmp) / "params.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        try:
            load_params(path)  # a bad value fails here, before any stage starts
        except UserError as exc:
            exc.args = (str(exc).replace(str(path), str(base)),)
            raise
        yield path


def exp_run_command(
    name: str | None, overrides: dict[str, Any], sets: list[str], stage: str | None = None
) -> list[str]:
    """`dvc exp run [-n NAME] -S key=value ... [STAGE]`."""
    cmd = [mon.dvc_executable(), "exp", "run"] + (["-n", name] if name else [])
    for key, value in overrides.items():
        cmd += ["-S", f"{key}={format_override(value)}"]
    for item in sets:
        parse_set(item)
        cmd += ["-S", item]
    return cmd + ([stage] if stage else [])


def check_stage(stage: str | None) -> str | None:
    if stage is not None and stage not in STAGES:
        raise UserError(f"--stage: expected {' | '.join(STAGES)}, got {stage!r}")
    return stage


# ------------------------------------------------------------------------- running things


def child_env() -> dict[str, str]:
    """This Python's bin folder first on PATH (stage commands say `python`), analytics off."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run_command(cmd: list[Any], cwd: Path | None = None) -> None:
    """Run a command with its output streaming; a failure is a UserError naming the command."""
    cmd = [str(c) for c in cmd]
    typer.echo(f"$ {shlex.join(cmd)}", err=True)
    try:
        code = subprocess.run(cmd, cwd=cwd, env=child_env(), check=False).returncode
    except FileNotFoundError as exc:
        raise UserError(f"{cmd[0]}: command not found (run `make install`)") from exc
    if code:
        raise UserError(f"`{shlex.join(cmd[:4])} ...` failed with exit code {code} (output above)")


def stage_args(name: str, **replace: Any) -> list[str]:
    """The arguments dvc.yaml's `cmd` passes to stages/<name>.py (the path contract), with
    `replace` applied: `out="x"` sets `--out x`, None drops the flag; new flags are appended."""
    dvc_yaml = Path("dvc.yaml")
    try:
        cmd = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"][name]["cmd"]
    except (OSError, KeyError, TypeError) as exc:
        raise UserError(
            f"{dvc_yaml}: no stage {name!r}; run rewardpipe from the project root"
        ) from exc
    words = shlex.split(cmd)[2:]  # python stages/<name>.py
    flags = dict(zip(words[::2], words[1::2], strict=True))
    for key, value in replace.items():
        flags[f"--{key.replace('_', '-')}"] = value
    return [w for flag, v in flags.items() if v is not None for w in (flag, str(v))]


def run_stage(name: str, *extra: str, cwd: Path | None = None, **replace: Any) -> None:
    """`python stages/<name>.py` with dvc.yaml's arguments, `replace`d, and `extra` flags."""
    script = Path("stages") / f"{name}.py"
    if not script.is_file():
        raise UserError(f"{script}: not found; run rewardpipe from the project root")
    run_command([sys.executable, script.resolve(), *stage_args(name, **replace), *extra], cwd=cwd)


# ------------------------------------------------------------------------------- evaluate


def prepared_split(
    dataset: str | None,
    source: str | None,
    path: str | None,
    split: str,
    params: Path,
    work: Path,
) -> Path:
    """A candidate-sets file for `split`: of data/prepared, or of the dataset prepared afresh into
    `work`. Preference splits (val, train) become sets of chosen and rejected answers."""
    from rewardpipe.data.candidates import pairs_to_sets
    from rewardpipe.io import read_jsonl, write_jsonl

    folder = Path(flag_value(stage_args("prepare"), "--out"))
    if dataset or source or path:
        folder = work / "prepared"
        with temp_params(params, dataset_overrides(dataset, source, path)) as tmp:
            run_stage("prepare", params=tmp, out=folder)
    file = folder / f"{split}.jsonl"
    if not file.is_file():
        raise UserError(
            f"{file}: not found; run `rewardpipe dataset prepare` or `dvc repro prepare`"
        )
    if split == "test":
        return file
    out = work / f"{split}-sets.jsonl"
    write_jsonl(out, pairs_to_sets(read_jsonl(file)))
    return out


def evaluate_direct(
    params: Path,
    overrides: dict[str, Any],
    checkpoint: Path | None,
    output: Path | None,
    predictions: Path | None,
    baseline: Path | None,
    test_file: Path | None,
    *,
    no_dvc: bool,
) -> None:
    """Run stages/evaluate.py. A plain --no-dvc run writes the pipeline's outputs (metrics/);
    anything else is outside the pipeline and goes to --output (default results/eval.json), with
    plots, failures and report.md in the folder of the same name beside it."""
    adhoc = not no_dvc or any(v is not None for v in (checkpoint, output, predictions, test_file))
    replace: dict[str, Any] = {}  # dvc.yaml's paths, except these (None: drop the flag)
    if adhoc:
        output = output or ADHOC_OUTPUT
        replace |= {
            "output": output.resolve(),
            "details": output.with_suffix("").resolve(),
            "headline": None,  # the pipeline's headline metrics describe the pipeline's model
        }
    else:
        output = Path(flag_value(stage_args("evaluate"), "--output"))
    if predictions:
        replace |= {
            "predictions": predictions.resolve(),
            "model": None,
            "details": None,
            "test": None,
        }
    else:
        replace |= {"model": checkpoint.resolve()} if checkpoint else {}
        replace |= {"test": test_file.resolve()} if test_file else {}
    if baseline:
        replace["baseline"] = baseline.resolve()
    with temp_params(params, overrides) as tmp:
        run_stage("evaluate", params=tmp, **replace)
    typer.echo(f"results -> {output}")


def flag_value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


# -------------------------------------------------------------------------------- monitor


def show_run(
    name: str, metrics: list[str], plots: bool, width: int, height: int, metrics_dir: str
) -> dict[str, mon.Curves]:
    """Print one run's curve statistics, metrics and plots; returns its curves for export."""
    experiments = _experiments([name])
    (experiment,) = mon.find_experiments(experiments, [name])
    if experiment.rev == mon.WORKSPACE:
        curves = mon.read_curves(metrics_dir)
    else:
        curves = mon.read_curves_at(".", experiment.rev, metrics_dir)
    names = mon.plot_names(curves, metrics) if plots and curves else []
    typer.echo(mon.run_report(experiment, name, curves, names, width, height, _color()))
    return {name: curves}


def show_compare(
    names: list[str], metrics: list[str], plots: bool, width: int, height: int, metrics_dir: str
) -> dict[str, mon.Curves]:
    """Print the comparison table and overlaid curves of several runs; returns their curves."""
    found = mon.find_experiments(_experiments(names), names)
    curves = {
        e.name: mon.read_curves(metrics_dir)
        if e.rev == mon.WORKSPACE
        else mon.read_curves_at(".", e.rev, metrics_dir)
        for e in found
    }
    available = sorted({m for c in curves.values() for m in c})
    shown = mon.plot_names(available, metrics) if plots and available else []
    typer.echo(mon.compare_report(found, curves, shown, width, height, _color()))
    return curves


def _experiments(names: list[str]) -> list[mon.Experiment]:
    """`dvc exp show` rows; all commits are searched only when a name is not on this baseline."""
    experiments = mon.parse_exp_show(mon.exp_show("."))
    known = {e.name for e in experiments} | {e.rev for e in experiments}
    if all(n in known or any(r.startswith(n) for r in known) for n in names):
        return experiments
    return mon.parse_exp_show(mon.exp_show(".", all_commits=True))


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def main() -> None:
    app()


if __name__ == "__main__":
    main()
