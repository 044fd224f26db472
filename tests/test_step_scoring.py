"""Tests for rewardpipe.step_scoring: batched step probabilities of a process reward model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.encoding import Encoder, pad_batch
from rewardpipe.model import ModelConfig, build_model
from rewardpipe.model.step_head import step_logits
from rewardpipe.step_encoding import StepEncoder
from rewardpipe.step_scoring import StepScorer, score_step_rows, score_step_sets

SOLUTIONS = [
    "Tom has 3 apples.\nHe buys 2, so 3+2=5.\n#### 5",
    "Tom has 3 apples.\n#### 3",
    "He buys 2.\nSo 2*2=4.\nThen 4+1=5.\n#### 5",
]


@pytest.fixture(scope="module")
def scorer():
    tok = train_bpe([*SOLUTIONS, "How many apples?"], 300)
    cfg = ModelConfig(
        vocab_size=tok.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, d_ff=64, max_len=64
    )
    model = build_model(cfg, seed=1)
    return StepScorer(model, StepEncoder(Encoder(tok, max_len=64))), model


def test_scores_are_the_sigmoid_of_the_step_logits_whatever_the_batching(scorer):
    s, model = scorer
    steps = [sol.split("\n") for sol in SOLUTIONS]
    steps = [[*x[:-2], x[-2] + "\n" + x[-1]] for x in steps]
    one = s.score(["Q"] * 3, steps, batch_size=1)
    many = s.score(["Q"] * 3, steps, batch_size=64)
    assert [len(x) for x in one] == [2, 1, 3]
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ids, pos = s.encoder.encode(["Q"], [steps[2]])
    tokens, mask = pad_batch(ids, 64, s.encoder.specials.pad)
    direct = jax.nn.sigmoid(
        step_logits(model, jnp.asarray(tokens), jnp.asarray(mask), pos[0][None])
    )
    np.testing.assert_allclose(one[2], np.asarray(direct)[0], rtol=1e-5, atol=1e-6)
    assert all(((x > 0) & (x < 1)).all() for x in one)


def test_rows_and_sets_split_into_steps(scorer):
    s, _ = scorer
    sets = [
        {"prompt": "Q", "candidates": [{"text": t} for t in SOLUTIONS]},
        {"prompt": "R", "candidates": [{"text": SOLUTIONS[1]}]},
    ]
    out = score_step_sets(s, sets)
    assert [len(x) for x in out] == [3, 1] and [len(a) for a in out[0]] == [2, 1, 3]
    rows = [{"prompt": "Q", "steps": ["Tom has 3 apples.", "#### 3"]}]
    assert len(score_step_rows(s, rows)[0]) == 2
