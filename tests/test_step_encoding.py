"""Tests for step-level encoding (rewardpipe.step_encoding) and per-step logits."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.encoding import Encoder, PromptEncoder, pad_batch
from rewardpipe.errors import UserError
from rewardpipe.model import ModelConfig, build_model
from rewardpipe.model.step_head import step_logits
from rewardpipe.step_encoding import StepEncoder

STEPS = ["Tom has 3 apples.", "He buys 2, so 3+2=5.", "That is 5 apples.\n#### 5"]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [
        f"Tom has {i} apples and buys {i * 2} more. <<{i}+{2 * i}={3 * i}>>" for i in range(200)
    ]
    return train_bpe(texts + STEPS, 400)


def test_encoder_puts_a_sep_after_every_step_and_reads_there(tokenizer):
    enc = StepEncoder(Encoder(tokenizer, max_len=128))
    (ids,), (pos,) = enc.encode(["How many apples?"], [STEPS])
    sep = enc.specials.sep
    assert enc.separator == tokenizer.id_to_token(sep)
    assert len(pos) == 3 and all(ids[p] == sep for p in pos)
    assert pos[-1] == len(ids) - 1
    assert ids[0] == enc.specials.cls
    # the tokens between separators are each step's own tokens
    first = tokenizer.encode(STEPS[0], add_special_tokens=False).ids
    prompt_sep = int(np.flatnonzero(ids == sep)[0])
    assert list(ids[prompt_sep + 1 : pos[0]]) == first


def test_encoder_truncation_keeps_the_end_and_marks_cut_steps(tokenizer):
    full = StepEncoder(Encoder(tokenizer, max_len=256)).encode(["Q?"], [STEPS * 3])
    n = len(full[0][0])
    enc = StepEncoder(Encoder(tokenizer, max_len=n - 12))
    (ids,), (pos,) = enc.encode(["Q?"], [STEPS * 3])
    assert len(ids) == n - 12
    assert pos[0] == -1 and pos[-1] == len(ids) - 1
    kept = pos[pos >= 0]
    assert all(ids[p] == enc.specials.sep for p in kept)


def test_empty_steps_are_an_error(tokenizer):
    with pytest.raises(UserError, match="input 0: steps: expected at least one step"):
        StepEncoder(Encoder(tokenizer, max_len=64)).encode(["Q"], [[]])


class _Format:
    """A fallback-format stand-in: question, blank line, solution, EOS."""

    _compiled = None
    bos_token = None

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def format(self, q, s):
        return q + "\n\n" + s + "<sep>"


def test_decoder_reads_each_steps_last_character_token(tokenizer):
    enc = StepEncoder(PromptEncoder(_Format(tokenizer), max_len=256, pad_id=0))
    assert enc.separator == "\n"
    (_ids,), (pos,) = enc.encode(["How many?"], [STEPS])
    text = "How many?\n\n" + "\n".join(STEPS) + "<sep>"
    offsets = tokenizer.encode(text).offsets
    for p, step in zip(pos, STEPS, strict=True):
        end = text.index(step) + len(step) - 1  # the step's last character
        assert offsets[p][0] <= end < offsets[p][1]
    assert list(pos) == sorted(pos) and len(set(pos)) == 3


@pytest.mark.parametrize("norm", ["pre", "post"])  # scratch transformer, BERT layout
def test_step_logits_read_the_head_at_each_position(tokenizer, norm):
    cfg = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(), d_model=32, n_layers=1, n_heads=2, d_ff=64,
        max_len=64, norm=norm, type_vocab_size=2 if norm == "post" else 0,
    )  # fmt: skip
    model = build_model(cfg, seed=0)
    enc = StepEncoder(Encoder(tokenizer, max_len=64))
    ids, pos = enc.encode(["Q?", "Q?"], [STEPS, STEPS[:1]])
    tokens, mask = pad_batch(ids, 64, enc.specials.pad)
    positions = np.full((2, 3), -1, np.int32)
    positions[0], positions[1, :1] = pos[0], pos[1]
    logits = np.asarray(step_logits(model, jnp.asarray(tokens), jnp.asarray(mask), positions))
    assert logits.shape == (2, 3)
    h = np.asarray(model.encode(jnp.asarray(tokens), jnp.asarray(mask)))
    expected = np.asarray(model.head(jnp.asarray(h[0, pos[0]])))[:, 0]
    np.testing.assert_allclose(logits[0], expected, rtol=1e-5, atol=1e-6)
    # the outcome reward of a sequence read at its last token is the last step's logit
    reward = np.asarray(model(jnp.asarray(tokens), jnp.asarray(mask)))
    np.testing.assert_allclose(logits[0, 2], reward[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[1, 0], reward[1], rtol=1e-5, atol=1e-6)
