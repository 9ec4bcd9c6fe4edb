"""End-to-end through the command line, at toy budgets, with real envs, workers and training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
        "    alive = np.ones_like(next_state.pole_angle)\n    return alive, {'alive': alive}\n")
TASK = "keep the pole upright and the cart near the centre"


def t2r(*args, cwd=None, env=None, timeout=600):
    exe = Path(sys.executable).with_name("text2reward")
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout)


def offline_run(out: Path, samples: int = 2, rounds: int = 2, *extra: str):
    """A toy offline CartPole run through the CLI (2,000 steps per candidate); its process."""
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline", "--samples",
               str(samples), "--rounds", str(rounds), "--timesteps", "2000", *extra,
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc


def test_offline_run_writes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", "--env", "CartPole-v1", "--task", TASK, "--model", "offline",
               "--samples", "2", "--rounds", "2", "--timesteps", "3000", "--no-early-stop",
               "--keep-going", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"run folder: {out}" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert [len(r["candidates"]) for r in summary["rounds"]] == [2, 2]
    for rnd in summary["rounds"]:
        for c in rnd["candidates"]:
            assert c["status"] == "trained" and c["code_hash"] and c["steps"] >= 3000
            assert c["attempts"][0]["accepted"] and c["wall_time_s"] > 0
            assert c["score"] is not None
    best = summary["best"]
    assert summary["success"] == {"kind": "task", "metric": summary["success"]["metric"],
                                  "threshold": 475.0}
    scores = [c["score"] for r in summary["rounds"] for c in r["candidates"]]
    assert best["score"] == max(scores)
    assert (out / "best_reward.py").read_text().startswith("import numpy as np")
    assert (out / "best_policy.zip").stat().st_size > 0
    config = json.loads((out / "config.json").read_text())
    assert config["samples"] == 2 and config["command"][:2] == ["text2reward", "run"]
    assert "--timesteps" in (out / "command.txt").read_text()
    events = [json.loads(line)["event"]
              for line in (out / "journal.jsonl").read_text().splitlines()]
    assert events.count("candidate") == 4 and "critic" in events
    assert events.count("feedback") == 1  # round 1's feedback, kept for an offline run too
    preset = json.loads((out / "rounds" / "r00" / "c00" / "preset.json").read_text())
    assert preset["algo"] == "PPO" and preset["timesteps"] == 3000 and preset["seed"] == 0
    report = (out / "report.html").read_text()
    assert "Training and evaluation protocol" in report and "Given to round 1" in report
    c0 = out / "rounds" / "r00" / "c00"
    assert ({"program.py", "critic.json", "result.json", "policy.zip"}
            <= {p.name for p in c0.iterdir()})


def test_train_with_the_envs_own_reward_reaches_475(tmp_path):
    reward = tmp_path / "alive.py"
    reward.write_text(GOOD)
    proc = t2r("train", "--env", "CartPole-v1", "--reward", str(reward), "--timesteps", "50000",
               "--out", str(tmp_path / "t"), "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["status"] == "trained" and metrics["steps"] <= 50_176
    assert metrics["eval"]["env_return"] >= 475


def test_check_exit_codes(tmp_path):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(GOOD)
    bad.write_text("import os\n\ndef compute_reward(state, action, next_state):\n"
                   "    return os.getpid(), {}\n")
    assert t2r("check", "--env", "CartPole-v1", str(good)).returncode == 0
    rejected = t2r("check", "--env", "CartPole-v1", str(bad))
    assert rejected.returncode == 1 and "line 1: import os" in rejected.stdout
    assert t2r("check", "--env", "CartPole-v1", str(tmp_path / "missing.py")).returncode == 2


def test_check_adapts_a_models_habits_as_a_run_does(tmp_path):
    habits = tmp_path / "habits.py"
    habits.write_text("import numpy as np\nfrom typing import Dict, Tuple\n\n\n"
                      "def compute_reward(self, state, action, next_state, scale: float = 1.0)"
                      " -> Tuple[np.ndarray, Dict]:\n"
                      "    return np.cos(next_state.pole_angle)\n")
    proc = t2r("check", "--env", "CartPole-v1", str(habits))
    assert proc.returncode == 0, proc.stdout
    assert "adapted before the critics, as a run adapts a model's reply:" in proc.stdout
    assert "dropped the `self` first parameter" in proc.stdout
    verdict = json.loads(t2r("check", "--env", "CartPole-v1", "--json", str(habits)).stdout)
    assert verdict["accepted"] and any("returns only the reward" in a for a in verdict["adapted"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--env", "CartPol-v1", "--task", "x", "--model", "offline"],
         "did you mean CartPole-v1"),
        (["run", "--env", "CartPole-v1", "--task", "  ", "--model", "offline"], "task is empty"),
        (["run", "--env", "CartPole-v1", "--task", TASK, "--samples", "-1"],
         "--samples must be at least 1"),
        (["run", "--env", "CartPole-v1", "--task", TASK, "--timesteps", "0"],
         "--timesteps must be positive"),
        (["run", "--env", "CartPole-v1", "--task", "make the cart dance", "--model", "offline"],
         "--model"),
        (["run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/gpt-4o-mini"],
         "OPENAI_API_KEY"),
        (["train", "--env", "CartPole-v1", "--reward", "missing.py"], "does not exist"),
        (["train", "--env", "CartPole-v1", "--reward", "broken.py"], "not valid Python"),
        (["train", "--env", "CartPole-v1", "--reward", "good.py", "--timesteps", "-5"],
         "must be positive"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_no_folder(tmp_path, args, message):
    (tmp_path / "broken.py").write_text(
        "def compute_reward(state, action, next_state)\n    return 1\n")
    (tmp_path / "good.py").write_text(GOOD)
    env = {"OPENAI_API_KEY": None}
    proc = t2r(*args, "--out", str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_envs_lists_tasks_and_shows_the_abstraction():
    listing = t2r("envs")
    assert (listing.returncode == 0 and "CartPole-v1" in listing.stdout
            and "right_half" in listing.stdout)
    shown = t2r("envs", "CartPole-v1")
    assert "pole_angle [rad]" in shown.stdout and "def " not in shown.stdout


def test_an_out_folder_that_cannot_be_created_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--model", "offline",
               "--out", str(blocker / "run"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: cannot create the run folder {blocker / 'run'}: Not a directory; "
        "choose another --out"]


def test_train_refuses_a_program_the_runtime_critic_rejects_before_training(tmp_path):
    bad = tmp_path / "nan.py"
    bad.write_text("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
                   "    r = np.log(next_state.pole_angle - 10.0)\n    return r, {'r': r}\n")
    proc = t2r("train", "--env", "CartPole-v1", "--reward", str(bad), "--timesteps", "2000",
               "--out", str(tmp_path / "t"))
    assert proc.returncode == 1, proc.stderr
    assert "rejected by the runtime critic" in proc.stderr
    assert not (tmp_path / "t" / "policy.zip").exists()


def test_run_takes_a_device_and_refuses_an_unknown_one(tmp_path):
    proc = t2r("run", "--env", "CartPole-v1", "--task", "balance", "--device", "tpu",
               "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and not (tmp_path / "run").exists()
    assert proc.stderr.strip() == "error: unknown device 'tpu'; use auto, cpu or cuda"
