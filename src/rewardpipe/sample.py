"""The sample stage's work: `sample.n` completions per train and test question from the policy,
each labelled by final-answer match with the reference, as a candidates file (the format
`prepare.candidates_path` and `evaluate.candidates_path` read) and the policy's accuracy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from rewardpipe import policy as policy_lm
from rewardpipe import pretrained
from rewardpipe.chat_format import PromptFormat
from rewardpipe.data.candidates import label_of, reference_answer
from rewardpipe.errors import UserError
from rewardpipe.io import write_json, write_jsonl
from rewardpipe.model.decoder_weights import read_hf_json
from rewardpipe.params import PolicyParams, PrepareParams, SampleParams
from rewardpipe.policy_text import (
    decode,
    encode_prompts,
    prompt_text,
    source_splits,
    tiny_policy_folder,
)


@dataclass
class Paths:
    out: Path  # folder: candidates.jsonl (train + test) and test.jsonl (test only)
    metrics: Path  # JSON: counts and the policy's pass@1 / pass@n per split
    work: Path  # the tiny policy's tokenizer and config when policy.pretrained is null


def few_shot_text(examples: list[dict[str, Any]]) -> str:
    """Worked examples (`question\\n\\nsolution\\n\\n` each) put before every question."""
    return "".join(f"{row['question']}\n\n{row['answer']}\n\n" for row in examples)


def sample_split(
    model: policy_lm.PolicyLM,
    fmt: PromptFormat,
    rows: list[dict[str, Any]],
    sp: SampleParams,
    *,
    prefix: str,
    width: int,
    pad: int,
    eos: int,
    rng: jax.Array,
    progress: bool = False,
) -> list[list[tuple[str, bool]]]:
    """Per question, `sp.n` (text, ended with EOS) completions; batches of `sp.batch_size`
    sequences (the last one padded) of prompts left-padded to `width`: one jit shape."""
    prompts = [prompt_text(fmt, prefix + row["question"], sp.instruction) for row in rows]
    flat = [p for p in prompts for _ in range(sp.n)]
    if not flat:
        return []
    tokens, mask = encode_prompts(fmt, flat, width, pad)
    stops = tuple(sorted({eos, *model.eos_ids}))  # the tokenizer's EOS and generation_config's
    B = sp.batch_size
    out: list[tuple[str, bool]] = []
    batches = range(math.ceil(len(flat) / B))
    for i in tqdm(batches, desc="sample", disable=not progress):
        rows_i = np.arange(i * B, (i + 1) * B) % len(flat)  # wrap: a full last batch
        comp, keep = policy_lm.generate(
            model, tokens[rows_i], mask[rows_i], sp.max_new_tokens, sp.temperature, sp.top_p,
            jax.random.fold_in(rng, i), eos_ids=stops, pad_id=pad, use_cache=sp.kv_cache,
        )  # fmt: skip
        comp, keep = np.asarray(comp), np.asarray(keep)
        ended = (np.isin(comp, stops) & keep).any(axis=1)
        texts = decode(fmt, comp, keep, eos)
        out += list(zip(texts, ended.tolist(), strict=True))
    out = out[: len(flat)]
    return [out[q * sp.n : (q + 1) * sp.n] for q in range(len(rows))]


def candidate_rows(
    rows: list[dict[str, Any]], samples: list[list[tuple[str, bool]]], split: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Candidates-file rows (empty completions dropped: the format needs text) and the split's
    stats: pass@1 over every sample (an empty one is wrong), pass@n over questions."""
    out, correct, any_correct, empty, unfinished = [], 0, 0, 0, 0
    for row, completions in zip(rows, samples, strict=True):
        reference = reference_answer(str(row["answer"]))
        cands = []
        for text, ended in completions:
            unfinished += not ended
            if not text.strip():
                empty += 1
                continue
            cands.append({"text": text, "label": label_of(text, reference), "source": "policy"})
        hits = sum(c["label"] for c in cands)
        correct, any_correct = correct + hits, any_correct + (hits > 0)
        if cands:
            out.append(
                {"question": row["question"], "answer": row["answer"], "split": split,
                 "candidates": cands}
            )  # fmt: skip
    n_samples = sum(len(s) for s in samples)
    stats = {
        "questions": len(rows),
        "samples": n_samples,
        "rows_written": len(out),
        "correct": correct,
        "empty": empty,
        "unfinished": unfinished,  # no EOS within max_new_tokens
        "pass_at_1": correct / n_samples if n_samples else 0.0,
        "pass_at_n": any_correct / len(rows) if rows else 0.0,
    }
    return out, stats


def load_policy(policy: PolicyParams, sp: SampleParams, texts: list[str], work: Path):
    """(model, prompt format, hf config) from policy.pretrained, or a tiny random policy with a
    tokenizer trained on `texts`."""
    if policy.pretrained:
        folder = pretrained.resolve(policy.pretrained, policy.revision)
        hf = read_hf_json(folder / "config.json")
        model = policy_lm.load_policy(folder, compute_dtype=sp.precision)
    else:
        positions = sp.max_prompt_len + sp.max_new_tokens
        folder, hf = tiny_policy_folder(work, texts, sp.tiny_policy, positions)
        model = policy_lm.random_policy(hf, sp.seed, compute_dtype=sp.precision)
    return model, PromptFormat.from_folder(folder), hf


def run(
    pp: PrepareParams, policy: PolicyParams, sp: SampleParams, paths: Paths, *, progress=True
) -> dict[str, Any]:
    splits = source_splits(pp, "sample")
    texts = [f"{r['question']}\n\n{r['answer']}" for r in splits["train"]]
    model, fmt, hf = load_policy(policy, sp, texts, paths.work)
    eos = fmt.tokenizer.token_to_id(fmt.eos_token) if fmt.eos_token else None
    if eos is None:
        raise UserError("sample: the policy's tokenizer has no eos_token in its vocabulary")
    pad = hf.get("pad_token_id")
    pad = pad if isinstance(pad, int) else eos
    examples = splits["train"][: sp.few_shot]
    chosen = {
        "train": splits["train"][sp.few_shot :][: sp.train_questions],
        "test": splits["test"][: sp.test_questions],
    }
    prefix = few_shot_text(examples)
    prompts = [
        prompt_text(fmt, prefix + row["question"], sp.instruction)
        for rows in chosen.values()
        for row in rows
    ]
    # One prompt width for both splits (one compilation): the longest prompt, at most the limit.
    width = int(encode_prompts(fmt, prompts, sp.max_prompt_len, pad)[1].sum(axis=1).max())
    key = jax.random.key(sp.seed)
    all_rows, stats = [], {}
    for i, (name, rows) in enumerate(chosen.items()):
        samples = sample_split(
            model, fmt, rows, sp, prefix=prefix, width=width, pad=pad, eos=eos,
            rng=jax.random.fold_in(key, i), progress=progress,
        )  # fmt: skip
        out_rows, stats[name] = candidate_rows(rows, samples, name)
        all_rows += out_rows
    paths.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(paths.out / "candidates.jsonl", all_rows)
    write_jsonl(paths.out / "test.jsonl", [r for r in all_rows if r["split"] == "test"])
    metrics = {"n": sp.n, "temperature": sp.temperature, "few_shot": len(examples), **stats}
    write_json(paths.metrics, metrics)
    return metrics
