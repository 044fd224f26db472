"""GRPO's pieces: group advantages, the clipped-ratio loss with its KL term, the reward mix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rewardpipe.errors import UserError
from rewardpipe.grpo import reward_mix
from rewardpipe.grpo.advantages import group_advantages
from rewardpipe.grpo.loss import grpo_loss, k3_kl


def test_advantages_are_normalised_within_each_group():
    r = np.array([1.0, 2.0, 3.0, 5.0, 5.0, 5.0])
    a = group_advantages(r, 3, eps=0.0 + 1e-8)
    np.testing.assert_allclose(a[:3], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)
    np.testing.assert_array_equal(a[3:], 0.0)  # equal rewards: no signal
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages(r, 4)


def _inputs(seed=0, b=4, length=5):
    k = jax.random.split(jax.random.key(seed), 3)
    logp = -jnp.abs(jax.random.normal(k[0], (b, length)))
    adv = jax.random.normal(k[1], (b,))
    mask = jnp.arange(length)[None] < jnp.array([5, 3, 1, 4])[:, None]
    return logp, adv, mask


def test_ratio_one_gives_the_policy_gradient_of_minus_advantage_times_logp():
    logp, adv, mask = _inputs()

    def loss(lp):
        return grpo_loss(lp, jax.lax.stop_gradient(lp), lp, adv, mask, epsilon=0.2, beta=0.0)[0]

    def reinforce(lp):
        m = mask.astype(jnp.float32)
        return (-(adv[:, None] * lp * m).sum(1) / m.sum(1)).mean()

    np.testing.assert_allclose(jax.grad(loss)(logp), jax.grad(reinforce)(logp), atol=1e-6)


def test_clipping_stops_the_gradient_beyond_one_plus_epsilon():
    old = jnp.zeros((1, 2))
    mask = jnp.ones((1, 2), bool)
    logp = jnp.log(jnp.array([[1.5, 1.1]]))  # ratios 1.5 (clipped) and 1.1 (inside)

    def loss(lp, a):
        return grpo_loss(lp, old, lp, jnp.array([a]), mask, epsilon=0.2, beta=0.0)

    g = jax.grad(lambda lp: loss(lp, 1.0)[0])(logp)
    assert g[0, 0] == 0.0 and g[0, 1] != 0.0
    # A negative advantage is not clipped above: pushing a too-likely bad token down is allowed.
    assert jax.grad(lambda lp: loss(lp, -1.0)[0])(logp)[0, 0] != 0.0
    assert float(loss(logp, 1.0)[1]["clip_fraction"]) == pytest.approx(0.5)


def test_kl_is_zero_when_policy_equals_reference_and_positive_otherwise():
    logp, adv, mask = _inputs()
    _, m = grpo_loss(logp, logp, logp, adv, mask, epsilon=0.2, beta=0.1)
    assert float(m["kl"]) == 0.0
    assert float(jnp.min(k3_kl(logp, logp - 0.3))) > 0
    _, m = grpo_loss(logp, logp, logp - 0.3, adv, mask, epsilon=0.2, beta=0.1)
    assert float(m["kl"]) > 0
    # The KL term pulls logp towards the reference: its gradient pushes down where logp > ref.
    g = jax.grad(lambda lp: grpo_loss(lp, lp, logp - 0.3, adv * 0, mask, epsilon=0.2, beta=1.0)[0])
    assert bool(jnp.all(g(logp)[mask] > 0))


def test_reward_mix_weights_and_disables_rewards():
    mix = reward_mix.build(
        {"format_exact": 1.0, "numbers": 2.0, "digits": 0.0}, answer_format="gsm8k"
    )
    assert set(mix.functions) == {"format_exact", "numbers"}
    total, parts = mix(["q", "q"], ["3 + 2 = 5\n#### 5", "no answer"], ["5", "5"])
    np.testing.assert_allclose(parts["format_exact"], [3.0, 0.0])
    np.testing.assert_allclose(parts["numbers"], [1.5, 0.0])
    np.testing.assert_allclose(total, [6.0, 0.0])
    np.testing.assert_allclose(reward_mix.digit_share([""], ["a1 2b", ""]), [0.5, 0.0])
    with pytest.raises(UserError, match="unknown reward"):
        reward_mix.build({"bogus": 1.0}, answer_format="gsm8k")
    with pytest.raises(UserError, match="every weight is 0"):
        reward_mix.build({"digits": 0.0}, answer_format="gsm8k")
    with pytest.raises(UserError, match="no reward model"):
        reward_mix.build({"reward_model": 1.0}, answer_format="gsm8k")
