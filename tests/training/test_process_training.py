"""Process training pieces: step targets, step batches, the step BCE loss, and a tiny PRM that
learns to flag the first wrong step."""

from __future__ import annotations

import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.encoding import Encoder
from rewardpipe.errors import UserError
from rewardpipe.model import ModelConfig, build_model
from rewardpipe.model.step_head import step_logits
from rewardpipe.step_encoding import StepEncoder
from rewardpipe.training.process import (
    StepBatcher,
    StepData,
    min_scores,
    solution_pairs,
    step_eval_batches,
    step_loss,
    step_targets,
)


def test_step_targets_mask_after_the_first_wrong_step_and_neutral_steps():
    t, w = step_targets([1, 0, 1, -1, -1, 1])
    assert t.tolist() == [1, 0, 1, 0, 0, 1]
    assert w.tolist() == [1, 0, 1, 1, 0, 0]
    t, w = step_targets([1, 1])
    assert w.tolist() == [1, 1]


def test_step_loss_hand_computed():
    logits = jnp.array([[2.0, -1.0, 5.0]])
    targets = jnp.array([[1.0, 0.0, 1.0]])
    weights = jnp.array([[1.0, 1.0, 0.0]])  # the third step is masked
    loss, m = step_loss(logits, targets, weights)
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(m["accuracy"]) == 1.0
    assert float(m["margin"]) == pytest.approx(3.0)


def test_pair_terms_hand_computed():
    # row 0 correct (3 steps), row 1 erroneous: its first wrong step is step 1 (step 2 masked)
    logits = jnp.array([[2.0, 1.0, 3.0], [1.5, -0.5, 4.0]])
    targets = jnp.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    weights = jnp.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    positions = jnp.array([[3, 6, 9], [3, 6, 9]])
    bce, _ = step_loss(logits, targets, weights)
    loss, m = step_loss(logits, targets, weights, positions, pair_coef=0.5)
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731  -log σ(d) = softplus(-d)
    by_min = softplus(-(1.0 - (-0.5)))  # min of the correct row 1.0, of the erroneous -0.5
    by_step = softplus(-(1.0 - (-0.5)))  # step 1 of each row
    assert float(loss) == pytest.approx(float(bce) + 0.5 * (by_min + by_step), rel=1e-6)
    assert float(m["pair_accuracy"]) == 1.0 and float(m["step_pair_accuracy"]) == 1.0
    # a step the correct row does not have (position -1) drops out of the step term
    short = positions.at[0, 1].set(-1)
    _, m = step_loss(logits, targets, weights, short, pair_coef=0.5)
    assert float(m["step_pair_accuracy"]) == 0.0  # no step left: 0 / max(0, 1)
    np.testing.assert_allclose(min_scores(logits, short), [2.0, -0.5])


def test_solution_pairs_pair_each_erroneous_row_with_a_correct_one_of_its_prompt():
    prompts = ["a", "a", "a", "b", "b", "c", "a"]
    labels = [[1, 1], [1, -1], [-1], [1, 0], [1, -1, -1], [-1], [1, 1]]
    pairs = solution_pairs(prompts, labels)
    # "c" has no correct solution: unpaired; "a"'s correct rows 0 and 6 are taken in turn
    assert pairs.tolist() == [[0, 1], [6, 2], [3, 4]]
    assert solution_pairs(["x"], [[1]]).shape == (0, 2)


def _data(n=40, seed=0):
    """Solutions whose first `bad` step says "lost"; labels follow (wrong from it on)."""
    rng = random.Random(seed)
    prompts, steps, labels = [], [], []
    for i in range(n):
        k = rng.randint(2, 4)
        bad = rng.choice([None, *range(k)])
        row = [
            f"step {j} keeps {i + j} apples"
            if bad is None or j < bad
            else f"step {j} lost {i + j} apples"
            for j in range(k)
        ]
        prompts.append(f"question {i}")
        steps.append(row)
        labels.append([1 if bad is None or j < bad else -1 for j in range(k)])
    return prompts, steps, labels


@pytest.fixture(scope="module")
def encoded():
    prompts, steps, labels = _data()
    tok = train_bpe(prompts + [s for row in steps for s in row], 300)
    enc = StepEncoder(Encoder(tok, max_len=64))
    ids, pos = enc.encode(prompts, steps)
    return tok, enc, StepData.build(ids, pos, labels)


