"""The prepare step: raw splits -> validated, split, negatives-augmented pairs and candidate sets."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from rewardpipe.data import negatives, steps
from rewardpipe.data.candidates import Candidates, pairs_from_candidates
from rewardpipe.data.formats import Pair, Problem, resolve_columns, to_pairs, to_problems
from rewardpipe.data.process_formats import StepItem, detect_format, to_step_items
from rewardpipe.data.solution import inconsistent_annotations
from rewardpipe.data.sources import RawSplit
from rewardpipe.data.split import assign, fold, stable_id
from rewardpipe.data.tokenizer import train_bpe
from rewardpipe.errors import UserError
from rewardpipe.params import PrepareParams

SPLITS = ("train", "val", "test")


@dataclass
class Prepared:
    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    test: list[dict[str, Any]]
    tokenizer: Tokenizer
    stats: dict[str, Any]
    steps: dict[str, list[dict[str, Any]]] | None = None  # step rows per split (process objective)


@dataclass
class _Audit:
    """Validation counters that end up in stats.json."""

    skipped_rows: int = 0
    duplicates_removed: int = 0
    leakage_removed: int = 0
    inconsistent_annotations: int = 0
    overlong_rows: int = 0
    negatives_failed: int = 0
    candidates_unmatched: int = 0
    candidates_overlong: int = 0
    candidates_duplicate_rows: int = 0
    warnings: list[str] = field(default_factory=list)


def prepare(
    raw: list[RawSplit],
    params: PrepareParams,
    *,
    kind: str,
    columns: dict[str, str],
    source_hash: str,
    tokenizer: Tokenizer | None = None,
    candidates: Candidates | None = None,
    process: bool = False,
) -> Prepared:
    """Run every prepare step in memory; the stage script does the reading and writing.
    `process`: also build step-labelled rows (and their stats) for a process reward model."""
    audit = _Audit()
    items = {name: [] for name in SPLITS}
    for split in raw:
        rows = split.rows[: params.max_examples] if params.max_examples else split.rows
        if not rows:
            continue
        if kind == "process":
            converted, skipped = _step_items(rows, params, columns, split.origin)
        elif kind == "gsm8k":
            cols = resolve_columns(kind, list(rows[0].keys()), columns, split.origin)
            converted, skipped = to_problems(rows, cols, split.origin, strict=params.validate)
        else:
            cols = resolve_columns(kind, list(rows[0].keys()), columns, split.origin)
            converted, skipped = to_pairs(rows, cols, split.origin, kind, strict=params.validate)
        audit.skipped_rows += skipped
        kept = [item for item in converted if _length(item) <= params.max_chars]
        audit.overlong_rows += len(converted) - len(kept)  # dropped before any tokenizer sees them
        items[split.name if split.name in SPLITS else "train"].extend(kept)
    if not items["train"] and not items["test"]:
        raise_empty(raw)
    _assign_splits(items, params, has_test=bool(items["test"]), has_val=bool(items["val"]))
    _dedupe_and_unleak(items, audit)
    _check_not_empty(items, params)
    for split in SPLITS:
        for item in items[split]:
            if isinstance(item, Problem):
                audit.inconsistent_annotations += inconsistent_annotations(item.solution)

    out = {split: [] for split in SPLITS}
    for split in ("train", "val"):
        out[split] = _pairs(items[split], split, params, audit)
    out["test"] = _test_sets(items["test"], params, audit)
    if candidates is not None:
        _merge_candidates(out, candidates, params.max_chars, audit)
    if audit.negatives_failed:
        audit.warnings.append(f"{audit.negatives_failed} questions got fewer negatives than asked")
    if audit.inconsistent_annotations:
        audit.warnings.append(
            f"{audit.inconsistent_annotations} calculator annotations do not evaluate to their value"
        )
    if audit.overlong_rows:
        audit.warnings.append(
            f"{audit.overlong_rows} rows longer than prepare.max_chars={params.max_chars} dropped"
        )
    if audit.candidates_overlong:
        audit.warnings.append(
            f"{audit.candidates_overlong} candidates longer than prepare.max_chars="
            f"{params.max_chars} (with their question) dropped"
        )
    if audit.candidates_duplicate_rows:
        audit.warnings.append(
            f"{audit.candidates_duplicate_rows} candidates rows repeat an earlier question; merged"
        )
    if not out["train"]:
        raise UserError(
            "no training pairs left after validation; check prepare.path and prepare.dataset"
        )

    if tokenizer is None:
        tokenizer = train_bpe(_training_texts(out["train"]), params.vocab_size, params.numbers)
    stats = _stats(out, tokenizer, params, audit, source_hash, kind)
    step_rows = None
    if process and kind == "process":
        step_rows = {split: steps.from_items(items[split]) for split in SPLITS}
    elif process:
        step_rows = {
            "train": steps.from_pairs(out["train"]),
            "val": steps.from_pairs(out["val"]),
            "test": steps.from_test_sets(out["test"]),
        }
    if step_rows is not None:
        stats["process"] = _process_stats(step_rows)
    return Prepared(out["train"], out["val"], out["test"], tokenizer, stats, step_rows)


def _process_stats(step_rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Step-labelled solutions per split and where they first go wrong."""
    return {
        split: {
            "solutions": len(rows),
            "steps": sum(len(r["steps"]) for r in rows),
            "first_error": steps.first_error_counts(rows),
        }
        for split, rows in step_rows.items()
    }


