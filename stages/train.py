"""train: prepared pairs (train.objective=outcome) or step-labelled solutions (process) -> a
trained model folder (+ orbax checkpoints, dvclive curves)."""

import argparse
from pathlib import Path

import jax
from dvclive import Live
from tokenizers import Tokenizer

from rewardpipe import model_folder, pretrained, stage
from rewardpipe.chat_format import PromptFormat
from rewardpipe.encoding import Encoder, PromptEncoder, encode_pairs
from rewardpipe.errors import UserError
from rewardpipe.io import atomic_dir, read_json, read_jsonl, write_json
from rewardpipe.model import factory
from rewardpipe.params import load_section, to_dict
from rewardpipe.step_encoding import StepEncoder
from rewardpipe.training import curves, sharding
from rewardpipe.training.batching import PairBatcher
from rewardpipe.training.checkpoints import Checkpoints, file_sha256, run_dir, run_identity
from rewardpipe.training.loop import StepValData, ValData, train
from rewardpipe.training.process import StepBatcher, StepData


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", required=True)
    ap.add_argument("--data", required=True, help="folder with train/val.jsonl, tokenizer.json")
    ap.add_argument("--out", required=True, help="the trained model folder")
    ap.add_argument("--checkpoints", required=True, help="orbax checkpoints (persist, for resume)")
    ap.add_argument("--metrics", required=True, help="dvclive folder")
    ap.add_argument("--perf", required=True, help="timings JSON (not a DVC metric)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    asked = load_section(args.params, "model")
    model_params = pretrained.local(asked)  # a Hub id is downloaded (cached) at model.revision
    train_params = load_section(args.params, "train")
    data = Path(args.data)
    tokenizer = Tokenizer.from_file(str(data / "tokenizer.json"))
    decoder = model_params.backbone == "decoder"
    if decoder:  # the pretrained folder's chat template (or question\n\nsolution + EOS)
        encoder = PromptEncoder(
            PromptFormat.from_folder(model_params.pretrained),
            model_params.max_len,
            model_folder.decoder_pad_id(model_params.pretrained),
        )
    else:
        encoder = Encoder(tokenizer, model_params.max_len)
    pad = encoder.specials.pad
    process = train_params.objective == "process"
    if process:
        step_encoder = StepEncoder(encoder)
        batcher, val = _step_data(data, step_encoder, train_params, model_params.max_len, pad)
    else:
        chosen, rejected = encode_pairs(read_jsonl(data / "train.jsonl"), encoder)
        val_chosen, val_rejected = encode_pairs(read_jsonl(data / "val.jsonl"), encoder)
        batcher = PairBatcher(
            chosen, rejected, train_params.batch_size, model_params.max_len, pad, train_params.seed
        )
        val = ValData(val_chosen, val_rejected, 64)
    model = factory.create(
        model_params,
        vocab_size=tokenizer.get_vocab_size(),
        pad_id=pad,
        precision=train_params.precision,
        seed=train_params.seed,
        process=process,  # a scratch PRM: causal, rotary positions, seen-token marks
    )
    inputs = ("train.jsonl", "val.jsonl", "tokenizer.json")
    if process:
        inputs += ("steps/train.jsonl", "steps/val.jsonl")
    data_sha256 = file_sha256(*(data / f for f in inputs))
    identity = run_identity(model_params, train_params, data_sha256, jax.device_count())
    checkpoints = Checkpoints(
        run_dir(args.checkpoints, identity), identity, train_params.keep_checkpoints
    )
    resume = checkpoints.latest_step()
    # The curves always belong to the model beside them: those of the checkpoint resumed from.
    curves.restore(args.metrics, None if resume is None else checkpoints.meta(resume)["curves"])
    if resume is not None:
        print(f"resuming from {checkpoints.directory} at step {resume}")
    with Live(
        args.metrics, dvcyaml=False, save_dvc_exp=False, resume=resume is not None, report=None
    ) as live:
        result = train(
            model,
            train_params,
            batcher,
            val,
            checkpoints=checkpoints,
            live=live,
            progress=not args.no_progress,
            mesh=sharding.train_mesh(
                train_params.mesh_data, train_params.mesh_fsdp, fsdp_default=decoder
            ),
        )
    checkpoints.close()
    summary = Path(args.metrics) / curves.SUMMARY  # the curves' last values
    last = read_json(summary).get("train", {}) if summary.is_file() else {}
    with atomic_dir(args.out) as tmp:
        model_folder.save(
            tmp,
            result.model,
            tokenizer,
            {
                "reward": {"mean": result.reward_mean, "std": result.reward_std},
                # only a process model records these: an outcome model's folder is as before
                **(
                    {"objective": "process", "separator": step_encoder.separator} if process else {}
                ),
                "train": {
                    "steps": result.step,
                    "val": result.val,
                    "loss": last.get("loss"),
                    "params": to_dict(train_params),
                    "pretrained": asked.pretrained
                    and {
                        "name": asked.pretrained,
                        "revision": asked.revision,
                        "commit": pretrained.commit_of(Path(model_params.pretrained)),
                    },
                },
            },
            pretrained=model_params.pretrained if decoder else None,
            max_len=model_params.max_len if decoder else None,
        )
    write_json(args.perf, result.perf)
    print(
        f"trained {result.step} steps in {result.perf['seconds']:.0f}s "
        f"({result.perf['tokens_per_s']:.0f} tokens/s, {result.perf['compiles']} compiled shapes); "
        f"val accuracy {result.val['accuracy']:.4f}, loss {result.val['loss']:.4f} -> {args.out}"
    )


def _step_data(data: Path, step_encoder: StepEncoder, train_params, max_len: int, pad: int):
    """A process model's batcher and val data from data/prepared/steps/{train,val}.jsonl."""
    built = {}
    for split in ("train", "val"):
        path = data / "steps" / f"{split}.jsonl"
        if not path.is_file():
            raise UserError(
                f"{path}: not found; train.objective=process needs prepare to run with it too "
                "(dvc exp run -S train.objective=process reruns prepare)"
            )
        rows = read_jsonl(path)
        ids, positions = step_encoder.encode(
            [r["prompt"] for r in rows], [r["steps"] for r in rows]
        )
        pair = split == "train" and train_params.process_pair_coef > 0
        prompts = [r["prompt"] for r in rows] if pair else None
        built[split] = StepData.build(ids, positions, [r["labels"] for r in rows], prompts=prompts)
    batcher = StepBatcher(built["train"], train_params.batch_size, max_len, pad, train_params.seed)
    return batcher, StepValData(built["val"], 64)


if __name__ == "__main__":
    stage.run(main)
