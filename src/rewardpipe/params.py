"""Typed, validated params: one dataclass per section of params.yaml."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rewardpipe.errors import UserError
from rewardpipe.pretrained import is_hub_id

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
SOURCES = ("synthetic", "hub", "local")
DATASETS = ("gsm8k", "preference", "rubric", "process", "custom")
PROCESS_FORMATS = ("auto", "prm800k", "math_shepherd")  # prepare.process_format
STEP_NEUTRAL = ("correct", "wrong", "keep")  # prepare.step_neutral: what a 0-rated step becomes
NUMBERS = ("whole", "digits", "bpe")  # prepare.numbers: how the trained tokenizer splits numbers
BACKBONES = ("transformer", "bert", "decoder")
OBJECTIVES = ("outcome", "process")  # train.objective: one reward per solution | per step
PRM_AGGREGATIONS = ("min", "last", "prod", "mean")  # evaluate.prm_aggregate: steps -> one score
# Decoder modules LoRA can adapt: the attention and MLP projections (the default: all of them).
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DECODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")
PRECISIONS = ("float32", "bfloat16")
NEGATIVE_KINDS = (
    "final_answer", "arithmetic", "operator", "quantity", "extra_step", "drop_step", "foreign",
)  # fmt: skip
DEFAULT_NEGATIVE_KINDS = {
    "final_answer": 1.0,
    "arithmetic": 1.0,
    "operator": 1.0,
    "quantity": 1.0,
    "extra_step": 1.0,
    "drop_step": 1.0,
    "foreign": 0.5,
}


def check_negative_kinds(weights: Mapping[str, float]) -> None:
    """`prepare.negative_kinds`: known kinds, weights >= 0, at least one positive."""
    if not isinstance(weights, Mapping) or not weights:
        raise UserError(
            f"prepare.negative_kinds: expected a mapping kind -> weight, got {weights!r}"
        )
    for name, weight in weights.items():
        if name not in NEGATIVE_KINDS:
            raise UserError(
                f"prepare.negative_kinds: unknown kind {name!r}; expected some of {', '.join(NEGATIVE_KINDS)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
            raise UserError(
                f"prepare.negative_kinds.{name}: expected a number >= 0, got {weight!r}"
            )
    if not sum(weights.values()) > 0:
        raise UserError(f"prepare.negative_kinds: expected a positive weight, got {dict(weights)}")


def _check(
    ok: bool, section: str, key: str, expected: str, value: Any, where: str = "params.yaml"
) -> None:
    if not ok:
        raise UserError(f"{where}: {section}.{key}: expected {expected}, got {value!r}")


@dataclass(frozen=True)
class PrepareParams:
    source: str = "synthetic"
    dataset: str = "gsm8k"
    path: str | None = None
    hub_name: str = "openai/gsm8k"
    hub_config: str | None = "main"
    hub_revision: str | None = None
    custom_config: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    synthetic_train: int = 4000
    synthetic_test: int = 500
    val_fraction: float = 0.1
    split: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    negatives_per_question: int = 3
    negative_kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_NEGATIVE_KINDS))
    candidates_path: str | None = None
    validate: bool = True
    max_chars: int = 4000
    max_examples: int | None = None
    vocab_size: int = 8192
    numbers: str = "whole"
    seed: int = 0
    process_format: str = "auto"
    step_neutral: str = "correct"

    def check(self) -> None:
        s = "prepare"
        _check(
            self.process_format in PROCESS_FORMATS,
            s,
            "process_format",
            " | ".join(PROCESS_FORMATS),
            self.process_format,
        )
        _check(
            self.step_neutral in STEP_NEUTRAL,
            s,
            "step_neutral",
            " | ".join(STEP_NEUTRAL),
            self.step_neutral,
        )
        _check(self.source in SOURCES, s, "source", " | ".join(SOURCES), self.source)
        _check(self.dataset in DATASETS, s, "dataset", " | ".join(DATASETS), self.dataset)
        _check(
            self.source != "local" or bool(self.path),
            s,
            "path",
            "a file or folder when source is local",
            self.path,
        )
        _check(
            self.dataset != "custom" or bool(self.custom_config),
            s,
            "custom_config",
            "a column-mapping file when dataset is custom",
            self.custom_config,
        )
        _check(
            0 <= self.val_fraction < 1, s, "val_fraction", "a number in [0, 1)", self.val_fraction
        )
        _check(
            len(self.split) == 3
            and all(x >= 0 for x in self.split)
            and math.isclose(sum(self.split), 1.0, abs_tol=1e-6),
            s,
            "split",
            "three non-negative fractions [train, val, test] that sum to 1",
            self.split,
        )
        _check(
            self.negatives_per_question >= 1,
            s,
            "negatives_per_question",
            "an integer >= 1",
            self.negatives_per_question,
        )
        try:
            check_negative_kinds(self.negative_kinds)
        except UserError as err:
            raise UserError(f"params.yaml: {err}") from None
        _check(self.synthetic_train >= 1, s, "synthetic_train", ">= 1", self.synthetic_train)
        _check(self.synthetic_test >= 1, s, "synthetic_test", ">= 1", self.synthetic_test)
        _check(
            self.vocab_size >= 300,
            s,
            "vocab_size",
            ">= 300 (byte alphabet + merges)",
            self.vocab_size,
        )
        _check(self.numbers in NUMBERS, s, "numbers", " | ".join(NUMBERS), self.numbers)
        _check(self.max_chars >= 1, s, "max_chars", ">= 1", self.max_chars)
        _check(
            self.max_examples is None or self.max_examples >= 1,
            s,
            "max_examples",
            "null or >= 1",
            self.max_examples,
        )


@dataclass(frozen=True)
class ModelParams:
    backbone: str = "transformer"
    pretrained: str | None = None
    revision: str | None = None
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 512
    max_len: int = 256
    dropout: float = 0.0
    lora_rank: int = 0
    lora_alpha: float = 16.0
    lora_targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    remat: bool = False

    def check(self) -> None:
        s = "model"
        _check(self.backbone in BACKBONES, s, "backbone", " | ".join(BACKBONES), self.backbone)
        _check(
            self.backbone != "bert" or bool(self.pretrained),
            s,
            "pretrained",
            "a Hub id or a folder with config.json, model.safetensors, tokenizer.json when "
            "backbone is bert",
            self.pretrained,
        )
        _check(
            self.backbone != "decoder" or bool(self.pretrained),
            s,
            "pretrained",
            "a Hub id or a Hugging Face model folder (config.json, tokenizer.json, "
            "tokenizer_config.json, safetensors weights) when backbone is decoder",
            self.pretrained,
        )
        local = self.pretrained is not None and not is_hub_id(self.pretrained)
        _check(
            self.revision is None or (self.pretrained is not None and not local),
            s,
            "revision",
            "null unless model.pretrained is a Hub repo id",
            self.revision,
        )
        if self.backbone == "decoder" and local:
            missing = [f for f in DECODER_FILES if not (Path(self.pretrained) / f).is_file()]
            _check(
                not missing,
                s,
                "pretrained",
                f"a Hugging Face model folder with {', '.join(DECODER_FILES)} "
                f"(missing: {', '.join(missing)})",
                self.pretrained,
            )
        if self.backbone == "decoder":
            _check(self.dropout == 0, s, "dropout", "0 when backbone is decoder", self.dropout)
        _check(
            not self.remat or self.backbone == "decoder",
            s,
            "remat",
            "false unless backbone is decoder",
            self.remat,
        )
        _check(
            bool(self.lora_targets)
            and all(t in LORA_TARGETS for t in self.lora_targets)
            and len(set(self.lora_targets)) == len(self.lora_targets),
            s,
            "lora_targets",
            f"a non-empty list of distinct module names from {', '.join(LORA_TARGETS)}",
            self.lora_targets,
        )
        check_architecture(self)


def check_architecture(arch: Any, where: str = "params.yaml") -> None:
    """The checks on the architecture fields `ModelParams` and `ModelConfig` share."""
    s = "model"
    for key in ("d_model", "n_layers", "n_heads", "d_ff"):
        value = getattr(arch, key)
        _check(isinstance(value, int) and value >= 1, s, key, "an integer >= 1", value, where)
    _check(
        arch.d_model % arch.n_heads == 0, s, "d_model", "divisible by n_heads", arch.d_model, where
    )
    _check(arch.max_len >= 16, s, "max_len", ">= 16", arch.max_len, where)
    _check(0 <= arch.dropout < 1, s, "dropout", "in [0, 1)", arch.dropout, where)
    _check(arch.lora_rank >= 0, s, "lora_rank", ">= 0", arch.lora_rank, where)
    _check(
        arch.lora_rank == 0 or arch.lora_alpha > 0, s, "lora_alpha", "> 0", arch.lora_alpha, where
    )


@dataclass(frozen=True)
class TrainParams:
    steps: int = 1000
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    margin: float = 0.0
    center_coef: float = 0.001
    precision: str = "float32"
    eval_every: int = 200
    save_every: int = 200
    log_every: int = 10
    keep_checkpoints: int = 3
    seed: int = 0
    mesh_data: int = 0
    mesh_fsdp: int = 0
    objective: str = "outcome"
    process_pair_coef: float = 1.0

    def check(self) -> None:
        s = "train"
        _check(self.objective in OBJECTIVES, s, "objective", " | ".join(OBJECTIVES), self.objective)
        for key in ("steps", "batch_size", "grad_accum", "eval_every", "save_every", "log_every"):
            _check(getattr(self, key) >= 1, s, key, "an integer >= 1", getattr(self, key))
        _check(self.lr > 0, s, "lr", "> 0", self.lr)
        _check(self.warmup_steps >= 0, s, "warmup_steps", ">= 0", self.warmup_steps)
        _check(self.precision in PRECISIONS, s, "precision", " | ".join(PRECISIONS), self.precision)
        _check(self.weight_decay >= 0, s, "weight_decay", ">= 0", self.weight_decay)
        _check(self.grad_clip > 0, s, "grad_clip", "> 0", self.grad_clip)
        _check(self.center_coef >= 0, s, "center_coef", ">= 0", self.center_coef)
        _check(self.process_pair_coef >= 0, s, "process_pair_coef", ">= 0", self.process_pair_coef)
        _check(self.keep_checkpoints >= 1, s, "keep_checkpoints", ">= 1", self.keep_checkpoints)
        for key in ("mesh_data", "mesh_fsdp"):
            _check(
                getattr(self, key) >= 0, s, key, "an integer >= 0 (0: derived)", getattr(self, key)
            )


@dataclass(frozen=True)
class EvaluateParams:
    num_samples: int | None = None
    candidates_path: str | None = None
    partial_tolerance: float = 0.1
    vote_temperature: float = 1.0
    batch_size: int = 64
    failures: int = 50
    prm_aggregate: str = "min"

    def check(self) -> None:
        _check(
            self.prm_aggregate in PRM_AGGREGATIONS,
            "evaluate",
            "prm_aggregate",
            " | ".join(PRM_AGGREGATIONS),
            self.prm_aggregate,
        )
        s = "evaluate"
        _check(
            self.num_samples is None or self.num_samples >= 1,
            s,
            "num_samples",
            "null or >= 1",
            self.num_samples,
        )
        _check(self.partial_tolerance >= 0, s, "partial_tolerance", ">= 0", self.partial_tolerance)
        _check(self.vote_temperature > 0, s, "vote_temperature", "> 0", self.vote_temperature)
        _check(self.batch_size >= 1, s, "batch_size", ">= 1", self.batch_size)


@dataclass(frozen=True)
class PublishParams:
    push: bool = False
    repo_id: str | None = None
    private: bool = False
    commit_message: str | None = None
    license: str = "apache-2.0"
    tags: list[str] = field(default_factory=lambda: ["reward-model", "gsm8k", "jax", "flax", "dvc"])
    model_card: str | None = None
    validate_only: bool = False
    max_shard_bytes: int = 2_000_000_000  # a decoder bundle's weights above it: shards + index

    def check(self) -> None:
        _check(
            isinstance(self.max_shard_bytes, int) and self.max_shard_bytes >= 1,
            "publish",
            "max_shard_bytes",
            "an integer >= 1 (bytes per safetensors shard)",
            self.max_shard_bytes,
        )
        _check(
            not self.push or bool(self.repo_id),
            "publish",
            "repo_id",
            "a Hub repo id like user/name when push is true",
            self.repo_id,
        )


GRPO_REWARDS = ("format_exact", "format_approx", "answer", "numbers", "reward_model", "digits")
ANSWER_FORMATS = ("gsm8k", "tags")


@dataclass(frozen=True)
class PolicyParams:
    """The policy LM that `sample` and `grpo` start from: a Hub id or a Hugging Face CausalLM
    folder; null: a tiny random policy with a tokenizer trained on the questions (smoke runs)."""

    pretrained: str | None = None
    revision: str | None = None

    def check(self) -> None:
        local = self.pretrained is not None and not is_hub_id(self.pretrained)
        _check(
            self.revision is None or (self.pretrained is not None and not local),
            "policy",
            "revision",
            "null unless policy.pretrained is a Hub repo id",
            self.revision,
        )


@dataclass(frozen=True)
class GrpoParams:
    steps: int = 200
    lr: float = 1e-4
    warmup_steps: int = 0
    grad_clip: float = 1.0
    beta: float = 0.04  # KL(π‖π_ref) coefficient
    epsilon: float = 0.2  # ratio clip
    num_generations: int = 4  # completions per prompt (the group)
    num_iterations: int = 1  # optimisation passes per sampled batch (μ)
    batch_prompts: int = 4
    max_prompt_len: int = 256
    max_new_tokens: int = 256
    temperature: float = 0.9
    top_p: float = 1.0
    lora_rank: int = 16
    lora_alpha: float = 32.0
    lora_targets: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    precision: str = "float32"
    instruction: str = "\nSolve step by step; end with a last line '#### <answer>'."
    answer_format: str = "gsm8k"
    reward_weights: dict[str, float] = field(
        default_factory=lambda: {
            "format_exact": 1.0,
            "format_approx": 1.0,
            "answer": 1.0,
            "numbers": 1.0,
            "reward_model": 0.0,
            "digits": 0.0,
        }
    )
    reward_model: str | None = None  # a reward model folder (models/export, models/model)
    train_questions: int | None = None  # null: every train question
    val_questions: int = 32  # held out of train: the accuracy curve
    eval_questions: int = 100  # test questions for eval.json (before / after)
    eval_every: int = 50
    eval_batch: int = 16
    partial_tolerance: float = 0.1
    log_every: int = 10
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    tiny_policy: dict[str, int] = field(
        default_factory=lambda: {"hidden_size": 64, "layers": 2, "heads": 4, "vocab_size": 512}
    )  # policy.pretrained null: the random policy's size
    seed: int = 0

    def check(self) -> None:
        s = "grpo"
        for key in (
            "steps", "num_generations", "num_iterations", "batch_prompts", "max_prompt_len",
            "max_new_tokens", "lora_rank", "val_questions", "eval_questions", "eval_every",
            "eval_batch", "log_every", "checkpoint_every", "keep_checkpoints",
        ):  # fmt: skip
            _check(getattr(self, key) >= 1, s, key, "an integer >= 1", getattr(self, key))
        _check(
            self.num_generations >= 2, s, "num_generations", ">= 2 (a group)", self.num_generations
        )
        _check(self.lr > 0, s, "lr", "> 0", self.lr)
        _check(self.warmup_steps >= 0, s, "warmup_steps", ">= 0", self.warmup_steps)
        _check(self.grad_clip > 0, s, "grad_clip", "> 0", self.grad_clip)
        _check(self.beta >= 0, s, "beta", ">= 0", self.beta)
        _check(0 < self.epsilon < 1, s, "epsilon", "in (0, 1)", self.epsilon)
        _check(self.temperature >= 0, s, "temperature", ">= 0 (0: greedy)", self.temperature)
        _check(0 < self.top_p <= 1, s, "top_p", "in (0, 1]", self.top_p)
        _check(self.lora_alpha > 0, s, "lora_alpha", "> 0", self.lora_alpha)
        _check(self.precision in PRECISIONS, s, "precision", " | ".join(PRECISIONS), self.precision)
        _check(
            self.answer_format in ANSWER_FORMATS,
            s,
            "answer_format",
            " | ".join(ANSWER_FORMATS),
            self.answer_format,
        )
        _check(
            bool(self.lora_targets) and all(t in LORA_TARGETS for t in self.lora_targets),
            s,
            "lora_targets",
            f"a non-empty list from {', '.join(LORA_TARGETS)}",
            self.lora_targets,
        )
        unknown = sorted(set(self.reward_weights) - set(GRPO_REWARDS))
        _check(not unknown, s, "reward_weights", f"keys from {', '.join(GRPO_REWARDS)}", unknown)
        _check(
            any(w != 0 for w in self.reward_weights.values()),
            s,
            "reward_weights",
            "at least one non-zero weight",
            self.reward_weights,
        )
        _check(
            not self.reward_weights.get("reward_model") or bool(self.reward_model),
            s,
            "reward_model",
            "a reward model folder when reward_weights.reward_model is non-zero",
            self.reward_model,
        )
        _check(
            self.train_questions is None or self.train_questions >= self.batch_prompts,
            s,
            "train_questions",
            "null or >= batch_prompts",
            self.train_questions,
        )
        _check(self.partial_tolerance >= 0, s, "partial_tolerance", ">= 0", self.partial_tolerance)
        for key in ("hidden_size", "layers", "heads", "vocab_size"):
            value = self.tiny_policy.get(key)
            _check(
                isinstance(value, int) and value >= 1,
                s,
                f"tiny_policy.{key}",
                "an integer >= 1",
                value,
            )


@dataclass(frozen=True)
class SampleParams:
    """pipelines/sample: `n` solutions per question from the policy (`policy` section) for the
    first `train_questions` / `test_questions` of the prepare source's splits."""

    n: int = 4  # solutions per question
    temperature: float = 0.7  # 0: greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    max_prompt_len: int = 512  # tokens; a longer prompt keeps its end
    batch_size: int = 32  # sequences per generate call
    seed: int = 0
    few_shot: int = 0  # worked train examples before each question (taken out of the sampled ones)
    instruction: str = "\nSolve step by step; end with a last line '#### <answer>'."
    train_questions: int | None = 1000  # null: every train question
    test_questions: int | None = 200  # null: every test question
    kv_cache: bool = True
    precision: str = "float32"
    tiny_policy: dict[str, int] = field(
        default_factory=lambda: {"hidden_size": 64, "layers": 2, "heads": 4, "vocab_size": 512}
    )  # policy.pretrained null: the random policy's size

    def check(self) -> None:
        s = "sample"
        for key in ("n", "max_new_tokens", "max_prompt_len", "batch_size"):
            _check(getattr(self, key) >= 1, s, key, "an integer >= 1", getattr(self, key))
        _check(self.temperature >= 0, s, "temperature", ">= 0 (0: greedy)", self.temperature)
        _check(0 < self.top_p <= 1, s, "top_p", "in (0, 1]", self.top_p)
        _check(self.few_shot >= 0, s, "few_shot", "an integer >= 0", self.few_shot)
        for key in ("train_questions", "test_questions"):
            value = getattr(self, key)
            _check(value is None or value >= 0, s, key, "null or an integer >= 0", value)
        _check(self.precision in PRECISIONS, s, "precision", " | ".join(PRECISIONS), self.precision)
        for key in ("hidden_size", "layers", "heads", "vocab_size"):
            value = self.tiny_policy.get(key)
            _check(
                isinstance(value, int) and value >= 1,
                s,
                f"tiny_policy.{key}",
                "an integer >= 1",
                value,
            )


