"""The published bundle: writing it and checking that it is complete, consistent and loadable.

A bundle is a folder of `model.safetensors` (LoRA merged, float32), `config.json` (the model
folder's config plus format, tokenizer, max length, version, run identity, probe rewards and file
hashes), `tokenizer.json`, `README.md` (model card) and `eval.json`. No pickles; it loads with
`RewardModel.from_pretrained(folder)` and no other file.

A decoder backbone's bundle is its model folder (a transformers *ForSequenceClassification
folder: config.json, model.safetensors, or above `max_shard_bytes` (2 GB) transformers' shards
`model-0000i-of-0000n.safetensors` + `model.safetensors.index.json`, tokenizer files) plus README.md and eval.json; the bundle
fields (format, probe rewards, file hashes, version, params hash) go into config.json's
`rewardpipe` record, so transformers' AutoModelForSequenceClassification still loads it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tokenizers import Tokenizer

from rewardpipe import __version__, model_folder
from rewardpipe.encoding import special_ids
from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel
from rewardpipe.io import sha256_file
from rewardpipe.model import ModelConfig, RewardTransformer
from rewardpipe.model.decoder_weights import (
    INDEX,
    MAX_SHARD_BYTES,
    read_hf_json,
    weight_files,
    weight_map,
    write_weights,
)
from rewardpipe.model.weights import read_safetensors

FORMAT, FORMAT_VERSION = "rewardpipe-reward-model", 1
README, EVAL = "README.md", "eval.json"
FILES = (model_folder.WEIGHTS, model_folder.CONFIG, model_folder.TOKENIZER, README, EVAL)
HASHED = (
    model_folder.WEIGHTS,
    model_folder.TOKENIZER,
    EVAL,
)  # config.json cannot hold its own hash
PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib", ".npy", ".npz")
TOLERANCE = 1e-5
PROBE_BATCH = 8

# Fixed (prompt, completion) pairs whose rewards must survive export bit-for-bit (to TOLERANCE):
# short and long, correct and wrong, unicode, an empty completion and one past max_len.
PROBES: tuple[tuple[str, str], ...] = (
    ("Tom has 3 apples and buys 2 more. How many apples does he have?", "3 + 2 = 5\n#### 5"),
    ("Tom has 3 apples and buys 2 more. How many apples does he have?", "3 - 2 = 1\n#### 1"),
    (
        "A baker makes 12 loaves a day for 7 days and sells 80. How many are left?",
        "He makes 12 * 7 = <<12*7=84>>84 loaves.\nHe has 84 - 80 = <<84-80=4>>4 left.\n#### 4",
    ),
    (
        "A baker makes 12 loaves a day for 7 days and sells 80. How many are left?",
        "He makes 12 + 7 = 19 loaves.\nThe answer is 19.",
    ),
    ("Lena läuft 5 km pro Tag. Wie viele km in 4 Tagen? 🏃", "5 × 4 = 20 km\n#### 20"),
    ("What is 0 divided by 7?", ""),
    ("Sum the numbers. " + " ".join(str(i) for i in range(1, 400)), "#### 79800"),
    ("x", "The answer is " + "9" * 50 + ".\n#### -3.5"),
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_REV = re.compile(r"[0-9a-f]{40}")


def probe_scores(model: RewardModel) -> list[float]:
    """Raw rewards of `PROBES`, always scored in the same batch layout."""
    prompts, completions = zip(*PROBES, strict=True)
    return model.score_batch(list(prompts), list(completions), batch_size=PROBE_BATCH)


def probe_step_scores(model: RewardModel) -> list[list[float]] | None:
    """A process model's step scores of `PROBES` (None for an outcome model)."""
    if not model.is_process:
        return None
    prompts, completions = zip(*PROBES, strict=True)
    return model.score_steps_batch(list(prompts), list(completions), batch_size=PROBE_BATCH)


def _probe_steps(
    folder: Path, loaded: RewardModel, recorded: Any, reference: RewardModel | None
) -> float:
    """Largest step-score difference against the export's record (and `reference`)."""
    actual = probe_step_scores(loaded) or []
    shape = [len(a) for a in actual]
    if not (
        isinstance(recorded, list)
        and [len(r) if isinstance(r, list) else None for r in recorded] == shape
    ):
        raise UserError(
            f"{folder / model_folder.CONFIG}: probe.step_scores: expected the step scores of the "
            f"{len(PROBES)} probes ({shape} steps) of a process reward model, got {recorded!r}"
        )
    flat = [x for row in actual for x in row]
    worst = _probe_diff(flat, [x for row in recorded for x in row], folder, "recorded (steps)")
    if reference is not None:
        mine = [x for row in probe_step_scores(reference) or [] for x in row]
        worst = max(worst, _probe_diff(flat, mine, folder, "of the in-memory model (steps)"))
    return worst


