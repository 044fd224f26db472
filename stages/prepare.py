"""prepare: raw data -> data/prepared/{train,val,test}.jsonl, tokenizer.json, stats.json."""

import argparse
import time
from pathlib import Path

from rewardpipe import stage
from rewardpipe.data.candidates import load_candidates
from rewardpipe.data.formats import load_custom_config
from rewardpipe.data.prepare import prepare
from rewardpipe.data.sources import content_hash, load_source
from rewardpipe.data.tokenizer import load_pretrained
from rewardpipe.io import atomic_dir, write_json, write_jsonl
from rewardpipe.params import load_section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="data/prepared")
    args = ap.parse_args()
    p, m = load_section(args.params, "prepare"), load_section(args.params, "model")
    start = time.perf_counter()
    kind, columns = (
        load_custom_config(p.custom_config) if p.dataset == "custom" else (p.dataset, p.columns)
    )
    raw = load_source(
        p.source,
        path=p.path,
        hub_name=p.hub_name,
        hub_config=p.hub_config,
        hub_revision=p.hub_revision,
        n_train=p.synthetic_train,
        n_test=p.synthetic_test,
        seed=p.seed,
    )
    prepared = prepare(
        raw,
        p,
        kind=kind,
        columns=columns,
        source_hash=content_hash(raw),
        tokenizer=load_pretrained(m.pretrained) if m.backbone == "bert" else None,
        candidates=load_candidates(p.candidates_path) if p.candidates_path else None,
    )
    with atomic_dir(args.out) as tmp:
        for split in ("train", "val", "test"):
            write_jsonl(tmp / f"{split}.jsonl", getattr(prepared, split))
        prepared.tokenizer.save(str(tmp / "tokenizer.json"))
        write_json(tmp / "stats.json", prepared.stats)
    c = prepared.stats["counts"]
    print(
        f"prepared {c['train']['pairs']} train / {c['val']['pairs']} val pairs, "
        f"{c['test']['prompts']} test prompts in {time.perf_counter() - start:.1f}s -> {Path(args.out)}"
    )


if __name__ == "__main__":
    stage.run(main)
