"""Tests for the byte-level BPE tokenizer (rewardpipe.data.tokenizer)."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from rewardpipe.data import synthetic
from rewardpipe.data.tokenizer import PAD, SPECIAL_TOKENS, load_pretrained, train_bpe
from rewardpipe.errors import UserError


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = synthetic.generate(60, seed=0)
    return [t for r in rows for t in (r["question"], r["answer"])]


def test_training_is_deterministic(texts):
    first = train_bpe(texts, 500).to_str()
    assert train_bpe(texts, 500).to_str() == first
    assert train_bpe(list(reversed(texts))[:50], 500).to_str() != first


def test_special_tokens_come_first_with_pad_zero(texts):
    tok = train_bpe(texts, 500)
    assert tok.token_to_id(PAD) == 0
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2]
    assert 300 < tok.get_vocab_size() <= 500


@pytest.mark.parametrize(
    "text",
    [
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72",
        "Prices: $1,234.50 and 0.05 — naïve café ✓ 3.14159",
        "   leading spaces and\ttabs\n\nblank lines  ",
    ],
)
def test_round_trip_decode(texts, text):
    tok = train_bpe(texts, 500)
    ids = tok.encode(text).ids
    assert 0 not in ids
    assert tok.decode(ids) == text


def test_merges_shorten_training_text(texts):
    tok = train_bpe(texts, 800)
    sample = texts[1]
    assert len(tok.encode(sample).ids) < len(sample.encode("utf-8")) / 2


def test_saved_tokenizer_loads_as_pretrained(tmp_path, texts):
    tok = train_bpe(texts, 400)
    tok.save(str(tmp_path / "tokenizer.json"))
    loaded = load_pretrained(tmp_path)
    assert isinstance(loaded, Tokenizer)
    assert loaded.to_str() == tok.to_str()
    with pytest.raises(UserError, match=r"tokenizer\.json"):
        load_pretrained(tmp_path / "absent")
