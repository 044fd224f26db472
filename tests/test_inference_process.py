"""RewardModel with a process reward model: score_steps, aggregated score, as_reward_fn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from publish_support import tiny_model_folder

from rewardpipe.errors import UserError
from rewardpipe.inference import RewardModel

Q = "Tom has 3 apples and buys 2 more. How many apples does he have?"
SOL = "Tom has 3 apples.\n3 + 2 = 5\n#### 5"


def _prm_folder(folder, **meta):
    tiny_model_folder(folder, seed=2)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update({"objective": "process", "separator": "<sep>", **meta})
    path.write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def prm(tmp_path_factory):
    return RewardModel.from_pretrained(_prm_folder(tmp_path_factory.mktemp("prm")))


def test_score_steps_one_score_per_step_and_score_is_their_min(prm):
    steps = prm.score_steps(Q, SOL)
    assert len(steps) == 2  # the #### line joins the last step
    assert all(0 < s < 1 for s in steps)
    assert prm.score(Q, SOL) == pytest.approx(min(steps))
    assert prm.is_process and prm.separator == "<sep>"


def test_aggregate_override_and_reward_fn(prm):
    sols = [SOL, "3 + 2 = 6\n#### 6", "Tom has 3.\nHe buys 2.\nSo 5.\n#### 5"]
    steps = prm.score_steps_batch([Q] * 3, sols)
    for how, fn in (("last", lambda s: s[-1]), ("mean", np.mean), ("prod", np.prod), ("min", min)):
        expected = [float(fn(s)) for s in steps]
        np.testing.assert_allclose(
            prm.score_batch([Q] * 3, sols, aggregate=how), expected, rtol=1e-6
        )
        reward_fn = prm.as_reward_fn(aggregate=how)
        np.testing.assert_allclose(reward_fn([Q] * 3, sols), expected, rtol=1e-6)
    with pytest.raises(UserError, match="aggregate: expected one of min, last, prod, mean"):
        prm.as_reward_fn(aggregate="max")


def test_batching_does_not_change_step_scores(prm):
    sols = [SOL, "3 + 2 = 6\n#### 6"] * 3
    a = prm.score_steps_batch([Q] * 6, sols, batch_size=1)
    b = prm.score_steps_batch([Q] * 6, sols, batch_size=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_outcome_models_have_no_step_scores(tmp_path):
    orm = RewardModel.from_pretrained(tiny_model_folder(tmp_path / "orm"))
    assert not orm.is_process
    with pytest.raises(UserError, match="score_steps: this is an outcome reward model"):
        orm.score_steps(Q, SOL)
    with pytest.raises(UserError, match="only a process reward model aggregates"):
        orm.as_reward_fn(aggregate="min")


def test_config_objective_and_separator_are_checked(tmp_path):
    with pytest.raises(UserError, match=r"config\.json: separator: the model was trained with"):
        RewardModel.from_pretrained(_prm_folder(tmp_path / "a", separator="\n"))
    with pytest.raises(
        UserError, match=r"config\.json: objective: expected one of outcome, process"
    ):
        RewardModel.from_pretrained(_prm_folder(tmp_path / "b", objective="steps"))
