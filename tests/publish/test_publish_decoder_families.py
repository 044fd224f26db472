"""After export, every decoder family's bundle is a transformers sequence-classification
checkpoint: `AutoModelForSequenceClassification.from_pretrained` (float32) gives the rewards
rewardpipe gives, on a right-padded batch tokenized by transformers' own tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from decoder_support import (
    DECODERS,
    EXTRA_ROWS,
    tiny_decoder,
    tiny_gemma3_multimodal,
    trained_decoder,
)
from publish_support import write_eval
from safetensors.numpy import load_file

from rewardpipe import model_folder
from rewardpipe.inference import RewardModel
from rewardpipe.publish import build_bundle, export
from rewardpipe.publish.card import CardOptions

torch = pytest.importorskip("torch", reason="the transformers parity check needs PyTorch")
transformers = pytest.importorskip("transformers", reason="the parity check needs transformers")
pytestmark = pytest.mark.slow  # ~10 s per family (a bundle build, two scorings)

MAX_LEN = 256  # every PAIRS text fits: transformers does not truncate the way rewardpipe does
OPTIONS = CardOptions(license="apache-2.0", model_ref="models/export", model_name="tiny-rm")
PAIRS = [
    ("Tom has 3 apples and buys 2 more. How many?", "3 + 2 = 5\n#### 5"),
    ("Tom has 3 apples and buys 2 more. How many?", "3 - 2 = 1\n#### 1"),
    ("What is 0 divided by 7?", ""),
    ("Lena läuft 5 km pro Tag. Wie viele km in 4 Tagen? 🏃", "5 × 4 = 20 km\n#### 20"),
    ("x", "He makes 12 * 7 = <<12*7=84>>84 loaves.\nHe has 84 - 80 = <<84-80=4>>4 left.\n#### 4"),
]


@pytest.fixture(scope="module", params=[*sorted(DECODERS), "gemma3-multimodal"])
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny `family` checkpoint, a perturbed-LoRA reward model from it, its model folder and
    its exported bundle (built once per family)."""
    family = request.param
    root = tmp_path_factory.mktemp(f"export-{family}")
    if family == "gemma3-multimodal":  # the text model of a Gemma3ForConditionalGeneration
        pretrained = tiny_gemma3_multimodal(root / "pretrained")
    else:
        # Llama 3's embeddings are as large as its vocabulary (no spare row to pad with).
        extra = 0 if family == "llama3" else EXTRA_ROWS
        pretrained = tiny_decoder(root / "pretrained", family, extra_rows=extra)
    model = root / "model"
    record = {"reward": {"mean": 0.5, "std": 2.0}, "train": {"steps": 1}}
    model_folder.save(
        model, trained_decoder(pretrained), None, record, pretrained=pretrained, max_len=MAX_LEN
    )
    out = root / "export"
    evals = write_eval(root / "eval.json")
    report = build_bundle(model, evals, out, OPTIONS, git_revision=None, params_sha256=None)
    return {
        "family": family,
        "pretrained": pretrained,
        "model": model,
        "eval": evals,
        "export": out,
        "report": report,
    }


