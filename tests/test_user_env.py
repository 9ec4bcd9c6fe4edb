"""A user's own env from a package outside the repository (--env-module): described to the
designer, trained through the LLM path, and reused by every later command on the run."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fake_openai import Say
from test_cli import t2r

ENV = '''"""A point in the plane that moves toward a goal."""

import gymnasium as gym
import numpy as np


class PointGoalEnv(gym.Env):
    """A point moves in the plane toward a goal that is drawn at each reset.

    Observation (a dict):
    - position: the point's x and y position in metres (m)
    - goal: the goal's x and y position in metres (m)

    Action: the point's velocity along x and y, in metres per second (m/s), for 0.1 s.
    """

    def __init__(self, speed=1.0):
        self.speed = speed
        box = gym.spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({"position": box, "goal": box})
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def _obs(self):
        return {"position": self.pos.astype(np.float32), "goal": self.goal.astype(np.float32)}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = np.zeros(2)
        self.goal = self.np_random.uniform(-1.0, 1.0, size=2)
        return self._obs(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + 0.1 * self.speed * np.asarray(action), -2.0, 2.0)
        dist = float(np.linalg.norm(self.goal - self.pos))
        return self._obs(), -dist, dist < 0.05, False, {}


gym.register("PointGoal-v0", entry_point=PointGoalEnv, max_episode_steps=50)
'''
REPLY = ("Move toward the goal.\n```python\nimport numpy as np\n\n\n"
         "def compute_reward(state, action, next_state):\n"
         "    dist = np.linalg.norm(next_state.goal - next_state.position, axis=1)\n"
         "    near = -dist\n    return near, {'near': near}\n```\n")


@pytest.fixture
def user_package(tmp_path):
    """A package folder outside the repository, holding a uniquely named env module."""
    name = f"t2r_user_envs_{uuid.uuid4().hex[:8]}"
    home = tmp_path / "home"
    (home / name).mkdir(parents=True)
    (home / name / "__init__.py").write_text(ENV)
    return home, name


def test_a_users_env_module_is_recorded_and_used_by_every_later_command(tmp_path, fake_openai,
                                                                         user_package):
    home, name = user_package
    fake_openai.queue(Say(REPLY))
    out = tmp_path / "run"
    proc = t2r("run", "--env", "PointGoal-v0", "--task", "move the point onto the goal",
               "--env-module", name, "--model", "openai/fake-model",
               "--api-base", fake_openai.api_base, "--samples", "1", "--rounds", "1",
               "--timesteps", "1024", "--env-kwargs", "speed:2.0", "--out", str(out),
               cwd=home, env={"OPENAI_API_KEY": None})
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["env_module"] == name and config["env_module_path"] == str(home.resolve())
    prompt = json.dumps(fake_openai.completions[0].body["messages"])
    assert "observation entry 'position'" in prompt and "speed=2.0" in prompt
    assert "position in metres (m)" in prompt  # the env's docstring gives the units
    assert "bounds [-2, 2]" in prompt and "at most 50 steps" in prompt

    elsewhere = tmp_path / "elsewhere"  # later commands run from another folder
    elsewhere.mkdir()
    report = t2r("report", str(out), cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    exported = t2r("export", str(out), "--to", str(tmp_path / "exp"), cwd=elsewhere)
    assert exported.returncode == 0, exported.stderr
    settings = (tmp_path / "exp" / "exported_reward" / "settings.py").read_text()
    assert f"ENV_MODULE = '{name}'" in settings and "ENV_KWARGS = {'speed': 2.0}" in settings
    assert name in (tmp_path / "exp" / "README.md").read_text()  # named as a requirement
    script = ("from exported_reward import make_env\n"
              "env = make_env()\nenv.reset(seed=0)\n"
              "_, r, *_ , info = env.step(env.action_space.sample())\n"
              "print(sorted(info['reward_components']), env.unwrapped.speed)\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path / "exp", env={"PYTHONPATH": str(home), "PATH": ""})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["['near']", "2.0"]

    resumed = t2r("resume", str(out), cwd=elsewhere)  # a finished run: nothing is redone
    assert resumed.returncode == 0, resumed.stderr


def test_a_missing_env_module_says_how_it_is_found(tmp_path):
    proc = t2r("envs", "X-v0", "--env-module", "no_such_t2r_pkg", cwd=tmp_path)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert "no_such_t2r_pkg" in line and "PYTHONPATH" in line and "pip install -e" in line


def test_the_folder_a_package_is_imported_from_is_found(user_package, monkeypatch):
    home, name = user_package
    monkeypatch.syspath_prepend(str(home))
    from text2reward.envs.modules import load_env_module

    assert Path(load_env_module(name)) == home.resolve()
