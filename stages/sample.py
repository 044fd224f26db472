"""sample: `sample.n` completions per train/test question from the policy -> candidates files."""

import argparse
from pathlib import Path

from rewardpipe import stage
from rewardpipe.params import load_section
from rewardpipe.sample import Paths, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True)
    ap.add_argument("--out", required=True, help="folder: candidates.jsonl, test.jsonl")
    ap.add_argument("--metrics", required=True, help="counts and policy accuracy JSON")
    ap.add_argument("--work", required=True, help="scratch folder (the tiny policy's tokenizer)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    sections = (load_section(args.params, s) for s in ("prepare", "policy", "sample"))
    paths = Paths(Path(args.out), Path(args.metrics), Path(args.work))
    m = run(*sections, paths, progress=not args.no_progress)
    print(
        f"sample: n={m['n']}; train pass@1 {m['train']['pass_at_1']:.3f} pass@n "
        f"{m['train']['pass_at_n']:.3f}; test pass@1 {m['test']['pass_at_1']:.3f} pass@n "
        f"{m['test']['pass_at_n']:.3f} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main)
