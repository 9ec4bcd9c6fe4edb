"""The runtime critic names the line, component and state of every failure, and probes the
states where NaN hides: at and just beyond the termination limits and observation bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from text2reward.critic.probes import termination_limits
from text2reward.critic.runtime import runtime_check
from text2reward.envs.spec import load_spec
from text2reward.program import RewardProgram

ENVS = Path(__file__).parent.parent / "envs"


def check(env: str, body: str, helpers: str = ""):
    source = ("import math\nimport numpy as np\n\n" + helpers
              + "\ndef compute_reward(state, action, next_state):\n" + body)
    return runtime_check(load_spec(env), RewardProgram.load(source), {})


def test_termination_limits_are_read_from_the_spec() -> None:
    assert termination_limits(load_spec("CartPole-v1")) == {
        "pole_angle": ([0.2095], True), "cart_position": ([2.4], True)}
    assert termination_limits(load_spec("Hopper-v5"))["torso_height"] == ([0.7], False)
    assert termination_limits(load_spec("Walker2d-v5"))["torso_height"] == ([0.8, 2.0], False)


def test_nan_beyond_the_termination_limit_is_found_and_named() -> None:
    verdict = check("CartPole-v1",
                    "    edge = np.log(1 - np.abs(next_state.cart_position) / 2.4)\n"
                    "    upright = np.cos(next_state.pole_angle)\n"
                    "    return upright + edge, {'upright': upright, 'edge': edge}\n")
    assert not verdict.accepted
    message = verdict.findings[0]
    assert "'edge'" in message and "next_state.cart_position = " in message
    assert "termination limit 2.4" in message and "np.clip" in message


def test_hopper_sqrt_below_the_healthy_height_is_found() -> None:
    pytest.importorskip("mujoco")
    verdict = check("Hopper-v5",
                    "    height = np.sqrt(next_state.torso_height - 0.7)\n"
                    "    return height, {'height': height}\n")
    assert not verdict.accepted
    assert "'height'" in verdict.findings[0] and "torso_height = 0.693" in verdict.findings[0]


def test_exceptions_name_the_source_line_and_a_fix() -> None:
    verdict = check("CartPole-v1",
                    "    r = upright(next_state.pole_angle)\n    return r, {'r': r}\n",
                    helpers="def upright(angle):\n    return math.cos(angle)\n")
    message = verdict.findings[0]
    assert "(line 5: return math.cos(angle))" in message and "np.X" in message


def test_if_on_a_batch_is_explained() -> None:
    verdict = check("CartPole-v1", "    if next_state.pole_angle > 0:\n        r = 1.0\n"
                    "    else:\n        r = 0.0\n    return r, {'r': r}\n")
    assert "np.where" in verdict.findings[0] and "line 6" in verdict.findings[0]


def test_keepdims_shape_is_explained() -> None:
    verdict = check("CartPole-v1", "    x = np.stack([next_state.pole_angle], axis=1)\n"
                    "    r = np.sum(x, axis=1, keepdims=True) + next_state.pole_angle\n"
                    "    return r, {'r': r}\n")
    assert "(8, 8)" in verdict.findings[0] and "keepdims" in verdict.findings[0]


@pytest.mark.parametrize("env, expert", [
    ("CartPole-v1", "expert_balance.py"),
    ("MountainCarContinuous-v0", None),
    ("Pendulum-v1", None),
    ("Acrobot-v1", None),
])
def test_expert_rewards_pass_the_probes(env: str, expert: str | None) -> None:
    folder = ENVS / env
    paths = [folder / expert] if expert else sorted(folder.glob("expert_*.py"))
    for path in paths:
        verdict = runtime_check(load_spec(env), RewardProgram.load(path.read_text()), {})
        assert verdict.accepted, (path.name, verdict.findings)
