"""The weighted sum of named rewards GRPO optimises: the seed's rule rewards, the learned reward
model and a toy reward (share of digits, for smoke tests). A weight of 0 disables a reward."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rewardpipe import rewards
from rewardpipe.errors import UserError

RULES = {
    "format_exact": rewards.match_format_exactly,
    "format_approx": rewards.match_format_approximately,
    "answer": rewards.check_answer,
    "numbers": rewards.check_numbers,
}
REWARD_MODEL, DIGITS = "reward_model", "digits"
NAMES = (*RULES, REWARD_MODEL, DIGITS)
RewardFn = Callable[..., list[float]]


def digit_share(prompts: Sequence[str], completions: Sequence[str], **kwargs) -> list[float]:
    """Toy reward: the fraction of a completion's non-space characters that are digits."""
    out = []
    for text in completions:
        chars = [c for c in text if not c.isspace()]
        out.append(sum(c.isdigit() for c in chars) / len(chars) if chars else 0.0)
    return out


@dataclass(frozen=True)
class RewardMix:
    """Named reward functions and their weights (only the non-zero ones are kept)."""

    functions: dict[str, RewardFn]
    weights: dict[str, float]

    def __call__(
        self, prompts: Sequence[str], completions: Sequence[str], answers: Sequence[str]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(total weighted reward [N], each reward's raw values [N] by name)."""
        parts = {
            name: np.asarray(fn(list(prompts), list(completions), answer=list(answers)), np.float32)
            for name, fn in self.functions.items()
        }
        total = np.zeros(len(completions), dtype=np.float32)
        for name, values in parts.items():
            total += self.weights[name] * values
        return total, parts


def check_weights(weights: Mapping[str, float], where: str = "grpo.reward_weights") -> None:
    unknown = sorted(set(weights) - set(NAMES))
    if unknown:
        raise UserError(
            f"{where}: unknown reward(s) {', '.join(unknown)}; known: {', '.join(NAMES)}"
        )
    if not any(w != 0 for w in weights.values()):
        raise UserError(f"{where}: every weight is 0; give at least one reward a non-zero weight")


def build(
    weights: Mapping[str, float],
    *,
    answer_format: str,
    reward_model: RewardFn | None = None,
) -> RewardMix:
    """The mix for `weights`; `reward_model` (e.g. `RewardModel.as_reward_fn()`) is needed when
    its weight is non-zero."""
    check_weights(weights)
    functions: dict[str, RewardFn] = {}
    for name, weight in weights.items():
        if weight == 0:
            continue
        if name in RULES:
            functions[name] = functools.partial(RULES[name], answer_format=answer_format)
        elif name == DIGITS:
            functions[name] = digit_share
        else:
            if reward_model is None:
                raise UserError(
                    "grpo.reward_weights.reward_model is non-zero but no reward model was given "
                    "(set grpo.reward_model to a model folder)"
                )
            functions[name] = reward_model
    return RewardMix(functions, {n: float(weights[n]) for n in functions})
