"""Publishing a trained model: export a self-contained bundle, validate it, render its model
card, and upload it to the Hugging Face Hub.

`build_bundle` writes and validates `models/export` in one go (a failed check leaves the previous
folder untouched); `validate_bundle` checks an existing one; `record` is `metrics/publish.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardpipe import model_folder
from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.io import atomic_dir, read_json
from rewardpipe.publish import card, export, hub
from rewardpipe.publish.card import CardOptions

__all__ = ["build_bundle", "card", "export", "hub", "record", "validate_bundle"]


def build_bundle(
    model_dir: str | Path,
    eval_path: str | Path,
    out_dir: str | Path,
    options: CardOptions,
    *,
    git_revision: str | None,
    params_sha256: str | None,
    max_shard_bytes: int = export.MAX_SHARD_BYTES,
) -> dict[str, Any]:
    """Export `model_dir` (+ `eval_path`) to `out_dir` and validate it against the in-memory
    model before it replaces `out_dir`; returns the validation report. A decoder model folder
    is copied as is, its config.json's `rewardpipe` record gaining the bundle fields, and its
    weights sharded (transformers' layout) above `max_shard_bytes`."""
    model, tokenizer, source = model_folder.load(model_dir)
    reference = RewardModel(model, tokenizer, source)
    metrics = read_json(eval_path)
    if not isinstance(metrics, dict) or not metrics:
        raise UserError(f"{eval_path}: expected the evaluate stage's metrics (a JSON object)")
    if model_folder.is_decoder(source):
        record = export.decoder_bundle_config(
            source,
            export.probe_scores(reference),
            git_revision=git_revision,
            params_sha256=params_sha256,
        )
        _record_step_probes(record, reference)
        with atomic_dir(out_dir) as tmp:
            record = export.write_decoder_bundle(
                tmp, model_dir, record, metrics, max_shard_bytes=max_shard_bytes
            )
            text = card.render_card(record, metrics, options)
            (tmp / export.README).write_text(text, encoding="utf-8")
            report = export.validate(tmp, reference)
        return {**report, "folder": str(out_dir)}
    config = export.bundle_config(
        source,
        tokenizer,
        export.probe_scores(reference),
        git_revision=git_revision,
        params_sha256=params_sha256,
    )
    _record_step_probes(config, reference)
    with atomic_dir(out_dir) as tmp:
        config = export.write_bundle(tmp, model, tokenizer, config, metrics)
        text = card.render_card(config, metrics, options)
        (tmp / export.README).write_text(text, encoding="utf-8")
        report = export.validate(tmp, reference)
    return {**report, "folder": str(out_dir)}


def _record_step_probes(config: dict[str, Any], reference: RewardModel) -> None:
    """A process model's bundle records its probes' step scores beside the aggregated ones."""
    steps = export.probe_step_scores(reference)
    if steps is not None:
        config["probe"]["step_scores"] = steps


def validate_bundle(folder: str | Path, model_dir: str | Path | None = None) -> dict[str, Any]:
    """Validate an existing bundle; against the model folder `model_dir` too when it exists."""
    reference = None
    if model_dir is not None and Path(model_dir).is_dir():
        reference = RewardModel.from_pretrained(model_dir)
    return export.validate(folder, reference)


def record(
    report: dict[str, Any],
    *,
    push_requested: bool,
    validate_only: bool,
    pushed: dict[str, Any] | None,
) -> dict[str, Any]:
    """`metrics/publish.json`: what was validated and whether/where it was pushed (no timings,
    so the file is the same for the same inputs)."""
    if pushed is not None:
        push: dict[str, Any] = {"requested": True, **pushed}
    elif validate_only:
        push = {"requested": push_requested, "reason": "validate_only: nothing uploaded"}
    else:
        push = {"requested": False, "reason": "publish.push is false: nothing uploaded"}
    return {
        "validated": True,
        "bundle": report["folder"],
        "checks": report["checks"],
        "files": report["files"],
        "probe": report["probe"],
        "pushed": pushed is not None,
        "push": push,
    }