def reference_rewards(folder: Path) -> tuple[np.ndarray, list[list[int]]]:
    """transformers' rewards for PAIRS: its tokenizer's chat template, right padding with the
    config's pad_token_id, one batch; and the token ids it scored."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    ids = []
    for question, solution in PAIRS:
        chat = [{"role": "user", "content": question}, {"role": "assistant", "content": solution}]
        text = tokenizer.apply_chat_template(chat, tokenize=False)
        ids.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    pad = json.loads((folder / "config.json").read_text())["pad_token_id"]
    width = max(map(len, ids))
    tokens = np.full((len(ids), width), pad, np.int64)
    mask = np.zeros((len(ids), width), np.int64)
    for row, seq in enumerate(ids):
        tokens[row, : len(seq)], mask[row, : len(seq)] = seq, 1
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(folder), local_files_only=True, dtype=torch.float32
    ).eval()
    with torch.no_grad():
        logits = model(
            input_ids=torch.from_numpy(tokens), attention_mask=torch.from_numpy(mask)
        ).logits
    assert tuple(logits.shape) == (len(PAIRS), 1)
    return logits[:, 0].numpy(), ids


def test_transformers_scores_the_export_like_rewardpipe(bundle: dict) -> None:
    out = bundle["export"]
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [model_folder.ARCHITECTURES[config["model_type"]]]
    theirs, ids = reference_rewards(out)
    assert len(set(map(len, ids))) > 1  # a padded batch
    assert max(map(len, ids)) <= MAX_LEN  # nothing truncated on rewardpipe's side
    ours = RewardModel.from_pretrained(out)
    questions, solutions = zip(*PAIRS, strict=True)
    assert [list(s) for s in ours.encoder.encode(list(questions), list(solutions))] == ids
    rewards = np.asarray(ours.score_batch(list(questions), list(solutions), batch_size=len(PAIRS)))
    assert np.abs(rewards - theirs).max() < 1e-4, (bundle["family"], rewards, theirs)
    assert np.abs(theirs).max() > 0.05  # not trivially between zeros
    assert np.ptp(theirs) > 1e-3  # the pairs score differently


def test_the_export_holds_the_merged_lora(bundle: dict) -> None:
    """Each LoRA target's exported weight differs from the pretrained one (the merge happened
    and matters), the others are copied unchanged; the probe check passed at export."""
    exported = load_file(bundle["export"] / "model.safetensors")
    base = {  # a multimodal Gemma 3's text model, in the old or the new layout
        name.replace("language_model.model.", "model.").replace(
            "model.language_model.", "model."
        ): v
        for name, v in load_file(bundle["pretrained"] / "model.safetensors").items()
    }
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    checked = 0
    for name, value in exported.items():
        if name == "score.weight":
            continue
        before = base[name]
        if name.endswith(".weight") and name.split(".")[-2] in targets:
            assert np.abs(value - before).max() > 1e-3, name
            checked += 1
        else:
            np.testing.assert_array_equal(value, before, err_msg=name)
    assert checked == 2 * 7  # 2 layers x 7 projections
    probe = bundle["report"]["probe"]
    assert probe["max_abs_diff_recorded"] <= export.TOLERANCE
    assert probe["max_abs_diff_in_memory"] <= export.TOLERANCE


def test_trl_grpo_reward_path_scores_like_rewardpipe(bundle: dict) -> None:
    """What TRL's GRPOTrainer does with `reward_funcs="<this folder>"`: AutoTokenizer of the
    folder (pad = eos when it has no pad token), `config.pad_token_id` set to the tokenizer's,
    chat-template texts tokenized with right padding and no added special tokens; rewards are
    `logits[:, 0]`. It must pool the same last token as rewardpipe."""
    out = bundle["export"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(out), local_files_only=True, dtype=torch.float32
    ).eval()
    # The export names its pad id in tokenizer_config.json, so TRL keeps it (else it pads with EOS).
    assert tokenizer.pad_token_id == json.loads((out / "config.json").read_text())["pad_token_id"]
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": s}], tokenize=False
        )
        for q, s in PAIRS
    ]
    inputs = tokenizer(
        texts, return_tensors="pt", padding=True, padding_side="right", add_special_tokens=False
    )
    with torch.no_grad():
        theirs = model(**inputs).logits[:, 0].numpy()
    ours = RewardModel.from_pretrained(out)
    questions, solutions = zip(*PAIRS, strict=True)
    rewards = np.asarray(ours.score_batch(list(questions), list(solutions)))
    assert np.abs(rewards - theirs).max() < 1e-4, (bundle["family"], rewards, theirs)


def test_a_sharded_export_scores_the_same(bundle: dict, tmp_path: Path) -> None:
    """The same model folder exported in transformers' shards (a limit of a third of its
    weights): transformers and rewardpipe load it and agree with each other and the single file."""
    limit = (bundle["model"] / "model.safetensors").stat().st_size // 3
    out = tmp_path / "export"
    build_bundle(
        bundle["model"],
        bundle["eval"],
        out,
        OPTIONS,
        git_revision=None,
        params_sha256=None,
        max_shard_bytes=limit,
    )
    assert not (out / "model.safetensors").exists()
    assert len(list(out.glob("model-*-of-*.safetensors"))) >= 2
    theirs, _ = reference_rewards(out)
    single, _ = reference_rewards(bundle["export"])
    np.testing.assert_allclose(theirs, single, atol=1e-6)
    questions, solutions = zip(*PAIRS, strict=True)
    rewards = np.asarray(
        RewardModel.from_pretrained(out).score_batch(list(questions), list(solutions))
    )
    assert np.abs(rewards - theirs).max() < 1e-4, (bundle["family"], rewards, theirs)
