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


def test_whole_numbers_are_the_same_tokens_wherever_they_stand(texts):
    tok = train_bpe(texts, 800, numbers="whole")
    text = "She has 15 apples.\nHe ate 15*3 = <<15*3=45>>45 of them.\n#### 45"
    pieces = tok.encode(text).tokens
    assert tok.decode(tok.encode(text).ids) == text
    assert pieces.count("15") == 3 and pieces.count("45") == 3
    assert not any(p.startswith("Ġ") and p[1:].isdigit() for p in pieces)
    # GPT-2's split gives " 15" and "15" different tokens
    bpe = train_bpe(texts, 800, numbers="bpe").encode(text).tokens
    assert "Ġ15" in bpe and "15" in bpe


def test_digits_are_single_tokens(texts):
    tok = train_bpe(texts, 800, numbers="digits")
    pieces = tok.encode("Total: 1234 and 56.7").tokens
    assert [p for p in pieces if p.isdigit()] == ["1", "2", "3", "4", "5", "6", "7"]
    assert tok.decode(tok.encode("Total: 1234 and 56.7").ids) == "Total: 1234 and 56.7"


def test_unknown_number_mode_names_the_choices(texts):
    with pytest.raises(UserError, match=r"expected one of whole \| digits \| bpe, got .roman."):
        train_bpe(texts, 500, numbers="roman")
