"""The training loop with train.objective=process: StepBatcher + StepValData through `train`."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.encoding import Encoder
from rewardpipe.model import ModelConfig, build_model
from rewardpipe.params import TrainParams
from rewardpipe.step_encoding import StepEncoder
from rewardpipe.training.loop import StepValData, train
from rewardpipe.training.process import StepBatcher, StepData


def _rows(n: int, seed: int):
    rng = random.Random(seed)
    prompts, steps, labels = [], [], []
    for i in range(n):
        k = rng.randint(2, 4)
        bad = rng.choice([None, *range(k)])
        wrong = [bad is not None and j >= bad for j in range(k)]
        steps.append(
            [f"step {j} {'lost' if w else 'keeps'} {i + j} apples" for j, w in enumerate(wrong)]
        )
        prompts.append(f"question {i}")
        labels.append([-1 if w else 1 for w in wrong])
    return prompts, steps, labels


@pytest.mark.slow  # ~30-70 s on a shared CPU
def test_train_loop_fits_a_process_model_and_reports_step_metrics():
    train_rows, val_rows = _rows(64, 0), _rows(24, 1)
    tok = train_bpe([*train_rows[0], *(s for row in train_rows[1] for s in row)], 300)
    enc = StepEncoder(Encoder(tok, max_len=64))
    data = {}
    for name, (prompts, steps, labels) in (("train", train_rows), ("val", val_rows)):
        ids, pos = enc.encode(prompts, steps)
        data[name] = StepData.build(ids, pos, labels)
    cfg = ModelConfig(
        vocab_size=tok.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, d_ff=64, max_len=64
    )
    tp = TrainParams(
        steps=80, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=40, save_every=40,
        log_every=10, objective="process",
    )  # fmt: skip
    result = train(
        build_model(cfg, seed=0),
        tp,
        StepBatcher(data["train"], 8, 64, enc.specials.pad, seed=0),
        StepValData(data["val"], 8),
        progress=False,
    )
    assert result.step == 80
    assert set(result.val) == {"loss", "accuracy", "margin"}
    assert result.val["accuracy"] > 0.85 and result.val["margin"] > 0
    assert np.isfinite(result.reward_std) and result.reward_std > 0
