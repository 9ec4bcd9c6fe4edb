"""Every curated task, of every suite and env kind, through a 2 x 2 offline search.

Flat observations (classic control), simulator features (MuJoCo), dict observations (Fetch,
Meta-World) and MiniGrid go through the same stages. The pre-screen is forced to run in round
1: stored episodes are labelled half successes, half failures, whatever their scores, so every
candidate of round 1 is judged on them and the expert's returns on them are computed, as in a
search whose first round met the threshold only sometimes.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from text2reward.analysis.trajectories import TrajectoryPool
from text2reward.batch import load_suite
from text2reward.cli import main
from text2reward.envs.spec import list_specs

TASKS = [f"{spec.env_id}:{name}" for spec in list_specs() for name in spec.tasks]
# MuJoCo's tasks (its two suites) are checked in test_every_mujoco_task.py: `make test` gives
# each test process a file at a time, and these searches are about half of the suite's time.
MUJOCO = [task.key for suite in ("mujoco", "novel") for task in load_suite(suite)]


def _add_both_labels(self, episodes):
    """TrajectoryPool.add that puts episodes alternately among successes and failures."""
    for e in episodes:
        if len(e["actions"]):
            bucket = self.success if len(self.success) <= len(self.failure) else self.failure
            bucket.append(e)


# One task per kind of state renders its rollout in the report (flat, simulator features,
# dict observation, MiniGrid); the others skip software rendering, which costs seconds.
RENDERED = {"CartPole-v1:balance", "Hopper-v5:back_flip", "FetchReach-v4:reach",
            "text2reward/MiniGrid-Empty-Random-6x6-v0:reach_goal"}


def search(out, env_id, task, *extra):
    render = [] if f"{env_id}:{task}" in RENDERED else ["--no-render"]
    result = CliRunner().invoke(main, [
        "run", "--env", env_id, "--task", task, "--model", "offline", "--samples", "2",
        "--rounds", "2", "--keep-going", "--timesteps", "512", "--out", str(out), *render,
        *extra])
    return result


@pytest.mark.parametrize("key", [key for key in TASKS if key not in MUJOCO])
def test_every_curated_task_completes_a_two_round_search_with_the_prescreen(
        key, tmp_path, monkeypatch):
    check_task(key, tmp_path, monkeypatch)


def check_task(key, tmp_path, monkeypatch):
    """A 2 x 2 offline search of the curated task ``key`` ends with every stage done."""
    env_id, _, task = key.rpartition(":")
    monkeypatch.setattr(TrajectoryPool, "add", _add_both_labels)
    out = tmp_path / "run"
    result = search(out, env_id, task)
    assert result.exit_code == 0, (result.output, (out / "error.txt").read_text()
                                   if (out / "error.txt").exists() else None)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["failure"] is None
    assert [len(r["candidates"]) for r in summary["rounds"]] == [2, 2]
    judged = [a for c in summary["rounds"][1]["candidates"] for a in c["attempts"]
              if "prescreen" in a]
    assert judged, summary["rounds"][1]
    assert all(a["prescreen"]["successes"] and a["prescreen"]["failures"] for a in judged)
    assert (out / "prescreen" / "pool_r01.npz").exists()
    assert (out / "best_reward.py").exists() and (out / "report.html").exists()
    if key in RENDERED:
        assert list(out.glob("rounds/*/*/rollout.gif")), "the best policy's rollout"


def test_a_failure_inside_the_run_is_recorded_exit_1_and_resumable(tmp_path, monkeypatch):
    def broken(self, folder):
        raise RuntimeError("stored episodes could not be read")

    monkeypatch.setattr("text2reward.analysis.screening.Screening.add", broken)
    out = tmp_path / "run"
    result = search(out, "CartPole-v1", "balance")
    assert result.exit_code == 1, result.output
    assert "error: the run failed in round 0: RuntimeError: stored episodes could not be read" \
        in result.output
    assert f"text2reward resume {out}" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["failure"]["error"] == "RuntimeError: stored episodes could not be read"
    assert "Traceback" in (out / "error.txt").read_text()
    monkeypatch.undo()
    resumed = CliRunner().invoke(main, ["resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["failure"] is None
