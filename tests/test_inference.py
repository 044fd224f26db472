"""RewardModel: loading, batched scoring, the GRPO reward-function adapter, and score_file."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from publish_support import tiny_model_folder, write_eval

from rewardpipe import model_folder
from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel, score_file
from rewardpipe.io import sha256_file
from rewardpipe.publish import build_bundle
from rewardpipe.publish.card import CardOptions

PROMPTS = [
    "Tom has 3 apples and buys 2 more. How many apples does he have?",
    "What is 7 times 6?",
    "A baker makes 12 loaves a day for 7 days and sells 80. How many are left? " * 5,
    "x",
    "What is 7 times 6?",
]
COMPLETIONS = ["3 + 2 = 5\n#### 5", "7 * 6 = 42\n#### 42", "#### 4", "", "The answer is 41."]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_folder(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def model(folder: Path) -> RewardModel:
    return RewardModel.from_pretrained(folder)


def test_from_pretrained_equals_the_in_memory_model(folder: Path, model: RewardModel) -> None:
    net, tokenizer, config = model_folder.load(folder)
    direct = RewardModel(net, tokenizer, config)
    np.testing.assert_allclose(
        model.score_batch(PROMPTS, COMPLETIONS), direct.score_batch(PROMPTS, COMPLETIONS), atol=1e-6
    )
    assert (model.reward_mean, model.reward_std) == (0.25, 2.0)
    assert model.max_len == 64


def test_score_batch_keeps_input_order_whatever_the_batch_size(model: RewardModel) -> None:
    one_by_one = [model.score(p, c) for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]
    for batch_size in (1, 2, 3, 64):
        batched = model.score_batch(PROMPTS, COMPLETIONS, batch_size=batch_size)
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert len(set(np.round(one_by_one, 6))) > 1  # different inputs, different rewards
    assert all(isinstance(r, float) for r in one_by_one)


def test_score_batch_rejects_bad_arguments(model: RewardModel) -> None:
    assert model.score_batch([], []) == []
    with pytest.raises(UserError, match="2 prompts but 1 completions"):
        model.score_batch(["a", "b"], ["c"])
    with pytest.raises(UserError, match="batch_size"):
        model.score_batch(["a"], ["b"], batch_size=0)


def test_text_the_tokenizer_cannot_take_is_named(model: RewardModel) -> None:
    lone = "half an emoji \ud83d"
    with pytest.raises(UserError, match=r"^input 0: question: not valid Unicode text \(lone surr"):
        model.score(lone, "#### 1")
    with pytest.raises(UserError, match=r"^input 2: solution: not valid Unicode text"):
        model.score_batch(["q"] * 3, ["a", "b", lone])
    with pytest.raises(UserError, match=r"^input 1: solution: not valid Unicode text"):
        model.as_reward_fn()(["q", "q"], ["ok", [{"role": "assistant", "content": lone}]])
    with pytest.raises(UserError, match=r"^input 0: solution: expected a string, got NoneType"):
        model.score_batch(["q"], [None])  # type: ignore[list-item]


def test_from_pretrained_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="model folder not found"):
        RewardModel.from_pretrained(tmp_path / "nope")
    # a Hub id while offline (HF_HUB_OFFLINE=1): a clear error, no network
    with pytest.raises(UserError, match="could not be downloaded"):
        RewardModel.from_pretrained("rewardpipe-test/no-such-model", cache_dir=tmp_path)


@pytest.fixture(scope="module")
def bundle(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported bundle of `folder` (config.json records the file hashes)."""
    root = tmp_path_factory.mktemp("bundle")
    options = CardOptions(license="apache-2.0", model_ref="models/export", model_name="tiny-rm")
    build_bundle(
        folder, write_eval(root / "eval.json"), root / "export", options,
        git_revision=None, params_sha256=None,
    )  # fmt: skip
    return root / "export"


@pytest.mark.parametrize("name", [model_folder.WEIGHTS, model_folder.TOKENIZER])
def test_from_pretrained_checks_the_bundle_hashes(bundle: Path, tmp_path: Path, name: str) -> None:
    copy = Path(shutil.copytree(bundle, tmp_path / "export"))
    RewardModel.from_pretrained(copy)
    changed = copy / name
    if name == model_folder.WEIGHTS:
        data = bytearray(changed.read_bytes())
        data[-1] ^= 1  # one bit of the last weight
        changed.write_bytes(bytes(data))
    else:
        changed.write_text(changed.read_text() + "\n")  # still a valid tokenizer
    expected = json.loads((copy / model_folder.CONFIG).read_text())["files"][name]["sha256"]
    with pytest.raises(UserError) as info:
        RewardModel.from_pretrained(copy)
    message = str(info.value)
    assert message.startswith(f"{changed}: sha256 {sha256_file(changed)[:12]}")
    assert f"records {expected[:12]}" in message
    RewardModel.from_pretrained(copy, verify=False)


