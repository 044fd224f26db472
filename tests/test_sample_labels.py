"""`sample.run` keeps every completion with its own question through batching (the last batch
wraps around) and labels it against that question's reference: a fake sampler answers the
even-numbered questions of each split right and the others wrong."""

from __future__ import annotations

import json

import numpy as np

from rewardpipe import sample
from rewardpipe.data.solution import final_answer
from rewardpipe.data.sources import load_source
from rewardpipe.params import PolicyParams, PrepareParams, SampleParams

PP = PrepareParams(source="synthetic", synthetic_train=40, synthetic_test=8, seed=3)
SP = SampleParams(
    n=3, max_new_tokens=16, max_prompt_len=1024, batch_size=4, few_shot=1,
    train_questions=5, test_questions=3,
    tiny_policy={"hidden_size": 16, "layers": 1, "heads": 2, "vocab_size": 320},
)  # fmt: skip


def test_each_completion_is_labelled_against_its_own_question(tmp_path, monkeypatch):
    splits = {s.name: s.rows for s in load_source(
        PP.source, path=None, hub_name="", hub_config=None, n_train=PP.synthetic_train,
        n_test=PP.synthetic_test, seed=PP.seed)}  # fmt: skip
    chosen = {"train": splits["train"][1:6], "test": splits["test"][:3]}
    answer = {}  # question -> the completion the fake policy gives
    for rows in chosen.values():
        for i, row in enumerate(rows):
            ref = final_answer(row["answer"])
            answer[row["question"]] = f"so\n#### {ref}" if i % 2 == 0 else f"so\n#### {ref}1"
    calls = []

    def fake_generate(model, tokens, mask, max_new_tokens, temperature, top_p, rng, **kw):
        fmt = fake_generate.fmt
        eos = kw["eos_ids"][0]
        comp = np.full((tokens.shape[0], max_new_tokens), kw["pad_id"], np.int32)
        keep = np.zeros_like(comp, bool)
        for r in range(tokens.shape[0]):
            prompt = fmt.tokenizer.decode([int(t) for t in tokens[r][mask[r]]])
            found = [q for q in answer if q in prompt]
            assert len(found) == 1, (prompt, list(answer)[:2])
            (question,) = found
            ids = [*fmt.tokenizer.encode(answer[question], add_special_tokens=False).ids, eos]
            comp[r, : len(ids)], keep[r, : len(ids)] = ids, True
        calls.append(tokens.shape[0])
        return comp, keep

    real_load = sample.load_policy

    def load_policy(*args):
        model, fmt, hf = real_load(*args)
        fake_generate.fmt = fmt
        return model, fmt, hf

    monkeypatch.setattr(sample, "load_policy", load_policy)
    monkeypatch.setattr(sample.policy_lm, "generate", fake_generate)
    paths = sample.Paths(tmp_path / "out", tmp_path / "m.json", tmp_path / "work")
    metrics = sample.run(PP, PolicyParams(), SP, paths, progress=False)

    assert calls == [4] * 4 + [4] * 3  # 15 and 9 sequences in full batches of 4
    rows = [json.loads(line) for line in (paths.out / "candidates.jsonl").open()]
    assert [r["question"] for r in rows] == [r["question"] for s in chosen.values() for r in s]
    for row in rows:
        split_rows = chosen[row["split"]]
        i = [r["question"] for r in split_rows].index(row["question"])
        assert row["answer"] == split_rows[i]["answer"]
        assert [c["text"] for c in row["candidates"]] == [answer[row["question"]]] * 3
        assert [c["label"] for c in row["candidates"]] == [i % 2 == 0] * 3
    assert metrics["train"]["correct"] == 9 and metrics["test"]["correct"] == 6
    assert metrics["train"]["pass_at_n"] == 3 / 5 and metrics["test"]["pass_at_1"] == 6 / 9
    assert metrics["train"]["unfinished"] == 0
    assert json.loads(paths.metrics.read_text()) == metrics
