"""Trajectory preference pre-screen, reward comparison, and hacking named on a real training."""

import json

import numpy as np
from fake_openai import Say, cartpole_reply
from test_cli import TASK, t2r

from text2reward.analysis.prescreen import judge, spearman
from text2reward.analysis.reflection import findings
from text2reward.analysis.trajectories import TrajectoryPool, load_episodes, save_episodes
from text2reward.sandbox.job import Job
from text2reward.sandbox.local import run_job

FAIL_PAYS = ("Here you go.\n```python\nimport numpy as np\n\n\n"
             "def compute_reward(state, action, next_state):\n"
             "    cost = -1.0 - 0.1 * np.abs(next_state.pole_angle)\n"
             "    return cost, {'cost': cost}\n```\n")


def episode(length, score, terminated=True):
    return {"obs": np.zeros((length + 1, 4)), "actions": np.zeros(length, dtype=int),
            "score": float(score), "terminated": terminated}


def test_judge_rejects_a_reward_that_ranks_failures_first_and_names_the_pair():
    eps = [episode(500, 500, False), episode(480, 480, False), episode(20, 20), episode(9, 9)]
    labels = np.array([True, True, False, False])
    verdict = judge([-500, -480, -20, -9], eps, labels)
    assert not verdict["passed"] and verdict["accuracy"] == 0.0
    assert "successful episode (task score 500" in verdict["message"]
    assert "failed episode (task score 9" in verdict["message"]
    assert judge([500, 480, 20, 9], eps, labels)["passed"]


def test_pool_keeps_both_labels_capped_and_round_trips(tmp_path):
    pool = TrajectoryPool(threshold=475, cap=3)
    pool.add([episode(n, n) for n in (10, 20, 30, 40, 500, 499, 498, 497)])
    assert len(pool.success) == 3 and len(pool.failure) == 3 and pool.ready
    save_episodes(tmp_path / "p.npz", pool.episodes())
    back = load_episodes(tmp_path / "p.npz")
    assert [e["score"] for e in back] == [e["score"] for e in pool.episodes()]


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_reward_paying_for_speed_is_named_hacking_on_a_real_training(tmp_path):
    (tmp_path / "p.py").write_text(
        "import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
        "    speed = 10.0 * np.abs(next_state.cart_velocity)\n    return speed, {'speed': speed}\n")
    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         task="balance", timesteps=20000))
    assert result["status"] == "trained"
    found = findings(result)
    hacking = [f for f in found if f["kind"] == "reward_hacking"]
    assert hacking, found
    assert "task score went from" in hacking[0]["evidence"]


def test_prescreen_rejects_before_training_and_counts_the_saving(tmp_path, fake_openai):
    # Round 0 trains two good programs (their episodes fill the pool); round 1's first sample
    # pays -1 per step, so failing fast earns most: the pre-screen must reject it untrained.
    fake_openai.queue(Say([cartpole_reply(0), cartpole_reply(1)]),
                      Say([FAIL_PAYS, cartpole_reply(2)]))
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, "--samples", "2", "--rounds", "2",
               "--keep-going", "--timesteps", "6000", "--out", str(out),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["prescreen"]["rejections"] >= 1 and summary["prescreen"]["trainings_saved"] >= 1
    bad = summary["rounds"][1]["candidates"][0]
    assert bad["attempts"][0]["stage"] == "prescreen" and not bad["attempts"][0]["accepted"]
    repair_prompt = fake_openai.completions[2].body["messages"][-1]["content"]
    assert "ranks success above failure" in repair_prompt
    good = summary["rounds"][1]["candidates"][1]["attempts"][0]
    assert good["prescreen"]["passed"] and good["correlation"]["success"] > 0.5
