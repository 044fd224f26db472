"""publish: models/model + metrics/eval.json -> models/export (validated bundle with model card)
and metrics/publish.json; with publish.push the bundle is uploaded to the Hugging Face Hub.
With publish.validate_only the bundle is exported and checked but not uploaded. With the
--validate-only flag the existing bundle in --out is checked and nothing is written."""

import argparse
import subprocess
import time
from pathlib import Path

from rewardpipe import pretrained, stage
from rewardpipe.errors import UserError
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
    ap.add_argument("--params", required=True)
    ap.add_argument("--model", required=True, help="the trained model folder")
    ap.add_argument("--eval", help="the evaluate stage's metrics JSON (not with --validate-only)")
    ap.add_argument("--out", required=True, help="the bundle folder to write (or to validate)")
    ap.add_argument("--metrics", help="publish record JSON (required unless --validate-only)")
    ap.add_argument(
        "--validate-only", action="store_true", help="check the bundle in --out; write nothing"
    )
    args = ap.parse_args()
    sections = {name: load_section(args.params, name) for name in (*RUN_SECTIONS, "publish")}
    publish_params = sections["publish"]
    if not args.validate_only and not (args.eval and args.metrics):
        ap.error("--eval and --metrics are required unless --validate-only")
    validate_only = args.validate_only or publish_params.validate_only
    push = publish_params.push and not validate_only
    token = hub.ready_to_push(publish_params.repo_id) if push else None  # fail before exporting
    start = time.perf_counter()
    if args.validate_only:
        if not Path(args.out).is_dir():
            raise UserError(f"{args.out}: no bundle to validate; run `dvc repro publish` first")
        report = validate_bundle(args.out, args.model)
    else:
        options = card.card_options(  # the backbone's card facts come from its local folder
            publish_params,
            sections["prepare"],
            pretrained.local(sections["model"]),
            sections["evaluate"],
        )
        if options.license_note:
            print(f"model card: {options.license_note}")
        digest = export.params_hash({name: to_dict(sections[name]) for name in RUN_SECTIONS})
        report = build_bundle(
            args.model,
            args.eval,
            args.out,
            options,
            # A local export must be byte-stable: the commit that will hold its dvc.lock cannot
            # be named inside it, so the revision is recorded only in a bundle that is pushed.
            git_revision=git_revision() if push else None,
            params_sha256=digest,
            max_shard_bytes=publish_params.max_shard_bytes,
        )
    size = sum(f["bytes"] for f in report["files"].values())
    print(
        f"bundle {args.out}: {len(report['files'])} files, {size / 1e6:.1f} MB, validated in "
        f"{report['seconds']:.1f}s ({time.perf_counter() - start:.1f}s in all); probe max |Δ| "
        f"{report['probe']['max_abs_diff_recorded']:.1e} (tolerance {report['probe']['tolerance']:g})"
    )
    if args.validate_only:
        print("push: off (--validate-only); nothing written")
        return
    pushed = None
    if push:
        pushed = hub.push(
            args.out,
            publish_params.repo_id,
            token=token,
            private=publish_params.private,
            commit_message=publish_params.commit_message,
        )
        visibility = "private" if publish_params.private else "public"
        print(f"pushed to {pushed['url']} ({visibility}): {pushed['commit_url']}")
    else:
        print("push: off (" + ("validate only" if validate_only else "publish.push is false") + ")")
    write_json(
        args.metrics,
        record(
            report, push_requested=publish_params.push, validate_only=validate_only, pushed=pushed
        ),
    )


if __name__ == "__main__":
    stage.run(main)
