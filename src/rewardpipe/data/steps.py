"""Step labels for process reward models: steps are a solution's lines, and a synthesized negative
is wrong from the step its mistake changed on (Lightman et al. 2023: later steps are wrong too).

Label values: 1 correct, 0 neutral, -1 wrong. A row of `steps/{split}.jsonl` is
`{"id", "prompt", "steps": [str], "labels": [int], "source"}`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rewardpipe.data.solution import FINAL
from rewardpipe.data.split import fold, stable_id
from rewardpipe.params import NEGATIVE_KINDS

CORRECT, NEUTRAL, WRONG = 1, 0, -1


def split_steps(text: str) -> list[str]:
    """The solution's non-blank lines; a final `#### N` line joins the step before it."""
    lines = [line for line in text.rstrip().split("\n") if line.strip()]
    if len(lines) > 1 and FINAL.match(lines[-1].strip()):
        lines = [*lines[:-2], lines[-2] + "\n" + lines[-1]]
    return lines


def step_body(step: str) -> str:
    """A step without its `#### N` line (the last step carries the final answer)."""
    return "\n".join(line for line in step.split("\n") if not FINAL.match(line.strip()))


def first_changed_step(reference: str, negative: str, kind: str) -> int:
    """Index of the negative's first wrong step: the first step whose text differs from the
    reference's (`drop_step`: the step after the gap; `extra_step`: the inserted one, also when
    appended after the last; `arithmetic`/`operator`/`quantity`: the slipped one); same step
    texts mean the final answer changed (`final_answer`: the last step). `foreign`: step 0."""
    neg = split_steps(negative)
    if kind == "foreign":
        return 0
    ref = split_steps(reference)
    for i, (a, b) in enumerate(zip(ref, neg, strict=False)):
        if step_body(a) != step_body(b):
            return i
    if len(neg) > len(ref):
        return len(ref)  # steps appended after the reference's last: the first added one
    return max(len(neg) - 1, 0)  # same bodies: the final answer changed, or a prefix


def labels_from_first_error(n_steps: int, first_error: int | None) -> list[int]:
    """Correct before `first_error`, wrong from it on; all correct when it is None."""
    cut = n_steps if first_error is None else first_error
    return [CORRECT] * cut + [WRONG] * (n_steps - cut)


def first_error(labels: list[int]) -> int | None:
    """Index of the first wrong step, or None for a solution without one."""
    return next((i for i, label in enumerate(labels) if label == WRONG), None)


def _row(row_id: str, prompt: str, text: str, source: str, error: int | None) -> dict[str, Any]:
    steps = split_steps(text)
    return {
        "id": row_id,
        "prompt": prompt,
        "steps": steps,
        "labels": labels_from_first_error(len(steps), error),
        "source": source,
    }


def from_pairs(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Step rows of train/val pairs: each reference once, then every synthesized negative;
    preference and sampled pairs carry no step information and are left out."""
    rows, seen = [], set()
    for pair in pairs:
        if pair["kind"] not in NEGATIVE_KINDS:
            continue
        key = (pair["prompt"], pair["chosen"])
        if key not in seen:
            seen.add(key)
            qid = pair["id"].rsplit("-", 1)[0]
            rows.append(_row(f"{qid}-ref", pair["prompt"], pair["chosen"], "reference", None))
        error = first_changed_step(pair["chosen"], pair["rejected"], pair["kind"])
        rows.append(_row(pair["id"], pair["prompt"], pair["rejected"], pair["kind"], error))
    return rows


def from_test_sets(sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Step rows of test candidates whose step labels are known (references and negatives)."""
    rows = []
    for s in sets:
        ref = next((c["text"] for c in s["candidates"] if c["source"] == "reference"), None)
        if ref is None:
            continue
        for i, c in enumerate(s["candidates"]):
            if c["source"] == "reference":
                rows.append(_row(f"{s['id']}-{i}", s["prompt"], c["text"], "reference", None))
            elif c["source"] in NEGATIVE_KINDS:
                error = first_changed_step(ref, c["text"], c["source"])
                rows.append(_row(f"{s['id']}-{i}", s["prompt"], c["text"], c["source"], error))
    return rows


def from_items(items) -> list[dict[str, Any]]:
    """Step rows of user step-labelled solutions (`dataset: process`), labels as given."""
    rows, seen = [], Counter()
    for item in items:
        key = stable_id("q", fold(item.prompt))
        rows.append(
            {
                "id": f"{key}-{seen[key]}",
                "prompt": item.prompt,
                "steps": list(item.steps),
                "labels": list(item.labels),
                "source": "process",
            }
        )
        seen[key] += 1
    return rows


def first_error_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many solutions first go wrong at each step index (`none`: no wrong step)."""
    counts = Counter(first_error(r["labels"]) for r in rows)
    ordered = sorted(k for k in counts if k is not None)
    return ({"none": counts[None]} if None in counts else {}) | {str(k): counts[k] for k in ordered}
