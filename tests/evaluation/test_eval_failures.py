"""Failure analysis: most confidently wrong rankings, ordered by gap."""

from __future__ import annotations

from rewardpipe.evaluation.failures import worst_rankings


def make_set(id_, labels, sources=None):
    sources = sources or ["ref" if lab else "arithmetic" for lab in labels]
    return {
        "id": id_,
        "prompt": f"question {id_}",
        "reference": "18",
        "candidates": [
            {"text": f"{id_} candidate {i}", "label": lab, "source": src}
            for i, (lab, src) in enumerate(zip(labels, sources, strict=True))
        ],
    }


SETS = [
    make_set("gap2", [True, False, False], ["ref", "arithmetic", "operator"]),
    make_set("tie", [True, False]),
    make_set("ok", [True, False]),
    make_set("degenerate", [False, False]),
    make_set("gap5", [False, True]),
]
SCORES = [[1.0, 3.0, 2.5], [0.5, 0.5], [2.0, 1.0], [9.0, 0.0], [4.0, -1.0]]


def test_order_and_exclusions():
    rows = worst_rankings(SETS, SCORES, k=10)
    assert [r["id"] for r in rows] == ["gap5", "gap2", "tie"]
    assert [r["gap"] for r in rows] == [5.0, 2.0, 0.0]


def test_row_fields():
    top = worst_rankings(SETS, SCORES, k=2)
    assert len(top) == 2
    assert top[1] == {
        "id": "gap2",
        "prompt": "question gap2",
        "reference": "18",
        "gap": 2.0,
        "chosen_score": 3.0,
        "chosen_source": "arithmetic",
        "chosen_text": "gap2 candidate 1",
        "correct_score": 1.0,
        "correct_text": "gap2 candidate 0",
    }
    assert all(isinstance(v, str | int | float) for row in top for v in row.values())


def test_k_zero():
    assert worst_rankings(SETS, SCORES, k=0) == []
