"""Runtime critic and training in real sandboxed worker processes."""

import os

import pytest

from text2reward.sandbox.job import Job
from text2reward.sandbox.local import run_job
from text2reward.sandbox.lockdown import worker_environment

GOOD = ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
        "    up = np.cos(next_state.pole_angle)\n"
        "    c = -0.1 * np.square(next_state.cart_position)\n"
        "    return up + c, {'up': up, 'c': c}\n")


def check(tmp_path, source, env="CartPole-v1", timeout=60.0):
    (tmp_path / "p.py").write_text(source)
    return run_job(Job("check", env, str(tmp_path / "p.py"), str(tmp_path), timeout_s=timeout))


def test_valid_program_is_accepted_with_its_cost(tmp_path):
    result = check(tmp_path, GOOD)
    assert result["status"] == "accepted", result
    assert result["transitions"] > 0 and result["ms_per_call"] < 50


@pytest.mark.parametrize(
    "body, words",
    [
        ("    return next_state.cart_position[:1], {}\n", "shape"),
        ("    x = next_state.pole_angle\n    x[0] = 1.0\n    return x, {}\n", "read-only"),
        ("    return next_state.pole_angle / 0.0 * 0.0, {}\n", "NaN"),
        ("    return next_state.no_such_feature, {}\n", "no feature"),
        ("    return next_state.pole_angle, {'a': next_state.pole_angle[:2]}\n", "component 'a'"),
    ],
)
def test_runtime_critic_rejects_with_reason(tmp_path, body, words):
    result = check(tmp_path,
                   "import numpy as np\n\ndef compute_reward(state, action, next_state):\n" + body)
    assert result["status"] == "rejected"
    assert words in " ".join(result["findings"]), result


def test_constant_survival_reward_is_accepted_with_a_warning(tmp_path):
    source = ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
              "    return np.ones_like(next_state.pole_angle), {}\n")
    result = check(tmp_path, source)
    assert result["status"] == "accepted"
    assert "constant" in result["warnings"][0]


def test_hanging_program_is_stopped_by_the_call_deadline(tmp_path):
    source = "def compute_reward(state, action, next_state):\n    while True:\n        pass\n"
    result = check(tmp_path, source, timeout=30)
    assert result["status"] == "rejected"
    assert "took over 2 s" in result["findings"][0]


def test_a_worker_past_its_time_limit_is_killed(tmp_path):
    (tmp_path / "p.py").write_text(GOOD)
    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         timesteps=10_000_000, timeout_s=4))
    assert result["status"] == "failed"
    assert "time limit" in result["reason"]


def test_worker_environment_drops_api_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = worker_environment(tmp_path)
    assert "OPENAI_API_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["HOME"] == str(tmp_path)
    assert "secret" not in " ".join(env.values())


def test_training_in_a_worker_reports_progress_metrics_and_policy(tmp_path):
    (tmp_path / "p.py").write_text(GOOD)
    events = []
    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         task="balance", timesteps=2048, n_envs=4), events.append)
    assert result["status"] == "trained", result
    assert result["steps"] >= 2048
    assert result["eval"]["episodes"] == 10
    assert set(result["eval"]["components"]) == {"up", "c"}
    assert result["threshold"] == 475.0 and result["score_kind"] == "task"
    assert len(result["snapshots"]) >= 5
    assert any(e["event"] == "progress" for e in events)
    assert (tmp_path / "policy.zip").stat().st_size > 0
    assert not any(k.endswith("_KEY") for k in os.environ
                   if k in (tmp_path / "job.json").read_text())


def test_program_that_crashes_in_training_fails_with_reason(tmp_path):
    source = ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
              "    r = np.where(np.abs(next_state.pole_angle) > 0.15, np.nan, 1.0)\n"
              "    return r, {}\n")
    (tmp_path / "p.py").write_text(source)
    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         timesteps=4096, n_envs=4))
    assert result["status"] == "failed"
    assert "NaN" in result["reason"]
