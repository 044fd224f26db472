"""rewardpipe's training step beside TRL's RewardTrainer on the same GSM8K pairs and shape: ours
first (`train_throughput.bench`), then TRL in a child process (torch and XLA thread pools never
share a process), on the very pairs our timed steps saw (same token ids, 16 pairs per step,
dynamic padding, a BertForSequenceClassification of the same size, no dropout, AdamW, the same
centering term). Prints both and the ratio.

    .venv/bin/python benchmarks/peer_trl.py --gsm8k ../shared/data/gsm8k [-S ...] [--steps 40]

Dev-only dependencies: torch (the CPU wheel in /opt/wheels), transformers and trl
(`scripts/setup.sh dev` installs them where the wheel exists); without them it says so and exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rewardpipe.allocator import keep_freed_memory


def trl_bench(job: dict) -> dict:
    """TRL's pairs/s over `steps` optimizer steps after `warmup` untimed ones (in the child)."""
    import torch
    from datasets import Dataset
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        PreTrainedTokenizerFast,
        TrainerCallback,
    )
    from trl import RewardConfig, RewardTrainer

    shape, train, pairs = job["shape"], job["train"], job["pairs"]
    steps, warmup, batch = job["steps"], job["warmup"], train["batch_size"]
    config = BertConfig(
        vocab_size=shape["vocab_size"],
        hidden_size=shape["d_model"],
        num_hidden_layers=shape["n_layers"],
        num_attention_heads=shape["n_heads"],
        intermediate_size=shape["d_ff"],
        max_position_embeddings=shape["max_len"],
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=1,
        pad_token_id=job["pad"],
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=job["tokenizer"])
    tokenizer.pad_token = job["pad_token"]
    total = warmup + steps
    rows = (pairs * (1 + total * batch // len(pairs)))[: total * batch]
    data = Dataset.from_dict(
        {"chosen_ids": [c for c, _ in rows], "rejected_ids": [r for _, r in rows]}
    )

    class Clock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        args = RewardConfig(
            output_dir=out,
            per_device_train_batch_size=batch,
            max_steps=total,
            learning_rate=train["lr"],
            weight_decay=train["weight_decay"],
            max_grad_norm=train["grad_clip"],
            center_rewards_coefficient=train["center_coef"],
            max_length=None,
            bf16=False,  # TRL's defaults are bfloat16 autocast and gradient checkpointing;
            gradient_checkpointing=False,  # ours runs float32 without remat: the same work
            logging_steps=10**6,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            dataloader_num_workers=0,
            seed=0,
            data_seed=0,
            disable_tqdm=True,
        )
        trainer = RewardTrainer(
            model=model,
            args=args,
            train_dataset=data,
            processing_class=tokenizer,
            callbacks=[clock],
        )
        print(f"[bench] TRL: {total} steps ({warmup} untimed)", file=sys.stderr, flush=True)
        trainer.train()
    elapsed = clock.times[-1] - clock.times[warmup - 1]
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "steps": steps,
        "step_time_s": elapsed / steps,
        "pairs_per_s": steps * batch / elapsed,
        "params": sum(p.numel() for p in model.parameters()),
    }


def main(argv: list[str] | None = None) -> None:
    keep_freed_memory()  # as stage.run does: timings match the pipeline's
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gsm8k", required=True)
    ap.add_argument("-S", "--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5, help="TRL steps left out of the timing")
    ap.add_argument("--trl-job", type=Path, help=argparse.SUPPRESS)  # the child's input
    args = ap.parse_args(argv)
    if args.trl_job:  # the child: torch only (no jax, nor its allocator, in this process)
        print(json.dumps(trl_bench(json.loads(args.trl_job.read_text()))))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_throughput as ours

    missing = [m for m in ("torch", "transformers", "trl") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"peer_trl: skipped: {', '.join(missing)} not installed (dev-only: torch from "
            "/opt/wheels, transformers and trl from PyPI; scripts/setup.sh dev installs them)",
            file=sys.stderr,
        )
        return
    w = ours.workload(args.gsm8k, args.set)
    peak = ours.matmul_flops()
    mine = ours.bench(w, args.steps, peak)
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.json"
        w.tokenizer.save(str(Path(tmp) / "tokenizer.json"))
        pairs = [(c.tolist(), r.tolist()) for c, r in ours.timed_pairs(w, args.steps)]
        job.write_text(
            json.dumps(
                {
                    "shape": mine["shape"] | {"max_len": w.model.max_len},
                    "train": dataclasses.asdict(w.train),
                    "pad": w.pad,
                    "pad_token": w.tokenizer.id_to_token(w.pad),
                    "tokenizer": str(Path(tmp) / "tokenizer.json"),
                    "pairs": pairs,
                    "steps": args.steps,
                    "warmup": args.warmup,
                }
            )
        )
        child = subprocess.run(
            [sys.executable, __file__, "--gsm8k", args.gsm8k, "--trl-job", str(job)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        peer = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {
                "matmul_flops_per_s": peak,
                "rewardpipe": mine,
                "trl": peer,
                "ratio_pairs_per_s": mine["pairs_per_s"] / peer["pairs_per_s"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