def _step_items(rows, params: PrepareParams, columns: dict[str, str], origin: str):
    """Step-labelled rows (`dataset: process`): a column mapping reads them as custom rows."""
    if columns:
        fmt = "custom"
    elif params.process_format != "auto":
        fmt = params.process_format
    else:
        fmt = detect_format(list(rows[0].keys()), origin)
    return to_step_items(
        rows,
        fmt,
        origin,
        columns=columns or None,
        neutral=params.step_neutral,
        strict=params.validate,
    )


def _length(item: Problem | Pair | StepItem) -> int:
    """Characters of the prompt plus its longest response (what prepare.max_chars bounds)."""
    return len(item.prompt) + max(len(t) for t in _responses(item))


def _check_not_empty(items, params: PrepareParams) -> None:
    """Train needs val (model selection) and evaluate needs test: an empty one is an error."""
    for name, setting in (
        ("val", f"prepare.val_fraction={params.val_fraction} or prepare.split={params.split}"),
        ("test", f"prepare.split={params.split}"),
    ):
        if not items[name]:
            sizes = ", ".join(f"{n} {len(items[n])}" for n in SPLITS)
            raise UserError(
                f"prepare: the {name} split is empty ({sizes} problems); raise its share in "
                f"{setting}, or give the source a {name} split"
            )


def raise_empty(raw: list[RawSplit]) -> None:
    origins = ", ".join(s.origin for s in raw) or "(no splits)"
    raise UserError(f"{origins}: no rows to prepare")


def _responses(item: Problem | Pair | StepItem) -> tuple[str, ...]:
    if isinstance(item, Pair):
        return (item.chosen, item.rejected)
    return (item.solution,)


def _key(item: Problem | Pair) -> str:
    return fold(item.prompt + "\x00" + "\x00".join(_responses(item)))


def _assign_splits(items, params: PrepareParams, *, has_test: bool, has_val: bool) -> None:
    """Keep the source's test (and validation) split; carve the rest by prompt hash."""
    if has_test and has_val:
        return
    if has_test:
        names, fractions = ("train", "val"), (1 - params.val_fraction, params.val_fraction)
    else:
        names, fractions = SPLITS, tuple(params.split)
        if has_val:
            names, fractions = ("train", "test"), (params.split[0], params.split[2])
    pool = [it for name in names for it in items[name]]
    for name in names:
        items[name] = []
    for item in pool:
        items[assign(item.prompt, fractions, names, params.seed)].append(item)


