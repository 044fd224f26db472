"""Scoring batches: every row once, length-sorted, bounded by rows and padded tokens."""

from __future__ import annotations

import numpy as np
import pytest

from rewardpipe.encoding import bucket_length, scoring_batches


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_scoring_batches_cover_rows_once_within_their_budget(batch_size):
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 300, size=500)
    seen, last, sizes = [], 0, {}
    for idx, length, size in scoring_batches(lengths, batch_size, 256, max_tokens=2048):
        assert len(idx) <= size <= batch_size
        assert len(idx) == 1 or size * length <= 2048
        assert length == bucket_length(int(lengths[idx].max()), 256)
        assert lengths[idx].min() >= last  # sorted by length
        last = int(lengths[idx].max())
        sizes.setdefault(length, set()).add(size)
        seen += idx.tolist()
    assert sorted(seen) == list(range(500))
    assert all(len(s) == 1 for s in sizes.values())  # one shape per bucket: few compiles


def test_a_small_call_is_not_padded_to_the_budget():
    (idx, length, size), *rest = scoring_batches([10, 12, 20], 64, 256)
    assert not rest and sorted(idx.tolist()) == [0, 1, 2] and length == 32 and size == 3
