"""grpo: GRPO with LoRA on the policy LM -> the merged policy, curves, before/after accuracy."""

import argparse
from pathlib import Path

from rewardpipe import stage
from rewardpipe.grpo.run import Paths, run
from rewardpipe.params import load_section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True)
    ap.add_argument("--out", required=True, help="the exported policy (Hugging Face CausalLM)")
    ap.add_argument("--checkpoints", required=True, help="orbax checkpoints (persist, for resume)")
    ap.add_argument("--metrics", required=True, help="dvclive folder")
    ap.add_argument("--eval", required=True, help="before/after accuracy JSON")
    ap.add_argument("--work", required=True, help="scratch folder (the tiny policy's tokenizer)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    sections = (load_section(args.params, s) for s in ("prepare", "policy", "grpo"))
    paths = Paths(
        *(Path(p) for p in (args.out, args.checkpoints, args.metrics, args.eval, args.work))
    )
    out = run(*sections, paths, progress=not args.no_progress)
    s, before, after = out["summary"], out["before"], out["after"]
    print(
        f"grpo: {s['steps']} steps; reward first10 {s['reward_mean_first10']:.4f} -> last10 "
        f"{s['reward_mean_last10']:.4f}; test numerical accuracy "
        f"{before['numerical_accuracy']:.3f} -> {after['numerical_accuracy']:.3f} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main)