def params_hash(sections: dict[str, Any]) -> str:
    """sha256 of the params sections as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(sections, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_info(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def bundle_config(
    source: dict[str, Any],
    tokenizer: Tokenizer,
    probes: Sequence[float],
    *,
    git_revision: str | None,
    params_sha256: str | None,
) -> dict[str, Any]:
    """The exported config.json without `files` (added once the files are written)."""
    model = ModelConfig.from_dict(source["model"])
    ids = special_ids(tokenizer)
    return {
        **{k: v for k, v in source.items() if k != "model"},  # "lora" records the merged adapters
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "max_length": model.max_len,
        "tokenizer": {
            "file": model_folder.TOKENIZER,
            "vocab_size": tokenizer.get_vocab_size(),
            "pad_id": ids.pad,
            "sep_id": ids.sep,
            "cls_id": ids.cls,
            "input": "[cls] prompt [sep] completion [sep]; a long prompt loses its start",
        },
        "rewardpipe_version": __version__,
        "git_revision": git_revision,
        "params_hash": params_sha256,
        "probe": {"n": len(PROBES), "batch_size": PROBE_BATCH, "scores": list(probes)},
    }


def write_bundle(
    folder: str | Path,
    model: RewardTransformer,
    tokenizer: Tokenizer,
    config: dict[str, Any],
    eval_metrics: dict[str, Any],
) -> dict[str, Any]:
    """Write the weights, tokenizer, eval.json and config.json (with the file hashes) into
    `folder` (an empty temp folder); returns the final config. README.md is written after."""
    folder = Path(folder)
    model_folder.save(folder, model, tokenizer, config)
    (folder / EVAL).write_text(json.dumps(eval_metrics, indent=2) + "\n", encoding="utf-8")
    full = model_folder.read_config(folder)
    full["files"] = {name: file_info(folder / name) for name in HASHED}
    text = json.dumps(full, indent=2, sort_keys=True) + "\n"
    (folder / model_folder.CONFIG).write_text(text, encoding="utf-8")
    return full


def validate(folder: str | Path, reference: RewardModel | None = None) -> dict[str, Any]:
    """Check a bundle; the first problem raises a UserError naming the file and what is wrong.

    Checks: every file present (and no pickles or strays), each file parses, the config schema,
    file hashes against config.json, the weights load into a fresh model and are finite, and the
    probe rewards equal those recorded at export (and `reference`'s, when given) to 1e-5.
    """
    start = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: bundle folder not found")
    if is_decoder_bundle(folder):
        return validate_decoder(folder, reference)
    _check_listing(folder)
    config = _read_json_object(folder / model_folder.CONFIG)
    eval_metrics = _read_json_object(folder / EVAL)
    tensors = read_safetensors(folder / model_folder.WEIGHTS)
    tokenizer = _read_tokenizer(folder / model_folder.TOKENIZER)
    _check_card(folder / README)
    model_config = check_config(config, folder / model_folder.CONFIG)
    _check_tokenizer(tokenizer, config, model_config, folder)
    _check_hashes(folder, config)
    _check_finite(tensors, folder / model_folder.WEIGHTS)
    model, tokenizer, config = model_folder.load(folder)
    loaded = RewardModel(model, tokenizer, config)
    return _probe_report(folder, loaded, config["probe"], reference, FILES, eval_metrics, start)


def _probe_report(
    folder: Path,
    loaded: RewardModel,
    probe: dict[str, Any],
    reference: RewardModel | None,
    files: Iterable[str],
    eval_metrics: dict[str, Any],
    start: float,
) -> dict[str, Any]:
    """The probe check (against the scores recorded at export and `reference`'s) and the
    validation record both bundle kinds return; a process model's step scores are checked too."""
    scores = probe_scores(loaded)
    recorded = _probe_diff(scores, probe["scores"], folder, "recorded in config.json")
    against = None
    if reference is not None:
        against = _probe_diff(scores, probe_scores(reference), folder, "of the in-memory model")
    checks = ["files", "parse", "config_schema", "hashes", "weights", "probe"]
    steps = None
    if loaded.is_process:
        steps = _probe_steps(folder, loaded, probe.get("step_scores"), reference)
        checks.append("probe_steps")
    return {
        "folder": str(folder),
        "files": {name: file_info(folder / name) for name in files},
        "checks": checks,
        "probe": {
            "n": len(scores),
            "tolerance": TOLERANCE,
            "max_abs_diff_recorded": recorded,
            "max_abs_diff_in_memory": against,
            **({"max_abs_diff_steps": steps} if steps is not None else {}),
        },
        "eval_keys": sorted(eval_metrics),
        "seconds": time.perf_counter() - start,
    }


def check_config(config: dict[str, Any], path: Path) -> ModelConfig:
    """The config.json schema; returns the model architecture."""
    need = _needs(path)
    _check_format(config, need)
    need(isinstance(config.get("model"), dict), "model", "an object (the architecture)", None)
    try:
        model = ModelConfig.from_dict(config["model"])
    except (UserError, TypeError) as exc:
        raise UserError(f"{path}: {exc}") from exc
    need(
        model.lora_rank == 0, "model.lora_rank", "0 (LoRA merged into the weights)", model.lora_rank
    )
    _check_lora_and_reward(config, need)
    max_length = config.get("max_length")
    need(max_length == model.max_len, "max_length", f"model.max_len ({model.max_len})", max_length)
    tok = config.get("tokenizer")
    need(isinstance(tok, dict), "tokenizer", "an object {file, vocab_size, pad_id, ...}", tok)
    need(
        tok.get("file") == model_folder.TOKENIZER,
        "tokenizer.file",
        repr(model_folder.TOKENIZER),
        tok.get("file"),
    )
    for key in ("vocab_size", "pad_id", "sep_id", "cls_id"):
        need(_int(tok.get(key)), f"tokenizer.{key}", "an integer", tok.get(key))
    _check_provenance(config, need)
    files = config.get("files")
    need(
        isinstance(files, dict), "files", f"an object with the sha256 of {', '.join(HASHED)}", files
    )
    _check_file_entries(files, HASHED, need)
    return model


Need = Callable[[bool, str, str, Any], None]


def _needs(path: Path, prefix: str = "") -> Need:
    """`need(ok, field, expected, value)`: raise `path: prefix+field: expected ..., got ...`."""

    def need(ok: bool, field: str, expected: str, value: Any) -> None:
        if not ok:
            raise UserError(f"{path}: {prefix}{field}: expected {expected}, got {value!r}")

    return need


def _check_format(record: dict[str, Any], need: Need) -> None:
    need(record.get("format") == FORMAT, "format", repr(FORMAT), record.get("format"))
    version = record.get("format_version")
    need(version == FORMAT_VERSION, "format_version", str(FORMAT_VERSION), version)


def _check_lora_and_reward(record: dict[str, Any], need: Need) -> None:
    lora = record.get("lora", {})
    need(isinstance(lora, dict) and lora.get("merged", True), "lora.merged", "true", lora)
    reward = record.get("reward")
    need(isinstance(reward, dict), "reward", "an object {mean, std}", reward)
    need(_finite(reward.get("mean")), "reward.mean", "a finite number", reward.get("mean"))
    std = reward.get("std")
    need(_finite(std) and std > 0, "reward.std", "a finite number > 0", std)


def _check_provenance(record: dict[str, Any], need: Need) -> None:
    """Version, git revision, params hash and the probe scores recorded at export."""
    version = record.get("rewardpipe_version")
    need(
        isinstance(version, str) and bool(version),
        "rewardpipe_version",
        "a version string",
        version,
    )
    rev = record.get("git_revision")
    need(rev is None or _match(_GIT_REV, rev), "git_revision", "null or a 40-hex commit", rev)
    digest = record.get("params_hash")
    need(digest is None or _match(_SHA256, digest), "params_hash", "null or a sha256 hex", digest)
    probe = record.get("probe")
    scores = probe.get("scores") if isinstance(probe, dict) else None
    need(
        isinstance(scores, list) and len(scores) == len(PROBES) and all(map(_finite, scores)),
        "probe.scores",
        f"a list of {len(PROBES)} finite numbers",
        scores,
    )


def _check_file_entries(files: dict[str, Any], names: Iterable[str], need: Need) -> None:
    for name in names:
        info = files.get(name)
        ok = (
            isinstance(info, dict)
            and _match(_SHA256, info.get("sha256"))
            and _int(info.get("bytes"))
        )
        need(ok, f"files.{name}", "an object {bytes, sha256}", info)


def _check_listing(folder: Path) -> None:
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path}: missing (a bundle holds {', '.join(FILES)})")
        if path.stat().st_size == 0:
            raise UserError(f"{path}: empty file")
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in FILES:
            continue  # hidden files: .gitattributes, the Hub download cache
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise UserError(f"{path}: a pickle-format file; bundles hold safetensors weights only")
        raise UserError(f"{path}: unexpected file (a bundle holds only {', '.join(FILES)})")


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path}: expected a non-empty JSON object")
    return data