def _dedupe_and_unleak(items, audit: _Audit) -> None:
    """Drop exact duplicates (after whitespace folding) and train/val prompts seen in test."""
    test_prompts = {fold(it.prompt) for it in items["test"]}
    for split in SPLITS:
        seen, kept = set(), []
        for item in items[split]:
            key = _key(item)
            if key in seen:
                audit.duplicates_removed += 1
                continue
            if split != "test" and fold(item.prompt) in test_prompts:
                audit.leakage_removed += 1
                continue
            seen.add(key)
            kept.append(item)
        items[split] = kept


def _rng(params: PrepareParams, prompt: str) -> random.Random:
    return random.Random(f"{params.seed}:{fold(prompt)}")


def _negatives(
    item: Problem, pool: list[str], params: PrepareParams, rng: random.Random, audit: _Audit
) -> list[tuple[str, str]]:
    """(kind, text) negatives of one problem; a shortfall is counted."""
    negs = negatives.sample_negatives(
        item.prompt, item.solution, params.negatives_per_question, params.negative_kinds, rng, pool
    )
    if len(negs) < params.negatives_per_question:
        audit.negatives_failed += 1
    return negs


def _pairs(items, split: str, params: PrepareParams, audit: _Audit) -> list[dict[str, Any]]:
    rows = _step_pairs([it for it in items if isinstance(it, StepItem)])
    pool = [it.solution for it in items if isinstance(it, Problem)]
    for item in items:
        if isinstance(item, StepItem):
            continue
        qid = stable_id("q", _key(item))  # not the prompt alone: a question may have two solutions
        if isinstance(item, Pair):
            rows.append(
                {
                    "id": stable_id("p", _key(item)),
                    "prompt": item.prompt,
                    "chosen": item.chosen,
                    "rejected": item.rejected,
                    "kind": "preference",
                }
            )
            continue
        negs = _negatives(item, pool, params, _rng(params, item.prompt), audit)
        for j, (kind, text) in enumerate(negs):
            rows.append(
                {
                    "id": f"{qid}-{j}",
                    "prompt": item.prompt,
                    "chosen": item.solution,
                    "rejected": text,
                    "kind": kind,
                }
            )
    return rows


def _by_prompt(items: list[StepItem]) -> dict[str, list[StepItem]]:
    groups: dict[str, list[StepItem]] = {}
    for item in items:
        groups.setdefault(item.prompt, []).append(item)
    return groups


def _step_pairs(items: list[StepItem]) -> list[dict[str, Any]]:
    """Every (without a wrong step, with one) solution pair of a question, for the outcome head."""
    rows = []
    for prompt, group in _by_prompt(items).items():
        good = [it for it in group if steps.first_error(list(it.labels)) is None]
        bad = [it for it in group if steps.first_error(list(it.labels)) is not None]
        qid = stable_id("q", fold(prompt))
        for j, (chosen, rejected) in enumerate((g, b) for g in good for b in bad):
            rows.append(
                {
                    "id": f"{qid}-{j}",
                    "prompt": prompt,
                    "chosen": chosen.solution,
                    "rejected": rejected.solution,
                    "kind": "process",
                }
            )
    return rows


def _test_sets(items, params: PrepareParams, audit: _Audit) -> list[dict[str, Any]]:
    sets = []
    for prompt, group in _by_prompt([it for it in items if isinstance(it, StepItem)]).items():
        candidates = [
            {
                "text": it.solution,
                "label": steps.first_error(list(it.labels)) is None,
                "source": "process",
            }
            for it in group
        ]
        sets.append(
            {
                "id": stable_id("q", fold(prompt)),
                "prompt": prompt,
                "reference": "",
                "candidates": candidates,
            }
        )
    pool = [it.solution for it in items if isinstance(it, Problem)]
    for item in items:
        if isinstance(item, StepItem):
            continue
        if isinstance(item, Pair):
            sets.append(
                {
                    "id": stable_id("p", _key(item)),
                    "prompt": item.prompt,
                    "reference": "",
                    "candidates": [
                        {"text": item.chosen, "label": True, "source": "chosen"},
                        {"text": item.rejected, "label": False, "source": "preference"},
                    ],
                }
            )
            continue
        rng = _rng(params, item.prompt)
        negs = _negatives(item, pool, params, rng, audit)
        candidates = [{"text": item.solution, "label": True, "source": "reference"}]
        candidates += [{"text": text, "label": False, "source": kind} for kind, text in negs]
        rng.shuffle(candidates)
        sets.append(
            {
                "id": stable_id("q", _key(item)),
                "prompt": item.prompt,
                "reference": item.answer,
                "candidates": candidates,
            }
        )
    return sets


