"""train: data/prepared -> models/model (+ orbax checkpoints, dvclive curves in metrics/train)."""

import argparse
from pathlib import Path

import jax
from dvclive import Live
from tokenizers import Tokenizer

from rewardpipe import bundle, stage
from rewardpipe.io import atomic_dir, read_jsonl
from rewardpipe.model import factory
from rewardpipe.params import load_section, to_dict
from rewardpipe.training.batching import Encoder, PairBatcher
from rewardpipe.training.checkpoints import Checkpoints, run_dir
from rewardpipe.training.loop import ValData, train
from rewardpipe.training.run import encode_pairs, file_sha256, run_identity, truncate_live


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data/prepared")
    ap.add_argument("--out", default="models/model")
    ap.add_argument("--checkpoints", default="models/checkpoints")
    ap.add_argument("--metrics", default="metrics/train")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    mp, tp = load_section(args.params, "model"), load_section(args.params, "train")
    data = Path(args.data)
    tokenizer = Tokenizer.from_file(str(data / "tokenizer.json"))
    encoder = Encoder(tokenizer, mp.max_len)
    chosen, rejected = encode_pairs(read_jsonl(data / "train.jsonl"), encoder)
    val_chosen, val_rejected = encode_pairs(read_jsonl(data / "val.jsonl"), encoder)
    pad = encoder.specials.pad
    model = factory.create(
        mp, vocab_size=tokenizer.get_vocab_size(), pad_id=pad, precision=tp.precision, seed=tp.seed
    )
    identity = run_identity(
        mp,
        tp,
        file_sha256(*(data / f for f in ("train.jsonl", "val.jsonl", "tokenizer.json"))),
        jax.device_count(),
    )
    checkpoints = Checkpoints(run_dir(args.checkpoints, identity), identity, tp.keep_checkpoints)
    resume = checkpoints.latest_step()
    truncate_live(args.metrics, None if resume is None else resume // tp.grad_accum)
    if resume is not None:
        print(f"resuming from {checkpoints.directory} at step {resume // tp.grad_accum}")
    resumed = resume is not None
    with Live(args.metrics, dvcyaml=False, save_dvc_exp=False, resume=resumed, report=None) as live:
        result = train(
            model,
            tp,
            PairBatcher(chosen, rejected, tp.batch_size, mp.max_len, pad, tp.seed),
            ValData(val_chosen, val_rejected, 64),
            checkpoints=checkpoints,
            live=live,
            progress=not args.no_progress,
        )
    checkpoints.close()
    with atomic_dir(args.out) as tmp:
        bundle.save(
            tmp,
            result.model,
            tokenizer,
            {
                "reward": {"mean": result.reward_mean, "std": result.reward_std},
                "train": {"steps": result.step, "val": result.val, "params": to_dict(tp)},
            },
        )
    print(
        f"trained {result.step} steps in {result.seconds:.0f}s (jit compiles: {result.compiles}); "
        f"val accuracy {result.val['accuracy']:.4f}, loss {result.val['loss']:.4f} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main)