def test_batch_shapes_targets_and_weights(encoded):
    _, enc, data = encoded
    batch = data.batch([0, 1], 64, enc.specials.pad)
    assert batch.positions.shape == batch.targets.shape == (2, data.max_steps)
    for r, i in enumerate([0, 1]):
        n = len(data.labels[i])
        assert (batch.positions[r, n:] == -1).all() and (batch.weights[r, n:] == 0).all()
        t, w = step_targets(data.labels[i])
        assert batch.targets[r, :n].tolist() == t.tolist()
        assert batch.weights[r, :n].tolist() == w.tolist()


def test_batcher_is_deterministic_and_resumes_exactly(encoded):
    _, enc, data = encoded
    a = StepBatcher(data, 8, 64, enc.specials.pad, seed=1)
    first = [b.tokens for _, b in zip(range(7), a.from_step(0), strict=False)]
    resumed = [b.tokens for _, b in zip(range(3), a.from_step(4), strict=False)]
    for x, y in zip(first[4:], resumed, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(UserError, match="larger than the 40 step-labelled"):
        StepBatcher(data, 41, 64, enc.specials.pad, seed=1)


def test_paired_batches_hold_correct_rows_then_their_erroneous_partners():
    prompts, steps, labels = _data(60, seed=3)
    prompts = [f"question {i // 3}" for i in range(60)]  # three solutions per question
    tok = train_bpe(prompts + [s for row in steps for s in row], 300)
    enc = StepEncoder(Encoder(tok, max_len=64))
    ids, pos = enc.encode(prompts, steps)
    data = StepData.build(ids, pos, labels, prompts=prompts)
    assert len(data.pairs) > 8
    batcher = StepBatcher(data, 4, 64, enc.specials.pad, seed=0)
    assert batcher.paired and batcher.batches_per_epoch == len(data.pairs) // 4
    by_ids = {tuple(x.tolist()): i for i, x in enumerate(data.ids)}
    stream = batcher.from_step(0)
    for _ in range(batcher.batches_per_epoch):
        b = next(stream)
        assert b.paired and b.rows == 8
        rows = [by_ids[tuple(t[m].tolist())] for t, m in zip(b.tokens, b.mask, strict=True)]
        for c, r in zip(rows[:4], rows[4:], strict=True):
            assert prompts[c] == prompts[r]
            assert min(labels[c]) >= 0 and min(labels[r]) < 0
    again = [b.tokens for _, b in zip(range(5), batcher.from_step(3), strict=False)]
    first = [b.tokens for _, b in zip(range(8), batcher.from_step(0), strict=False)]
    for x, y in zip(first[3:], again, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(UserError, match="solution pairs"):
        StepBatcher(data, len(data.pairs) + 1, 64, enc.specials.pad, seed=0)


def test_eval_batches_cover_every_row_once_and_pad_with_zero_weight(encoded):
    _, enc, data = encoded
    batches = list(step_eval_batches(data, 16, 64, enc.specials.pad))
    assert sum(real for _, real in batches) == len(data)
    last, real = batches[-1]
    assert last.rows == 16 and (last.weights[real:] == 0).all()


@pytest.mark.slow
def test_a_tiny_prm_learns_where_solutions_go_wrong(encoded):
    tok, enc, data = encoded
    cfg = ModelConfig(
        vocab_size=tok.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, d_ff=64, max_len=64
    )
    model = build_model(cfg, seed=0)
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(3e-3)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, tokens, mask, positions, targets, weights):
        def loss_fn(p):
            logits = step_logits(nnx.merge(graphdef, p), tokens, mask, positions)
            return step_loss(logits, targets, weights)

        (_, m), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt = tx.update(grads, opt, params)
        return optax.apply_updates(params, updates), opt, m

    length = max(len(x) for x in data.ids)  # one shape: one compile
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(120):
        b = data.batch(rng.choice(len(data), 8, replace=False), length, enc.specials.pad)
        params, opt, m = step(params, opt, b.tokens, b.mask, b.positions, b.targets, b.weights)
        losses.append(float(m["loss"]))
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:10])
    b, _ = next(step_eval_batches(data, len(data), 64, enc.specials.pad))
    logits = step_logits(nnx.merge(graphdef, params), b.tokens, b.mask, b.positions)
    _, m = step_loss(logits, b.targets, b.weights)
    assert float(m["accuracy"]) > 0.9