@dataclass(frozen=True)
class Params:
    prepare: PrepareParams = field(default_factory=PrepareParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    publish: PublishParams = field(default_factory=PublishParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    grpo: GrpoParams = field(default_factory=GrpoParams)
    sample: SampleParams = field(default_factory=SampleParams)


_CLASSES = {
    "prepare": PrepareParams,
    "model": ModelParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
    "publish": PublishParams,
    "policy": PolicyParams,
    "grpo": GrpoParams,
    "sample": SampleParams,
}


def _coerce(section: str, key: str, value: Any, hint: Any) -> Any:
    """Check a YAML value against a field's type hint; ints are accepted where floats are."""
    if value is None:
        _check(_allows_none(hint), section, key, f"a value of type {_name(hint)}", value)
        return None
    base = _strip_none(hint)
    origin = typing.get_origin(base) or base
    if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
        _check(math.isfinite(value), section, key, "a finite number", value)
        return float(value)
    if origin is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads `1e-3` (no dot) as a string
    _check(origin is not float, section, key, "a number", value)
    if origin is int:
        _check(
            isinstance(value, int) and not isinstance(value, bool),
            section,
            key,
            "an integer",
            value,
        )
        return value
    if origin is bool:
        _check(isinstance(value, bool), section, key, "true or false", value)
        return value
    if origin is str:
        _check(isinstance(value, str), section, key, "a string", value)
        return value
    if origin is list:
        _check(isinstance(value, list), section, key, "a list", value)
        (item,) = typing.get_args(base)
        return [_coerce(section, f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        _check(isinstance(value, dict), section, key, "a mapping", value)
        _, item = typing.get_args(base)
        return {k: _coerce(section, f"{key}.{k}", v, item) for k, v in value.items()}
    _check(False, section, key, _name(hint), value)
    return value


def _allows_none(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _strip_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0]
    return hint


def _name(hint: Any) -> str:
    return getattr(_strip_none(hint), "__name__", str(hint))


def section_from_dict(name: str, data: dict[str, Any] | None) -> Any:
    """Build and check one section; unknown keys are errors (typos must not pass silently)."""
    cls = _CLASSES[name]
    data = data or {}
    if not isinstance(data, dict):
        raise UserError(f"params.yaml: {name}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        keys = ", ".join(f"{name}.{k}" for k in unknown)
        raise UserError(f"params.yaml: {keys}: unknown key; known keys: {', '.join(sorted(known))}")
    values = {k: _coerce(name, k, v, hints[k]) for k, v in data.items()}
    params = cls(**values)
    params.check()
    return params


def load_section(path: str | Path, name: str) -> Any:
    """Read one section of a params file (stages read only their own sections)."""
    raw = _read(path)
    return section_from_dict(name, raw.get(name))


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and check every section."""
    raw = _read(path)
    unknown = sorted(set(raw) - set(_CLASSES))
    if unknown:
        raise UserError(f"{path}: unknown section(s) {', '.join(unknown)}")
    return Params(**{name: section_from_dict(name, raw.get(name)) for name in _CLASSES})


def _read(path: str | Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise UserError(f"{path}: params file not found") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections")
    return raw


def to_dict(params: Any) -> dict[str, Any]:
    """Plain dict of a section (for config.json and model cards)."""
    return dataclasses.asdict(params)
