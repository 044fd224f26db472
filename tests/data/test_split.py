"""Tests for hash-based split assignment (rewardpipe.data.split)."""

from __future__ import annotations

from collections import Counter

from rewardpipe.data.split import assign, fold, stable_id, unit_hash

NAMES = ("train", "val", "test")
FRACTIONS = (0.7, 0.15, 0.15)
KEYS = [f"Question number {i}: how many apples are left?" for i in range(10_000)]


def assignments(keys, seed, fractions=FRACTIONS):
    return [assign(k, fractions, NAMES, seed) for k in keys]


def test_same_seed_gives_the_same_assignment():
    assert assignments(KEYS[:500], 0) == assignments(KEYS[:500], 0)


def test_different_seed_gives_a_different_assignment():
    a, b = assignments(KEYS[:500], 0), assignments(KEYS[:500], 1)
    moved = sum(x != y for x, y in zip(a, b, strict=True))
    assert moved > 100  # independent draws: about 46 % of keys move


def test_appending_rows_keeps_existing_assignments():
    before = assignments(KEYS[:1000], 3)
    after = assignments(KEYS[:1000] + [f"new question {i}" for i in range(500)], 3)
    assert after[:1000] == before


def test_fractions_are_roughly_respected_on_10k_keys():
    counts = Counter(assignments(KEYS, 0))
    for name, frac in zip(NAMES, FRACTIONS, strict=True):
        assert abs(counts[name] / len(KEYS) - frac) < 0.02, counts
    # Unnormalised weights work the same; a zero fraction gets nothing.
    counts = Counter(assignments(KEYS, 0, (3, 1, 0)))
    assert counts["test"] == 0
    assert abs(counts["train"] / len(KEYS) - 0.75) < 0.02, counts


def test_whitespace_variants_of_a_prompt_land_together():
    assert fold("  How many\n\tapples?  ") == "How many apples?"
    assert assign("How  many\napples?", FRACTIONS, NAMES, 5) == assign(
        "How many apples?", FRACTIONS, NAMES, 5
    )


def test_unit_hash_range_and_stable_ids():
    values = [unit_hash(k, 0) for k in KEYS[:1000]]
    assert all(0 <= v < 1 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55
    assert stable_id("q", "abc") == stable_id("q", "abc")
    assert stable_id("q", "abc") != stable_id("q", "abd")
    assert stable_id("q", "abc").startswith("q-") and len(stable_id("q", "abc")) == 14