def _read_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception subclasses
        raise UserError(f"{path}: not a valid tokenizers file: {exc}") from exc


def _check_card(path: Path) -> None:
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: invalid model card metadata: {exc}") from exc
    if not card.data.get("license"):
        raise UserError(f"{path}: metadata: license: expected a licence id in the YAML header")


def _check_tokenizer(
    tokenizer: Tokenizer, config: dict[str, Any], model: ModelConfig, folder: Path
) -> None:
    where = folder / model_folder.CONFIG
    recorded = config["tokenizer"]
    size = tokenizer.get_vocab_size()
    if size != recorded["vocab_size"]:
        raise UserError(
            f"{folder / model_folder.TOKENIZER}: vocabulary of {size} tokens, but {where} "
            f"tokenizer.vocab_size says {recorded['vocab_size']}"
        )
    if size > model.vocab_size:
        raise UserError(
            f"{folder / model_folder.TOKENIZER}: vocabulary of {size} tokens does not fit the model's "
            f"embedding table ({where} model.vocab_size = {model.vocab_size})"
        )
    ids = special_ids(tokenizer)
    for role in ("pad", "sep", "cls"):
        if getattr(ids, role) != recorded[f"{role}_id"]:
            raise UserError(
                f"{folder / model_folder.TOKENIZER}: {role} token id {getattr(ids, role)}, but {where} "
                f"tokenizer.{role}_id says {recorded[f'{role}_id']}"
            )