def _merge_candidates(out, candidates: Candidates, max_chars: int, audit: _Audit) -> None:
    """Sampled solutions: train/val questions gain (correct, incorrect) pairs, test questions gain
    candidates; candidates over `max_chars` (with the question, as for rows) are dropped and
    questions found in no split are counted."""
    audit.candidates_duplicate_rows += candidates.duplicate_rows
    by_prompt = {split: {fold(r["prompt"]): r for r in out[split]} for split in SPLITS}
    for row in candidates.sets:
        kept = [c for c in row["candidates"] if len(row["prompt"]) + len(c["text"]) <= max_chars]
        audit.candidates_overlong += len(row["candidates"]) - len(kept)
        row = {**row, "candidates": kept}
        key = fold(row["prompt"])
        if key in by_prompt["test"]:
            target = by_prompt["test"][key]
            target["candidates"].extend(
                dict(c, source=c.get("source", "sampled")) for c in row["candidates"]
            )
            continue
        split = next((s for s in ("train", "val") if key in by_prompt[s]), None)
        if split is None:
            audit.candidates_unmatched += 1
            continue
        qid = stable_id("s", f"{key}\x00{row.get('id', '')}")  # a question may have several rows
        for j, (chosen, rejected) in enumerate(pairs_from_candidates(row)):
            out[split].append(
                {
                    "id": f"{qid}-{j}",
                    "prompt": row["prompt"],
                    "chosen": chosen,
                    "rejected": rejected,
                    "kind": "sampled",
                }
            )


def _training_texts(pairs: list[dict[str, Any]]):
    seen = set()
    for row in pairs:
        for text in (row["prompt"], row["chosen"], row["rejected"]):
            if text not in seen:
                seen.add(text)
                yield text


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 99)} | {"max": float(arr.max())}


def _stats(
    out, tokenizer: Tokenizer, params: PrepareParams, audit: _Audit, source_hash: str, kind: str
):
    counts: dict[str, Any] = {}
    for split in ("train", "val"):
        counts[split] = {
            "pairs": len(out[split]),
            "prompts": len({r["prompt"] for r in out[split]}),
            "by_kind": dict(sorted(Counter(r["kind"] for r in out[split]).items())),
        }
    counts["test"] = {
        "prompts": len(out["test"]),
        "candidates": sum(len(s["candidates"]) for s in out["test"]),
        "correct": sum(c["label"] for s in out["test"] for c in s["candidates"]),
        "by_source": dict(
            sorted(Counter(c["source"] for s in out["test"] for c in s["candidates"]).items())
        ),
    }
    texts = [r["prompt"] + "\n" + r[side] for r in out["train"] for side in ("chosen", "rejected")]
    token_lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)] if texts else []
    audit_pairs = [(r["chosen"], r["rejected"]) for r in out["train"]]
    return {
        "source": {"name": params.source, "dataset": kind, "content_sha256": source_hash},
        "counts": counts,
        "lengths": {
            "chars": _percentiles([len(t) for t in texts]),
            "tokens": _percentiles(token_lengths),
        },
        "validation": {
            "skipped_rows": audit.skipped_rows,
            "duplicates_removed": audit.duplicates_removed,
            "leakage_removed": audit.leakage_removed,
            "inconsistent_annotations": audit.inconsistent_annotations,
            "overlong_rows": audit.overlong_rows,
            "negatives_failed": audit.negatives_failed,
            "candidates_unmatched": audit.candidates_unmatched,
            "candidates_overlong": audit.candidates_overlong,
            "candidates_duplicate_rows": audit.candidates_duplicate_rows,
            "warnings": audit.warnings,
        },
        "shortcut_audit": negatives.length_audit(audit_pairs),
        "tokenizer": {"vocab_size": tokenizer.get_vocab_size()},
    }
