"""--executor ray: candidates run as Ray tasks on a local cluster, each in a sandboxed worker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from text2reward.config import RunConfig
from text2reward.errors import ConfigError
from text2reward.sandbox import ray as ray_executor
from text2reward.sandbox.job import Job

needs_ray = pytest.mark.skipif(not ray_executor.ray_installed(),
                               reason="ray is not installed (pip install 'text2reward[ray]')")
TASK = "keep the pole upright and the cart near the centre"
GOOD = ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
        "    up = np.cos(next_state.pole_angle)\n    return up, {'up': up}\n")


def test_ray_executor_without_ray_is_a_one_line_usage_error(monkeypatch):
    monkeypatch.setattr(ray_executor, "ray_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'text2reward\[ray\]'"):
        RunConfig(env="CartPole-v1", task=TASK, executor="ray").validate()
    from text2reward.cli import main

    result = CliRunner().invoke(main, ["run", "--env", "CartPole-v1", "--task", TASK,
                                       "--executor", "ray"])
    assert result.exit_code == 2
    assert "pip install 'text2reward[ray]'" in result.output


def test_unknown_executor_is_rejected():
    with pytest.raises(ConfigError, match="local or ray"):
        RunConfig(env="CartPole-v1", task=TASK, executor="slurm").validate()


def test_a_dead_ray_address_is_a_usage_error_at_once():
    from text2reward.errors import UsageError

    with pytest.raises(UsageError, match="no Ray cluster answers at 127.0.0.1:9"):
        ray_executor._check_reachable("127.0.0.1:9")  # discard port: nothing listens
    ray_executor._check_reachable("local")  # nothing to dial


@pytest.fixture(scope="module")
def executor():
    import ray

    ex = ray_executor.RayExecutor(address="local")  # never a stale cluster from RAY_ADDRESS
    yield ex
    ray.shutdown()


@needs_ray
def test_the_ray_task_runs_the_sandboxed_worker(executor, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "p.py").write_text(GOOD)
    out = tmp_path / "out"
    result = executor(Job("check", "CartPole-v1", str(source / "p.py"), str(out), timeout_s=60))
    assert result["status"] == "accepted", result
    assert result["executor"]["kind"] == "ray"
    # The report of lock_down(), which only the worker subprocess writes, after locking itself down
    assert set(result["sandbox"]) >= {"rlimits", "landlock", "seccomp"}
    assert json.loads((out / "result.json").read_text())["sandbox"] == result["sandbox"]
    assert (out / "worker.log").exists() and (out / "job.json").exists()


@needs_ray
def test_progress_is_relayed_and_a_stop_request_reaches_the_remote_worker(executor, tmp_path):
    (tmp_path / "p.py").write_text(GOOD)
    events = []

    def on_event(event):
        events.append(event)
        if event.get("event") == "progress":
            (tmp_path / "stop").touch()  # what successive halving does on the driver

    result = executor(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                          timesteps=200_000, n_envs=4, timeout_s=300), on_event)
    assert result["status"] == "trained", result
    assert result["stopped_early"] == "stopped by the run" and result["steps"] < 200_000
    assert events and all("sps" in e for e in events if e.get("event") == "progress")
    assert (tmp_path / "policy.zip").stat().st_size > 0 and (tmp_path / "episodes.npz").exists()


@needs_ray
def test_run_with_ray_executor_completes_on_a_local_cluster(tmp_path):
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # start a local cluster
    exe = Path(sys.executable).with_name("text2reward")
    proc = subprocess.run(
        [str(exe), "run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline",
         "--samples", "2", "--rounds", "1", "--timesteps", "2000", "--executor", "ray",
         "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    candidates = summary["rounds"][0]["candidates"]
    assert [c["status"] for c in candidates] == ["trained", "trained"]
    for c in candidates:
        folder = out / "rounds" / "r00" / f"c{c['index']:02d}"
        assert (folder / "policy.zip").exists() and (folder / "episodes.npz").exists()
        assert json.loads((folder / "result.json").read_text())["sandbox"]
    assert (out / "best_policy.zip").exists() and (out / "best_reward.py").exists()
