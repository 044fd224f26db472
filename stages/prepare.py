"""prepare: raw data -> data/prepared/{train,val,test}.jsonl, tokenizer.json, stats.json
and steps/ (step-labelled {train,val,test}.jsonl when train.objective is process, else empty)."""

import argparse
import time
from pathlib import Path

from rewardpipe import pretrained, stage
from rewardpipe.data.candidates import load_candidates
from rewardpipe.data.formats import load_custom_config
from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import content_hash, load_source
from rewardpipe.data.tokenizer import load_pretrained
from rewardpipe.io import atomic_dir, write_json, write_jsonl
from rewardpipe.params import load_section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True)
    ap.add_argument("--out", required=True, help="folder for the splits, tokenizer and stats")
    args = ap.parse_args()
    prepare_params = load_section(args.params, "prepare")
    model_params = pretrained.local(load_section(args.params, "model"))  # Hub id: download
    objective = load_section(args.params, "train").objective  # process: step labels too
    start = time.perf_counter()
    kind, columns = (
        load_custom_config(prepare_params.custom_config)
        if prepare_params.dataset == "custom"
        else (prepare_params.dataset, prepare_params.columns)
    )
    raw = load_source(
        prepare_params.source,
        path=prepare_params.path,
        hub_name=prepare_params.hub_name,
        hub_config=prepare_params.hub_config,
        hub_revision=prepare_params.hub_revision,
        n_train=prepare_params.synthetic_train,
        n_test=prepare_params.synthetic_test,
        seed=prepare_params.seed,
    )
    prepared = prepare(
        raw,
        prepare_params,
        kind=kind,
        columns=columns,
        source_hash=content_hash(raw),
        tokenizer=(
            load_pretrained(model_params.pretrained)
            if model_params.backbone in ("bert", "decoder")
            else None
        ),
        candidates=load_candidates(prepare_params.candidates_path)
        if prepare_params.candidates_path
        else None,
        process=objective == "process",
    )
    with atomic_dir(args.out) as tmp:
        for split in ("train", "val", "test"):
            write_jsonl(tmp / f"{split}.jsonl", getattr(prepared, split))
        (tmp / "steps").mkdir()  # always an out; the default pipeline's other outs are unchanged
        for split in ("train", "val", "test") if prepared.steps is not None else ():
            write_jsonl(tmp / "steps" / f"{split}.jsonl", prepared.steps[split])
        prepared.tokenizer.save(str(tmp / "tokenizer.json"))
        write_json(tmp / "stats.json", prepared.stats)
    c = prepared.stats["counts"]
    print(
        f"prepared {c['train']['pairs']} train / {c['val']['pairs']} val pairs, "
        f"{c['test']['prompts']} test prompts in {time.perf_counter() - start:.1f}s -> {Path(args.out)}"
    )


if __name__ == "__main__":
    stage.run(main)
