"""Candidates that duplicate evaluated ones are not trained: the same code, or a reward that
is a positive multiple of a trained one on the critic's shared transitions."""

import json

import numpy as np
from fake_openai import Say
from test_cli import TASK, t2r

from text2reward.critic.runtime import reward_signature
from text2reward.search.resume import restore


def reply(body: str) -> str:
    return ("```python\nimport numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
            f"    r = {body}\n    return r, {{'r': r}}\n```\n")


ANGLE = reply("-np.abs(next_state.pole_angle)")
RESCALED = reply("3.0 * -np.abs(next_state.pole_angle)")  # the same optimal policies
OFFSET = reply("1.0 - np.abs(next_state.pole_angle)")  # same order, but pays for surviving


def test_a_positive_multiple_of_a_trained_reward_is_not_trained(
        tmp_path, fake_openai):
    fake_openai.queue(Say([ANGLE, RESCALED, OFFSET]))
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, "--samples", "3", "--rounds", "1",
               "--workers", "1", "--keep-going", "--timesteps", "2000", "--out", str(out),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    angle, rescaled, offset = summary["rounds"][0]["candidates"]
    assert angle["status"] == "trained" and not angle["duplicate_of"]
    assert rescaled["duplicate_of"] == [0, 0] and rescaled["score"] == angle["score"]
    assert "a positive multiple of r0 c0" in rescaled["reason"]
    assert rescaled["signature"] == angle["signature"] != offset["signature"]
    assert not offset["duplicate_of"] and offset["status"] == "trained"
    assert summary["env_steps"] == angle["steps"] + offset["steps"]
    assert not (out / "rounds" / "r00" / "c01" / "policy.zip").exists()

    restored = restore(out).records[0]  # what resume would take over
    assert restored[1].result.duplicate_of == [0, 0]
    assert restored[1].result.trained and not restored[1].ranked


def test_signature_ignores_positive_rescaling_only():
    x = np.linspace(-1.0, 1.0, 50)
    assert reward_signature(x) == reward_signature(2.5 * x) == reward_signature(x * 0.1 * 10)
    assert reward_signature(x) != reward_signature(-x)  # rewards what x punishes
    assert reward_signature(x) != reward_signature(x + 3.0)  # order kept, but pays for living
    assert reward_signature(x) != reward_signature(x ** 3)
    assert reward_signature(np.full(5, 2.0)) == reward_signature(np.full(5, 7.0))
    assert reward_signature(np.full(5, 2.0)) != reward_signature(np.full(5, -2.0))