def test_as_reward_fn_signature_matches_trl_and_tunix(model: RewardModel) -> None:
    fn = model.as_reward_fn()
    params = inspect.signature(fn).parameters
    assert list(params)[:2] == ["prompts", "completions"]
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    assert fn.__name__ == "rewardpipe_reward"  # TRL logs rewards under the function name


def test_as_reward_fn_values(model: RewardModel) -> None:
    raw = model.score_batch(PROMPTS, COMPLETIONS)
    normalized = model.as_reward_fn(normalize=True, scale=3.0)(
        prompts=PROMPTS, completions=COMPLETIONS, completion_ids=[[1]] * 5, answer=["5"] * 5
    )
    expected = [3.0 * (r - 0.25) / 2.0 for r in raw]
    np.testing.assert_allclose(normalized, expected, atol=1e-6)
    plain = model.as_reward_fn(normalize=False)(PROMPTS, COMPLETIONS)
    np.testing.assert_allclose(plain, raw, atol=1e-6)
    assert isinstance(plain, list) and all(isinstance(r, float) for r in plain)


def test_as_reward_fn_accepts_chat_messages(model: RewardModel) -> None:
    """TRL's conversational format: prompts and completions are lists of messages."""
    prompts = [
        [{"role": "system", "content": "Answer with #### N."}, {"role": "user", "content": p}]
        for p in PROMPTS
    ]
    completions = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]
    fn = model.as_reward_fn(normalize=False)
    np.testing.assert_allclose(fn(prompts, completions), fn(PROMPTS, COMPLETIONS), atol=1e-6)


def test_score_file_adds_rewards_and_the_best_index(model: RewardModel, tmp_path: Path) -> None:
    rows = [
        {
            "id": "q1",
            "question": PROMPTS[0],
            "answer": "#### 5",
            "candidates": [COMPLETIONS[0], {"text": "3 - 2 = 1\n#### 1", "label": False}],
        },
        {"prompt": PROMPTS[1], "candidates": [COMPLETIONS[1], COMPLETIONS[4], "#### 43"]},
        {"question": PROMPTS[1], "completion": COMPLETIONS[1]},
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = score_file(model, src, out, batch_size=2)
    assert (summary["rows"], summary["completions"]) == (3, 6)
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert scored[0]["id"] == "q1" and scored[0]["answer"] == "#### 5"
    first = scored[0]["candidates"]
    assert first[1]["label"] is False and first[1]["text"] == "3 - 2 = 1\n#### 1"
    for row in scored[:2]:
        prompt = row.get("question", row.get("prompt"))
        rewards = [c["reward"] for c in row["candidates"]]
        expected = [model.score(prompt, c["text"]) for c in row["candidates"]]
        np.testing.assert_allclose(rewards, expected, atol=1e-5)
        assert row["best"] == int(np.argmax(rewards))
    assert scored[2]["reward"] == pytest.approx(model.score(PROMPTS[1], COMPLETIONS[1]), abs=1e-5)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"candidates": ["a"]}, r"in.jsonl:2: question"),
        ({"question": "q", "candidates": []}, r"in.jsonl:2: candidates"),
        ({"question": "q", "candidates": [{"label": True}]}, r"in.jsonl:2: candidates\[0\]"),
        ({"question": "q"}, r"in.jsonl:2: expected 'candidates'"),
        (
            {"question": "q", "candidates": ["\udc00"]},
            r"in.jsonl:2: candidates\[0\]: not valid Uni",
        ),
        ({"question": "q\ud800", "completion": "a"}, r"in.jsonl:2: question: not valid Unicode"),
        ({"question": "q", "completion": "\ud800"}, r"in.jsonl:2: completion: not valid Unicode"),
    ],
)
def test_score_file_names_the_bad_row(
    model: RewardModel, tmp_path: Path, row: dict, message: str
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = {"question": "q", "candidates": ["a"]}
    src.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=message):
        score_file(model, src, out)
    assert not out.exists()


def test_score_file_takes_a_model_path(folder: Path, model: RewardModel, tmp_path: Path) -> None:
    """The `rewardpipe score --model PATH` call: score_file loads the model itself."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"question": PROMPTS[0], "completion": COMPLETIONS[0]}) + "\n")
    score_file(str(folder), src, out)
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["reward"] == pytest.approx(model.score(PROMPTS[0], COMPLETIONS[0]), abs=1e-5)


def test_score_file_rejects_an_empty_file(model: RewardModel, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n")
    with pytest.raises(UserError, match=r"in\.jsonl: no rows"):
        score_file(model, src, tmp_path / "out.jsonl")
