"""`text2reward export`: the best reward as a standalone package, used in plain SB3 scripts."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import offline_run, t2r


def plain_python(script: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, from a folder that holds no text2reward code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SB3_LOGDIR=str(cwd / "sb3-logs"))
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def toy_run(root: Path, samples: int) -> Path:
    offline_run(root / "run", samples, 1)
    return root / "run"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    run = toy_run(tmp_path_factory.mktemp("export"), samples=2)
    proc = t2r("export", str(run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run / "export")
    return run, run / "export"


SCRIPT = """
import json, sys
sys.path.insert(0, {export!r})
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from exported_reward import (ENV_ID, ENV_KWARGS, TRAINING, RewardVecEnvWrapper, State,
                             compute_reward, make_env)

# the Gymnasium wrapper: one env, a batch of one
env = make_env()
obs, _ = env.reset(seed=0)
single = []
for t in range(30):
    action = t % 2
    next_obs, reward, terminated, truncated, info = env.step(action)
    expected, parts = compute_reward(State(obs[None]), np.array([action]), State(next_obs[None]))
    single.append([reward, float(expected[0]), info["env_reward"],
                   sum(info["reward_components"].values())])
    obs = next_obs
    if terminated or truncated:
        obs, _ = env.reset()

# the VecEnv wrapper: train PPO on it at a toy budget, then check its rewards step by step
venv = RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=4, seed=0, env_kwargs=ENV_KWARGS))
model = PPO("MlpPolicy", venv, seed=0, **{{**TRAINING["hyperparams"], "n_steps": 64}})
model.learn(total_timesteps=512)
obs = venv.reset()
batched, dones_seen = [], 0
for _ in range(200):
    prev = np.array(obs, dtype=np.float64)
    actions, _ = model.predict(obs)
    obs, rewards, dones, infos = venv.step(actions)
    nxt = np.array(obs, dtype=np.float64)
    for i in np.flatnonzero(dones):
        nxt[i] = infos[i]["terminal_observation"]
        dones_seen += 1
    expected, _ = compute_reward(State(prev), actions, State(nxt))
    batched.append([rewards.tolist(), expected.tolist(), [i["env_reward"] for i in infos]])
print(json.dumps({{"single": single, "batched": batched, "dones": dones_seen,
                  "steps": int(model.num_timesteps),
                  "text2reward_imported": any(m.startswith("text2reward") for m in sys.modules)}}))
"""


def test_export_writes_a_standalone_package(exported):
    run, out = exported
    package = out / "exported_reward"
    assert (package / "reward.py").read_text() == (run / "best_reward.py").read_text()
    assert {"__init__.py", "features.py", "wrappers.py", "vec_env.py"} <= {
        p.name for p in package.iterdir()
    }
    assert (out / "README.md").is_file() and (out / "train_sb3.py").is_file()
    for path in package.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+text2reward", path.read_text(), re.M), path
    features = (package / "features.py").read_text()
    assert '"pole_angle": obs[:, 2]' in features and '"cart_position": obs[:, 0]' in features


def test_exported_wrappers_train_sb3_with_the_exported_reward_and_no_text2reward(
    exported, tmp_path
):
    _, out = exported
    proc = plain_python(SCRIPT.format(export=str(out)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["text2reward_imported"] is False
    assert result["steps"] >= 512 and result["dones"] > 0
    for reward, expected, _, parts in result["single"]:
        assert reward == pytest.approx(expected) and reward == pytest.approx(parts)
    assert any(abs(r[0] - r[2]) > 1e-6 for r in result["single"])  # not the env's +1 per step
    for rewards, expected, env_rewards in result["batched"]:
        assert rewards == pytest.approx(expected, rel=1e-5, abs=1e-5)  # float32 on the way out
        assert env_rewards == [1.0] * len(env_rewards)


def test_export_to_a_chosen_folder_and_of_a_bad_folder(exported, tmp_path):
    run, _ = exported
    proc = t2r("export", str(run), "--to", str(tmp_path / "mine"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "mine" / "exported_reward" / "reward.py").is_file()
    bad = t2r("export", str(tmp_path / "missing"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_exported_wrapper_trains_cartpole_to_the_balance_tasks_success(tmp_path):
    """The issue's "must show": a plain SB3 script with the exported wrapper reaches 475."""
    run = toy_run(tmp_path, samples=1)  # round 0 candidate 0: the family's default program
    proc = t2r("export", str(run))
    assert proc.returncode == 0, proc.stderr
    script = run / "export" / "train_sb3.py"
    done = plain_python(
        f"import runpy, sys\nsys.argv = ['train_sb3.py', '50000']\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "assert not any(m.startswith('text2reward') for m in sys.modules)",
        cwd=tmp_path,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr
    mean = float(re.search(r"mean env return ([\d.]+)", done.stdout).group(1))
    assert mean >= 475, done.stdout