def _check_hashes(folder: Path, config: dict[str, Any], names: Sequence[str] = HASHED) -> None:
    for name in names:
        actual, recorded = file_info(folder / name), config["files"][name]
        if actual != {"bytes": recorded["bytes"], "sha256": recorded["sha256"]}:
            raise UserError(
                f"{folder / name}: content changed after export ({actual['bytes']} bytes, sha256 "
                f"{actual['sha256'][:12]}…; {folder / model_folder.CONFIG} files.{name} records "
                f"{recorded['bytes']} bytes, sha256 {recorded['sha256'][:12]}…)"
            )


def _check_finite(tensors: dict[str, np.ndarray], path: Path) -> None:
    for key, value in tensors.items():
        if not np.all(np.isfinite(value)):
            raise UserError(f"{path}: tensor {key} holds NaN or infinite values")


def _probe_diff(
    actual: Sequence[float], expected: Sequence[float], folder: Path, what: str
) -> float:
    diffs = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
    worst = int(np.argmax(diffs))
    if not diffs[worst] <= TOLERANCE:  # also catches NaN
        raise UserError(
            f"{folder / model_folder.WEIGHTS}: probe rewards differ from those {what} by up to "
            f"{diffs[worst]:.3g} (probe {worst}: {actual[worst]!r} vs {expected[worst]!r}; "
            f"tolerance {TOLERANCE:g})"
        )
    return float(diffs.max())


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _match(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


# --- decoder bundles -------------------------------------------------------------------------

DECODER_OPTIONAL = tuple(n for n in model_folder.TOKENIZER_FILES if n != model_folder.TOKENIZER)


def decoder_bundle_config(
    source: dict[str, Any],
    probes: Sequence[float],
    *,
    git_revision: str | None,
    params_sha256: str | None,
) -> dict[str, Any]:
    """A decoder bundle's `rewardpipe` record without `files`: the model folder's record plus
    the bundle fields."""
    return {
        **source,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "max_length": source["model"]["max_len"],
        "rewardpipe_version": __version__,
        "git_revision": git_revision,
        "params_hash": params_sha256,
        "probe": {"n": len(PROBES), "batch_size": PROBE_BATCH, "scores": list(probes)},
    }


def decoder_hashed(folder: Path) -> list[str]:
    """What a decoder bundle hashes: the weights (one file, or the index and its shards), every
    tokenizer file, eval.json."""
    names = [*(weight_files(folder) or [model_folder.WEIGHTS]), model_folder.TOKENIZER]
    for name in DECODER_OPTIONAL:
        path = folder / name
        if path.is_file():
            names.append(name)
        elif path.is_dir():
            names += sorted(
                p.relative_to(folder).as_posix() for p in path.rglob("*") if p.is_file()
            )
    return [*names, EVAL]


def decoder_files(folder: Path) -> list[str]:
    """Every file of a decoder bundle (relative paths)."""
    return sorted([model_folder.CONFIG, README, *decoder_hashed(folder)])


def write_decoder_bundle(
    folder: str | Path,
    model_dir: str | Path,
    record: dict[str, Any],
    eval_metrics: dict[str, Any],
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> dict[str, Any]:
    """Copy the decoder model folder `model_dir` into `folder` (an empty temp folder), write
    eval.json and config.json with `record` (plus file hashes) under the `rewardpipe` key;
    returns the final record. Weights above `max_shard_bytes` are written as transformers'
    shards + `model.safetensors.index.json`. README.md is written after."""
    folder, model_dir = Path(folder), Path(model_dir)
    _write_decoder_weights(folder, model_dir, max_shard_bytes)
    for name in (model_folder.TOKENIZER, *DECODER_OPTIONAL):
        src = model_dir / name
        if src.is_dir():
            shutil.copytree(src, folder / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copyfile(src, folder / name)
    (folder / EVAL).write_text(json.dumps(eval_metrics, indent=2) + "\n", encoding="utf-8")
    hf = _read_json_object(model_dir / model_folder.CONFIG)
    full = {**record, "files": {name: file_info(folder / name) for name in decoder_hashed(folder)}}
    hf[model_folder.RECORD] = full
    text = json.dumps(hf, indent=2, sort_keys=True) + "\n"
    (folder / model_folder.CONFIG).write_text(text, encoding="utf-8")
    return full


def _write_decoder_weights(folder: Path, model_dir: Path, max_shard_bytes: int) -> None:
    """The model folder's weights: copied when one file within `max_shard_bytes`, else read
    and (re)sharded."""
    names = weight_files(model_dir)
    single = model_dir / model_folder.WEIGHTS
    if names == [model_folder.WEIGHTS] and single.stat().st_size <= max_shard_bytes:
        shutil.copyfile(single, folder / model_folder.WEIGHTS)
        return
    if not names:
        raise UserError(f"{model_dir}: neither {model_folder.WEIGHTS} nor {INDEX} found")
    tensors: dict[str, np.ndarray] = {}
    for name in names:
        if name != INDEX:
            tensors.update(read_safetensors(model_dir / name))
    write_weights(folder, tensors, max_shard_bytes=max_shard_bytes)


def _check_index(folder: Path) -> list[tuple[Path, dict[str, np.ndarray]]]:
    """A sharded bundle's index against its shards (every tensor in the shard it names, the
    total size); returns each shard's path and tensors."""
    index = folder / INDEX
    mapping = weight_map(folder)
    meta = read_hf_json(index).get("metadata")
    total = meta.get("total_size") if isinstance(meta, dict) else None
    parts: list[tuple[Path, dict[str, np.ndarray]]] = []
    size = 0
    for shard in sorted(set(mapping.values())):
        path = folder / shard
        if not path.is_file():
            raise UserError(f"{path}: missing ({index} weight_map names it)")
        part = read_safetensors(path)
        listed = {name for name, where in mapping.items() if where == shard}
        if set(part) != listed:
            extra = sorted(set(part) ^ listed)
            raise UserError(
                f"{path}: holds other tensors than {index} weight_map assigns it "
                f"(differs in {', '.join(extra[:3])})"
            )
        parts.append((path, part))
        size += sum(int(v.nbytes) for v in part.values())
    if total != size:
        raise UserError(
            f"{index}: metadata.total_size: expected {size} (the shards' tensor bytes), got {total!r}"
        )
    return parts


def validate_decoder(folder: str | Path, reference: RewardModel | None = None) -> dict[str, Any]:
    """`validate` for a decoder bundle: files present (no pickles or strays), each parses, the
    config schema, file hashes, the weights load (finite) through `RewardModel.from_pretrained`,
    and the probe rewards equal those recorded (and `reference`'s, when given) to 1e-5."""
    start = time.perf_counter()
    folder = Path(folder)
    weights = weight_files(folder) or [model_folder.WEIGHTS]
    for name in (*weights, model_folder.CONFIG, model_folder.TOKENIZER, README, EVAL):
        path = folder / name
        if not path.is_file():
            raise UserError(
                f"{path}: missing (a decoder bundle holds {model_folder.WEIGHTS} or {INDEX} "
                f"and its shards, {model_folder.CONFIG}, the tokenizer files, {README} and {EVAL})"
            )
        if path.stat().st_size == 0:
            raise UserError(f"{path}: empty file")
    allowed = {*weights, model_folder.CONFIG, model_folder.TOKENIZER, README, EVAL}
    allowed |= set(DECODER_OPTIONAL)
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in allowed:
            continue
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise UserError(f"{path}: a pickle-format file; bundles hold safetensors weights only")
        raise UserError(f"{path}: unexpected file (not part of a decoder bundle)")
    where = folder / model_folder.CONFIG
    hf = _read_json_object(where)
    eval_metrics = _read_json_object(folder / EVAL)
    if weights[0] == INDEX:
        parts = _check_index(folder)
    else:
        path = folder / model_folder.WEIGHTS
        parts = [(path, read_safetensors(path))]
    _read_tokenizer(folder / model_folder.TOKENIZER)
    _check_card(folder / README)
    config = check_decoder_config(hf, where)
    hashed = decoder_hashed(folder)
    unrecorded = sorted(set(hashed) - set(config["files"]))
    if unrecorded:
        raise UserError(f"{folder / unrecorded[0]}: not recorded in {where} rewardpipe.files")
    for name in config["files"]:
        if not (folder / name).is_file():
            raise UserError(f"{folder / name}: missing ({where} rewardpipe.files records it)")
    _check_hashes(folder, config, names=list(config["files"]))
    for path, tensors in parts:
        _check_finite(tensors, path)
    try:
        loaded = RewardModel.from_pretrained(folder, verify=False)  # hashes checked just above
    except UserError:
        raise
    except Exception as exc:  # a shape or key mismatch inside the loader
        raise UserError(f"{folder / weights[0]}: does not load: {exc}") from exc
    files = decoder_files(folder)
    return _probe_report(folder, loaded, config["probe"], reference, files, eval_metrics, start)


def check_decoder_config(hf: dict[str, Any], path: Path) -> dict[str, Any]:
    """A decoder bundle's config.json schema; returns its `rewardpipe` record."""
    need = _needs(path)
    archs = hf.get("architectures")
    need(
        isinstance(archs, list)
        and len(archs) == 1
        and archs[0] in model_folder.ARCHITECTURES.values(),
        "architectures",
        "one *ForSequenceClassification class",
        archs,
    )
    need(hf.get("num_labels") == 1, "num_labels", "1", hf.get("num_labels"))
    need(_int(hf.get("pad_token_id")), "pad_token_id", "an integer", hf.get("pad_token_id"))
    record = hf.get(model_folder.RECORD)
    key = model_folder.RECORD
    need(isinstance(record, dict), key, "an object (rewardpipe's record)", record)
    need = _needs(path, f"{key}.")
    _check_format(record, need)
    model = record.get("model")
    need(
        isinstance(model, dict) and model.get("backbone") == "decoder",
        "model",
        "an object with backbone 'decoder'",
        model,
    )
    need(_int(model.get("max_len")), "model.max_len", "an integer", model.get("max_len"))
    need(
        model.get("pad_token_id") == hf["pad_token_id"],
        "model.pad_token_id",
        f"pad_token_id ({hf['pad_token_id']})",
        model.get("pad_token_id"),
    )
    max_length = record.get("max_length")
    need(
        max_length == model["max_len"],
        "max_length",
        f"model.max_len ({model['max_len']})",
        max_length,
    )
    _check_lora_and_reward(record, need)
    _check_provenance(record, need)
    files = record.get("files")
    need(isinstance(files, dict), "files", "an object of {bytes, sha256}", files)
    _check_file_entries(files, files, need)
    return record


def is_decoder_bundle(folder: Path) -> bool:
    """Whether `folder`'s config.json is a decoder folder's (a `rewardpipe` record)."""
    path = folder / model_folder.CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # reported by the checks
    record = config.get(model_folder.RECORD) if isinstance(config, dict) else None
    model = record.get("model") if isinstance(record, dict) else None
    return isinstance(model, dict) and model.get("backbone") == "decoder"
