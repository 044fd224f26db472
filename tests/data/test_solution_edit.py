from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rewardpipe.data.solution_edit import parse, perturbed

GSM8K_TRAIN = Path(__file__).resolve().parents[3] / "shared/data/gsm8k/train.jsonl"


# --- propagation --------------------------------------------------------------------------


def test_propagation_reaches_visible_sums_and_plain_equations():
    """A slip flows into `$61 + $20`, the unannotated `81/4 = $20.25` and the final answer."""
    solution = (
        "He earns 4 x 15 = <<4*15=60>>60 dollars.\n"
        "He saves $60 + $20 = $<<60+20=80>>80 in total.\n"
        "Each of 4 weeks gets 80/4 = $20\n"
        "#### 20"
    )
    doc = parse(solution)
    assert doc is not None and doc.render() == solution
    doc = replace(doc, given=(4.0, 15.0, 20.0))
    li, pi, calc = doc.calcs()[0]
    new = replace(calc, value="61", result="61")
    out = perturbed(doc, li, pi, new, calc)
    assert out is not None
    assert out.render() == (
        "He earns 4 x 15 = <<4*15=61>>61 dollars.\n"
        "He saves $61 + $20 = $<<61+20=81>>81 in total.\n"
        "Each of 4 weeks gets 81/4 = $20.25\n"
        "#### 20.25"
    )


def test_propagated_values_replace_prose_mentions_on_the_changed_line():
    solution = (
        "He earned $60 mowing because 4 x 15 = <<4*15=60>>60\n"
        "He has 60 + 20 = <<60+20=80>>80 dollars now.\n"
        "#### 80"
    )
    doc = parse(solution)
    assert doc is not None
    li, pi, calc = doc.calcs()[0]
    out = perturbed(doc, li, pi, replace(calc, value="70", result="70"), calc)
    assert out is not None
    assert out.render().split("\n")[0] == "He earned $70 mowing because 4 x 15 = <<4*15=70>>70"


# --- the real GSM8K -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gsm8k_rows():
    if not GSM8K_TRAIN.exists():
        pytest.skip(f"{GSM8K_TRAIN} not present")
    with GSM8K_TRAIN.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(2000), fh, strict=False)]
    return rows


def test_parse_renders_every_real_solution_unchanged(gsm8k_rows):
    for row in gsm8k_rows:
        doc = parse(row["answer"])
        assert doc is not None and doc.render() == row["answer"].rstrip()


def test_safe_eval_bounds_the_work_of_nested_powers() -> None:
    from rewardpipe.data.solution import safe_eval

    assert safe_eval("(((10**64)**64)**64)**64") is None
    assert safe_eval("((((10**64)**64)**64)**64)**64") is None
    assert safe_eval("9**64*9**64*9**64*9**64*9**64*9**64*9**64*9**64*9**64") is None
    assert safe_eval("+".join(["1"] * 2000)) is None
    assert safe_eval("2**10") == 1024.0
    assert safe_eval("3*4+5") == 17.0
