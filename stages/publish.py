"""publish: models/model + metrics/eval.json -> models/export (validated bundle with model card)
and metrics/publish.json; with publish.push the bundle is uploaded to the Hugging Face Hub.
With --validate-only (or publish.validate_only): check the bundle in --out (exported first only
when missing) and upload nothing."""

import argparse
import subprocess
import time
from pathlib import Path

from rewardpipe import stage
from rewardpipe.io import write_json
from rewardpipe.params import load_section, to_dict
from rewardpipe.publish import build_bundle, card, export, hub, record, validate_bundle

RUN_SECTIONS = ("prepare", "model", "train", "evaluate")  # what made the model (params hash)


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--model", default="models/model")
    ap.add_argument("--eval", default="metrics/eval.json")
    ap.add_argument("--out", default="models/export")
    ap.add_argument("--metrics", default="metrics/publish.json")
    ap.add_argument("--validate-only", action="store_true", help="check the bundle, upload nothing")
    args = ap.parse_args()
    sections = {name: load_section(args.params, name) for name in (*RUN_SECTIONS, "publish")}
    pp = sections["publish"]
    validate_only = args.validate_only or pp.validate_only
    push = pp.push and not validate_only
    token = hub.ready_to_push(pp.repo_id) if push else None  # fail before exporting
    start = time.perf_counter()
    if validate_only and Path(args.out).exists():
        report = validate_bundle(args.out, args.model)
    else:
        options = card.card_options(
            pp, sections["prepare"], sections["model"], sections["evaluate"]
        )
        if options.license_note:
            print(f"model card: {options.license_note}")
        digest = export.params_hash({name: to_dict(sections[name]) for name in RUN_SECTIONS})
        report = build_bundle(
            args.model,
            args.eval,
            args.out,
            options,
            git_revision=git_revision(),
            params_sha256=digest,
        )
    size = sum(f["bytes"] for f in report["files"].values())
    print(
        f"bundle {args.out}: {len(report['files'])} files, {size / 1e6:.1f} MB, validated in "
        f"{report['seconds']:.1f}s ({time.perf_counter() - start:.1f}s in all); probe max |Δ| "
        f"{report['probe']['max_abs_diff_recorded']:.1e} (tolerance {report['probe']['tolerance']:g})"
    )
    pushed = None
    if push:
        pushed = hub.push(
            args.out, pp.repo_id, token=token, private=pp.private, commit_message=pp.commit_message
        )
        print(
            f"pushed to {pushed['url']} ({'private' if pp.private else 'public'}): {pushed['commit_url']}"
        )
    else:
        print("push: off (" + ("validate only" if validate_only else "publish.push is false") + ")")
    write_json(
        args.metrics,
        record(report, push_requested=pp.push, validate_only=validate_only, pushed=pushed),
    )


if __name__ == "__main__":
    stage.run(main)
